"""The Django app ``"secret_keyring.django"`` (label ``secret_keyring``)."""

from __future__ import annotations

from typing import Any

from django.apps import AppConfig

from secret_keyring.django import live


def _on_request_started(sender: Any, **kwargs: Any) -> None:
    current = live._active
    if current is not None:
        current.check()


class SecretKeyringConfig(AppConfig):
    """Installs the per-request refresh check and registers the system checks."""

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
