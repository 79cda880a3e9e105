"""System checks (``manage.py check`` and ``check --deploy``).

==========================  ==========================================================
``secret_keyring.E001``     a key in ``SECRET_KEY``/``SECRET_KEY_FALLBACKS`` is weak
``secret_keyring.E002``     ``dev://`` source in a deployment (``--deploy``, ``DEBUG=False``)
``secret_keyring.W001``     the app is installed but the settings do not come from
                            ``secret_keys()``: no live refresh
``secret_keyring.W002``     ``env://`` source in a deployment: no rotation without restart
``secret_keyring.W003``     plain payload: fleet rotation can reject fresh signatures
``secret_keyring.W010``     a setting holds a copy of a key: it will not follow a rotation
``secret_keyring.W011``     a package signs with SECRET_KEY and no fallbacks: its tokens
                            are rejected after a rotation (``key_users.py``)
``secret_keyring.E010``     a package encrypts data at rest with a key derived from
                            SECRET_KEY: a rotation loses the data (``--deploy``)
==========================  ==========================================================
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, register
from django.core.checks import Warning as CheckWarning

from secret_keyring.django import audit, live
from secret_keyring.errors import InvalidSecret
from secret_keyring.keyring import validate_key

__all__ = ["check_deploy_source", "check_key_users", "check_key_users_deploy", "check_keys"]


@register(Tags.security)
def check_keys(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Every key Django uses passes W009, and the settings still come from ``secret_keys()``."""
    messages: list[CheckMessage] = []
    key = getattr(settings, "SECRET_KEY", None)
    fallbacks = list(getattr(settings, "SECRET_KEY_FALLBACKS", []) or [])
    for field, value in [("SECRET_KEY", key)] + [
        (f"SECRET_KEY_FALLBACKS[{i}]", v) for i, v in enumerate(fallbacks)
    ]:
        try:
            validate_key(value, source="settings", field=field)
        except InvalidSecret as exc:
            messages.append(
                Error(
                    str(exc),
                    hint="Rotate the secret, or write a new keyring with `secret-keyring init`.",
                    id="secret_keyring.E001",
                )
            )
    current = live.active()
    if current is None:
        messages.append(
            CheckWarning(
                "secret_keyring is installed but SECRET_KEY does not come from secret_keys(), "
                "so it is never refreshed.",
                hint="In settings.py: SECRET_KEY, SECRET_KEY_FALLBACKS = secret_keys(SOURCE_URL)",
                id="secret_keyring.W001",
            )
        )
    elif key != current.applied.current:
        messages.append(
            CheckWarning(
                "SECRET_KEY was changed after secret_keys() set it; live refresh will overwrite "
                "the change at the next rotation.",
                hint="Assign SECRET_KEY and SECRET_KEY_FALLBACKS only from secret_keys().",
                id="secret_keyring.W001",
            )
        )
    return messages


@register(Tags.security, deploy=True)
def check_deploy_source(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Refuse development sources in a deployment."""
    current = live.active()
    if current is None or settings.DEBUG:
        return []
    provider = current.cache.provider
    source = provider.source
    # Asked of the provider, not read from the URL: a user's own provider can say so too.
    development_only = bool(getattr(provider, "development_only", False))
    live_rotation = bool(getattr(provider, "live_rotation", True))
    messages: list[CheckMessage] = []
    if development_only:
        messages.append(
            Error(
                f"SECRET_KEY comes from {source}, a per-machine development keyring: every host "
                "of a deployment signs with a different key.",
                hint="Use a vault://, aws-secretsmanager:// or file:// source in production.",
                id="secret_keyring.E002",
            )
        )
    elif not live_rotation:
        messages.append(
            CheckWarning(
                f"SECRET_KEY comes from {source}: an environment variable cannot change in a "
                "running process, so a rotation needs a restart.",
                hint="Use a vault://, aws-secretsmanager:// or file:// source for live rotation.",
                id="secret_keyring.W002",
            )
        )
    if current.applied.next is None and live_rotation and not development_only:
        messages.append(
            CheckWarning(
                f"SECRET_KEY comes from a plain payload at {source}: during a rotation, processes "
                "whose cache is not yet refreshed reject signatures made with the new key.",
                hint="Store keyring JSON ({'current', 'next', 'previous'}); "
                "`secret-keyring rotate` and the rotation Lambda write it.",
                id="secret_keyring.W003",
            )
        )
    return messages


def _as_messages(findings: list[audit.Finding]) -> list[CheckMessage]:
    return [
        (Error if f.data_loss else CheckWarning)(f.message, hint=f.hint, id=f.check_id)
        for f in findings
    ]


@register(Tags.security)
def check_key_users(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Copies of the key in the settings, and packages that sign with it without fallbacks."""
    return _as_messages(audit.audit(include_data_loss=False))


@register(Tags.security, deploy=True)
def check_key_users_deploy(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Packages that encrypt data at rest with a key derived from SECRET_KEY: data loss."""
    return _as_messages([f for f in audit.audit() if f.data_loss])
