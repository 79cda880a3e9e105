"""Build-only mode: start without the backend, for commands that never sign anything.

A Docker image build runs ``manage.py collectstatic`` (or ``compilemessages``, ``check``) where
the backend is out of reach and no credentials exist. With ``SECRET_KEYRING_BUILD_ONLY=1`` in that
command's environment, ``secret_keys()`` contacts nobody and returns an **empty** ``SECRET_KEY``
and no fallbacks. Nothing can sign with it, in any kind of process: Django refuses an empty
``SECRET_KEY`` at every read of ``settings.SECRET_KEY`` (``django.conf.LazySettings``, Django 4.2
to 6.x), which every signature of Django's own goes through (``signing``, sessions, password-reset
tokens, ``salted_hmac``), while ``django.setup()``, ``collectstatic``, ``compilemessages`` and
``check`` never read it. A guard run at some point of a process's life cannot say as much:
Celery logs a failing ``task_prerun`` receiver and runs the task anyway, and a management command,
a cron job or a queue consumer reaches no guard at all.

The empty key is a ``str`` whose truth value raises this module's error (Django tests the key with
``not``), so what refuses the read names ``SECRET_KEYRING_BUILD_ONLY`` and the fix, not only
"must not be empty". Anything else sees an ordinary empty string. A web process refuses every
request as well, in ``request_started`` (connected here, so it holds whether or not the app is
installed), and so does [refresh_settings][secret_keyring.django.refresh_settings].
"""

from __future__ import annotations

import logging
import os
from typing import Any

from django.core.exceptions import ImproperlyConfigured

__all__ = ["BUILD_ONLY_ENV", "enabled", "ensure_serving", "is_build_only_key", "start", "started"]

logger = logging.getLogger(__name__)

#: Environment variable that starts a process without the backend (``1``) for image builds.
BUILD_ONLY_ENV = "SECRET_KEYRING_BUILD_ONLY"

#: Why a build-only process refuses to sign or serve, and the fix.
REFUSAL = (
    f"SECRET_KEY is empty: this process was started with {BUILD_ONLY_ENV}=1 (build-only mode, "
    "for image builds), so nothing in it may sign, encrypt or serve. Set "
    f"{BUILD_ONLY_ENV}=1 only in the environment of a build step's command (e.g. "
    f"`RUN {BUILD_ONLY_ENV}=1 python manage.py collectstatic --noinput`), never with ENV in the "
    "image or in the environment of a web server, worker, cron job or script"
)


class _BuildOnlyKey(str):
    """The build-only ``SECRET_KEY``: an empty string whose truth value is the refusal."""

    __slots__ = ()

    def __bool__(self) -> bool:
        raise ImproperlyConfigured(REFUSAL)


_BUILD_ONLY_KEY = _BuildOnlyKey()
_started = False


def enabled() -> bool:
    """Whether ``SECRET_KEYRING_BUILD_ONLY`` asks for build-only mode.

    Raises:
        ImproperlyConfigured: the variable holds something other than ``1``, ``0`` or nothing;
            a typo must not silently contact (or silently skip) the backend.
    """
    value = os.environ.get(BUILD_ONLY_ENV, "").strip()
    if value in ("", "0"):
        return False
    if value == "1":
        return True
    raise ImproperlyConfigured(
        f"{BUILD_ONLY_ENV} must be 1 (start without the backend, for image builds) or 0/unset, "
        f"got {value!r}"
    )


def start() -> tuple[str, list[str]]:
    """Build-only ``(SECRET_KEY, SECRET_KEY_FALLBACKS)``: an empty key, and the request guard."""
    global _started  # noqa: PLW0603 - a process-wide mode, like settings themselves
    from django.core.signals import request_started

    # weak=False: the guard must outlive any reference this module could lose.
    request_started.connect(
        _refuse_request, weak=False, dispatch_uid="secret_keyring.django.build_only"
    )
    if not _started:
        logger.warning(
            "secret_keyring: %s=1: SECRET_KEY is empty and no backend was contacted; nothing "
            "in this process can sign and it refuses every request",
            BUILD_ONLY_ENV,
        )
    _started = True
    return _BUILD_ONLY_KEY, []


def started() -> bool:
    """Whether ``secret_keys()`` started this process in build-only mode."""
    return _started


def is_build_only_key(value: object) -> bool:
    """Whether ``value`` is the empty build-only ``SECRET_KEY`` (or a copy of it in a setting)."""
    return isinstance(value, _BuildOnlyKey)


def ensure_serving() -> None:
    """Raise if this process started in build-only mode (it must never sign for anyone).

    Raises:
        ImproperlyConfigured: the process was started with ``SECRET_KEYRING_BUILD_ONLY=1``.
    """
    if _started:
        raise ImproperlyConfigured(REFUSAL)


def _refuse_request(sender: Any, **kwargs: Any) -> None:
    ensure_serving()
