"""The Django app ``"secret_keyring.django"`` (label ``secret_keyring``)."""

from __future__ import annotations

from typing import Any

from django.apps import AppConfig

from secret_keyring.django import refresh_settings


def _on_request_started(sender: Any, **kwargs: Any) -> None:
    refresh_settings()


def _on_task_prerun(sender: Any = None, **kwargs: Any) -> None:
    # A Celery worker serves no request: each task is its request. Celery logs a receiver's
    # exception and runs the task anyway, so this is the refresh only, never a guard.
    refresh_settings()


def connect_celery() -> bool:
    """Connect the refresh check to Celery's ``task_prerun``, if Celery is importable.

    Celery is not a dependency: without it, this does nothing and returns ``False``.
    """
    try:
        from celery.signals import task_prerun
    except ImportError:
        return False
    task_prerun.connect(
        _on_task_prerun, weak=False, dispatch_uid="secret_keyring.django.task_prerun"
    )
    return True


class SecretKeyringConfig(AppConfig):
    """Installs the refresh check (per request, per Celery task) and registers the checks."""

    name = "secret_keyring.django"
    label = "secret_keyring"
    verbose_name = "Secret keyring"
    default = True

    def ready(self) -> None:
        from django.core.signals import request_started

        from secret_keyring.django import checks  # noqa: F401 - registers the checks

        request_started.connect(
            _on_request_started, dispatch_uid="secret_keyring.django.request_started"
        )
        connect_celery()
