"""Settings of the deployment-shape site: a ``base.py`` and a ``prod.py`` in one module.

The shared test settings (the "base") already call ``secret_keys()``; this module calls it again
with the production options, as a ``prod.py`` that star-imports its base does. The last call
wins: its cache is the one refreshed. The TTL comes from ``SKR_TTL`` so that a server started by a
test refreshes within the test's deadline.
"""

from __future__ import annotations

import os
from pathlib import Path

from tests.django.project.settings import *  # noqa: F403 - the "base.py" of a base/prod pair
from tests.django.project.settings import INSTALLED_APPS, secret_keys

SECRET_KEY, SECRET_KEY_FALLBACKS = secret_keys(
    ttl=float(os.environ.get("SKR_TTL", "300")), jitter=0.0
)

ROOT_URLCONF = "tests.deploy.site.urls"
# The site itself is an app, for its management command (sign_token).
INSTALLED_APPS = [*INSTALLED_APPS, "django.contrib.staticfiles", "tests.deploy.site"]
STATIC_URL = "static/"
STATICFILES_DIRS = [Path(__file__).resolve().parent / "static"]
STATIC_ROOT = os.environ.get("SKR_STATIC_ROOT")
