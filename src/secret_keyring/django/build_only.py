"""Build-only mode: start without the backend, for commands that never serve a request.

A Docker image build runs ``manage.py collectstatic`` (or ``compilemessages``, ``check``) where
the backend is out of reach and no credentials exist. With ``SECRET_KEYRING_BUILD_ONLY=1`` in that
command's environment, ``secret_keys()`` contacts nobody and returns a random throwaway key, and
the process refuses to serve: every request raises ``ImproperlyConfigured`` in
``request_started`` (connected here, so it holds whether or not the app is installed), and so does
[refresh_settings][secret_keyring.django.refresh_settings]. Nothing signed with the throwaway key
can verify anywhere else: it exists in this process only, and never in a log.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from django.core.exceptions import ImproperlyConfigured

__all__ = ["BUILD_ONLY_ENV", "enabled", "ensure_serving", "start"]

logger = logging.getLogger("secret_keyring.django")

#: Environment variable that starts a process without the backend (``1``) for image builds.
BUILD_ONLY_ENV = "SECRET_KEYRING_BUILD_ONLY"

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
    """Build-only ``(SECRET_KEY, SECRET_KEY_FALLBACKS)``: a throwaway key, and the request guard."""
    global _started  # noqa: PLW0603 - a process-wide mode, like settings themselves
    from django.core.signals import request_started

    from secret_keyring.rotation.keygen import generate_key

    # weak=False: the guard must outlive any reference this module could lose.
    request_started.connect(
        _refuse_request, weak=False, dispatch_uid="secret_keyring.django.build_only"
    )
    if not _started:
        logger.warning(
            "secret_keyring: %s=1: SECRET_KEY is a throwaway key and no backend was contacted; "
            "this process refuses every request",
            BUILD_ONLY_ENV,
        )
    _started = True
    return generate_key(), []


def ensure_serving() -> None:
    """Raise if this process started in build-only mode (it must never sign for anyone).

    Raises:
        ImproperlyConfigured: the process was started with ``SECRET_KEYRING_BUILD_ONLY=1``.
    """
    if _started:
        raise ImproperlyConfigured(
            f"this process was started with {BUILD_ONLY_ENV}=1: its SECRET_KEY is a throwaway "
            f"key and it must not serve; set {BUILD_ONLY_ENV} only in the environment of the "
            "build step (e.g. `RUN SECRET_KEYRING_BUILD_ONLY=1 python manage.py collectstatic`), "
            "never in the image or the runtime environment"
        )


def _refuse_request(sender: Any, **kwargs: Any) -> None:
    ensure_serving()
