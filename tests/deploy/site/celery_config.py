"""Celery configuration of the deployment-shape site: no broker server.

The broker is kombu's ``filesystem://`` transport and results go to files, so a test runs a real
worker with nothing but a folder: the worker and the test's producer both use ``make_app``.
"""

from __future__ import annotations

from pathlib import Path

from celery import Celery


def make_app(folder: Path) -> Celery:
    """A Celery app whose queue and results are files under ``folder``."""
    queue = folder / "queue"
    results = folder / "results"
    processed = folder / "processed"
    control = folder / "control"  # broadcast exchanges; kombu's default is ./control
    for path in (queue, results, processed, control):
        path.mkdir(parents=True, exist_ok=True)
    app = Celery("deploy")
    app.conf.update(
        broker_url="filesystem://",
        broker_transport_options={
            "data_folder_in": str(queue),
            "data_folder_out": str(queue),
            "processed_folder": str(processed),
            "control_folder": str(control),
            # The transport polls its folder; the default (1 s) would dominate the test.
            "polling_interval": 0.02,
        },
        result_backend=f"file://{results}",
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
    )
    return app
