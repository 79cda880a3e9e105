"""System checks (``manage.py check`` and ``check --deploy``).

They judge the keys this library supplied, and only those: a ``SECRET_KEY`` set some other way
is Django's own ``security.W009`` business. Outside ``--deploy`` nothing here is an Error, so a
check never blocks ``migrate``, ``test`` or any other command.

==========================  ==========================================================
``secret_keyring.E002``     ``dev://`` source in a deployment (``--deploy``, ``DEBUG=False``)
``secret_keyring.W001``     the app is installed but the settings do not come from
                            ``secret_keys()``: no live refresh
``secret_keyring.W002``     ``env://`` source in a deployment: no rotation without restart
``secret_keyring.W003``     plain payload: fleet rotation can reject fresh signatures
``secret_keyring.W004``     a weak key (an adopted site's old key) is still trusted
                            (``--deploy``)
``secret_keyring.W005``     build-only mode (``SECRET_KEYRING_BUILD_ONLY=1``): the keys
                            cannot be judged (``--deploy``)
``secret_keyring.W010``     a setting holds a copy of a key: it will not follow a rotation
``secret_keyring.W011``     a package signs with SECRET_KEY and no fallbacks: its tokens
                            are rejected after a rotation (``key_users.py``)
``secret_keyring.E010``     a package encrypts data at rest with a key derived from
                            SECRET_KEY: a rotation loses the data (``--deploy``)
==========================  ==========================================================

``secret_keyring.E001`` (a weak key in the settings, an Error on every command) is retired:
the loader refuses weak keys except an adopted one, which W004 reports.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, register
from django.core.checks import Warning as CheckWarning

from secret_keyring.django import audit, build_only, live
from secret_keyring.keyring import fingerprint

#: The spacing rule of docs/rotation.md, as the hint states it.
SPACING = "2 x ttl + refresh_timeout (never less than 15 minutes)"

__all__ = [
    "check_build_only",
    "check_deploy_source",
    "check_key_users",
    "check_key_users_deploy",
    "check_keys",
    "check_weak_keys",
]


@register(Tags.security)
def check_keys(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """The settings still come from ``secret_keys()``."""
    if build_only.started():
        return []  # they do, empty on purpose: W005 says so under --deploy, and the log at start
    current = live.active()
    if current is None:
        return [
            CheckWarning(
                "secret_keyring is installed but SECRET_KEY does not come from secret_keys(), "
                "so it is never refreshed.",
                hint="In settings.py: SECRET_KEY, SECRET_KEY_FALLBACKS = secret_keys(SOURCE_URL)",
                id="secret_keyring.W001",
            )
        ]
    if getattr(settings, "SECRET_KEY", None) != current.applied.current:
        return [
            CheckWarning(
                "SECRET_KEY was changed after secret_keys() set it; live refresh will overwrite "
                "the change at the next rotation.",
                hint="Assign SECRET_KEY and SECRET_KEY_FALLBACKS only from secret_keys().",
                id="secret_keyring.W001",
            )
        ]
    return []


@register(Tags.security, deploy=True)
def check_build_only(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """In build-only mode the deploy checks have no keys to judge; say so, not "all clear"."""
    if not build_only.started():
        return []
    return [
        CheckWarning(
            f"This process was started with {build_only.BUILD_ONLY_ENV}=1: SECRET_KEY is empty "
            "and nothing in it can sign, so the deploy checks cannot judge the keys a "
            "deployment signs with (Django's security.W009 reports the empty key).",
            hint=f"Run `manage.py check --deploy` without {build_only.BUILD_ONLY_ENV}, where the "
            "keyring source is reachable (when the container starts, or in CI with the "
            f"source's credentials). Set {build_only.BUILD_ONLY_ENV}=1 only on a build step's "
            "command, never with ENV in the image.",
            id="secret_keyring.W005",
        )
    ]


@register(Tags.security, deploy=True)
def check_weak_keys(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """A weak key the library supplied: an adopted site's old key, until two rotations."""
    current = live.active()
    if current is None:
        return []
    keyring = current.applied
    weak = keyring.weak
    if not weak:
        return []
    shown = ", ".join(fingerprint(key) for key in weak)
    keys = f"Key {shown} fails" if len(weak) == 1 else f"Keys {shown} fail"
    if keyring.current in weak:
        # Signing and verifying are different claims: only `current` signs.
        role = (
            "Django signs with it (SECRET_KEY) until the next rotation and still accepts what "
            "it signed (SECRET_KEY_FALLBACKS) until the rotation after that."
        )
        fix = (
            "Rotate twice: the first rotation makes the strong next key current, the second "
            "drops the old key."
        )
    else:
        role = (
            "Django no longer signs with it, but still accepts what it signed "
            "(SECRET_KEY_FALLBACKS) until the next rotation drops it."
        )
        fix = "Rotate once more: that rotation drops the old key."
    return [
        CheckWarning(
            f"{keys} Django's security.W009 rules in the keyring from {keyring.source}: it is "
            "the site's old key, adopted so that nobody was logged out (the keyring's 'adopted' "
            f"member names it). {role}",
            hint=f"{fix} Use `manage.py rotate_secret_key` or the scheduled rotation, and leave "
            f"at least {SPACING} between two rotations, so that every process has read the "
            "next key before it signs (the command skips a run that comes sooner).",
            id="secret_keyring.W004",
        )
    ]


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
                hint="Store keyring JSON instead: {'current': <this key>, 'next': <a new key>, "
                "'previous': []} (`secret-keyring generate --plain` prints a new key). Vault "
                "and Secrets Manager rotations keep a plain key plain; only a file:// rotation "
                "converts it.",
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
