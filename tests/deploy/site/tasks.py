"""The Celery app of the deployment-shape site, set up as Celery's Django guide does.

A worker runs ``celery -A tests.deploy.site.tasks worker`` with ``SKR_CELERY_DIR`` naming the
folder of its queue and results (see ``celery_config``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from tests.deploy.site.celery_config import make_app

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.deploy.site.settings")

app = make_app(Path(os.environ["SKR_CELERY_DIR"]))


@app.task(name="deploy.sign")
def sign(value: str) -> dict[str, Any]:
    """Sign ``value`` with the worker's ``SECRET_KEY`` (what a task that mails a link does)."""
    from django.conf import settings
    from django.core import signing

    from secret_keyring.keyring import fingerprint

    return {"signed": signing.dumps(value), "current": fingerprint(settings.SECRET_KEY)}
