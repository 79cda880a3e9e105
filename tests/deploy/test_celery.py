"""A Celery worker serves no request: its ``task_prerun`` hook applies a rotation.

The worker is real (``celery worker``, prefork pool, so the keyring is loaded in the parent and
refreshed in the forked child) on kombu's ``filesystem://`` transport, which needs no broker server.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devservers.processes import Process
from tests.deploy.conftest import (
    REFRESH_TIMEOUT,
    REPO,
    START_TIMEOUT,
    KeyringFile,
    celery_worker_command,
    signed_with,
    site_environ,
    until_signed_with,
)

pytestmark = pytest.mark.slow

celery = pytest.importorskip("celery")


@pytest.fixture
def worker(tmp_path: Path, keyring_file: KeyringFile) -> Iterator[Any]:
    """A prefork worker of the deployment-shape site, and the producer app that talks to it."""
    from tests.deploy.site.celery_config import make_app

    folder = tmp_path / "celery"
    producer = make_app(folder)
    process = Process(
        celery_worker_command(),
        tmp_path / "worker.log",
        site_environ(keyring_file, SKR_CELERY_DIR=str(folder)),
        REPO,
    )
    try:
        yield producer, process
    finally:
        # A warm shutdown waits out the pool's and the transport's polling (about 5 s); the
        # worker holds nothing worth a graceful stop, so it gets a moment, then SIGKILL.
        process.stop(timeout=1.0)
        producer.close()


def _sign(producer: Any, value: str, timeout: float) -> dict[str, str]:
    result = producer.send_task("deploy.sign", args=[value])
    answer: dict[str, str] = result.get(timeout=timeout, interval=0.02)
    return answer


def test_a_task_signs_with_the_new_key_after_a_rotation(
    worker: Any, keyring_file: KeyringFile
) -> None:
    producer, process = worker
    old = keyring_file.stored()
    # Readiness: the first task's answer (the worker starts consuming when it is up).
    first = _sign(producer, "before", START_TIMEOUT)
    assert signed_with(old, first), process.tail()

    new = keyring_file.rotate()
    # No request ever reaches this process: only task_prerun can bring the new key. The first
    # task past the TTL starts the background refresh; a later one signs with the new key.
    until_signed_with(new, lambda: _sign(producer, "after", REFRESH_TIMEOUT))
    assert old.current in new.fallbacks  # what the worker signed before still verifies
