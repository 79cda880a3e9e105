"""Django integration: the settings helper and, with ``"secret_keyring.django"`` in
``INSTALLED_APPS``, live refresh, system checks, management commands and the ``keys_rotated``
signal.

In ``settings.py``::

    from secret_keyring.django import secret_keys

    SECRET_KEY, SECRET_KEY_FALLBACKS = secret_keys("vault://secret/myapp/django")

In a process that serves no requests (a queue consumer, a long management command), call
[refresh_settings][secret_keyring.django.refresh_settings] from its loop; Celery's
``task_prerun`` is connected by the app when Celery is importable.
"""

from __future__ import annotations

import logging
import os
import time
from typing import Literal

try:
    from django.core.exceptions import ImproperlyConfigured
except ImportError as exc:  # pragma: no cover - exercised by the wheel smoke test
    raise ImportError(
        "Django is required for secret_keyring.django: pip install 'django-secret-keyring[django]'",
        name="django",
    ) from exc

from secret_keyring._config import (
    DEFAULT_JITTER,
    DEFAULT_MAX_STALE,
    DEFAULT_STARTUP_TIMEOUT,
    DEFAULT_TTL,
)
from secret_keyring.cache import CachedKeyring
from secret_keyring.django import build_only, live
from secret_keyring.django.build_only import BUILD_ONLY_ENV
from secret_keyring.errors import SecretKeyringError, SourceError
from secret_keyring.keyring import Keyring, check_max_fallbacks, fingerprint
from secret_keyring.providers.base import Provider
from secret_keyring.urls import provider_from_url

__all__ = ["BUILD_ONLY_ENV", "SOURCE_ENV", "refresh_settings", "secret_keys"]

logger = logging.getLogger(__name__)

#: Environment variable read when ``secret_keys()`` is called without a source.
SOURCE_ENV = "DJANGO_SECRET_KEY_SOURCE"

#: Start-ups that ran out of time, by source: Django imports a settings module again after it
#: failed (``manage.py`` reports the first ImproperlyConfigured, then reads settings once more),
#: and each import would wait another ``startup_timeout`` for the same unreachable backend
#: (60.3 s for ``manage.py check`` against a closed port at the default 30 s). Only errors that
#: cost the wait are kept: a non-retryable one fails at once anyway.
_failed_startups: dict[str, tuple[float, str]] = {}
#: Seconds a start-up failure is remembered: Django's second import comes milliseconds after the
#: first, while a host that retries a failed import in the same process later (mod_wsgi reloads
#: the script on the next request) must get a fresh attempt once the backend may be back.
_REMEMBER_FAILED_STARTUP = 60.0
#: The monotonic clock of that memory (tests move it).
_clock = time.monotonic


def secret_keys(
    source: str | Provider | None = None,
    *,
    ttl: float = DEFAULT_TTL,
    jitter: float = DEFAULT_JITTER,
    max_stale: float = DEFAULT_MAX_STALE,
    max_fallbacks: int = 3,
    startup_timeout: float = DEFAULT_STARTUP_TIMEOUT,
    on_stale: Literal["serve", "fail"] = "serve",
    refresh_timeout: float | None = None,
) -> tuple[str, list[str]]:
    """Fetch the keyring for ``SECRET_KEY`` and ``SECRET_KEY_FALLBACKS``.

    The keyring stays cached (and, with the app installed, refreshed live) for the life of the
    process. Called again in the same process (a ``base.py`` and a ``prod.py`` that both call
    it), the last call wins: its keyring is the one in settings and the only one refreshed; the
    earlier cache is dropped and starts no refresh again.

    With ``SECRET_KEYRING_BUILD_ONLY=1`` in the environment (an image build's ``collectstatic``),
    no backend is contacted and the source is not read: ``SECRET_KEY`` is empty, so every read of
    ``settings.SECRET_KEY`` (every signature) raises ``ImproperlyConfigured``, and so does every
    request.

    Args:
        source: a source URL, a [Provider][secret_keyring.Provider], or ``None`` to read the URL
            from the ``DJANGO_SECRET_KEY_SOURCE`` environment variable.
        ttl: seconds between refreshes; the longest a process serves an outdated keyring.
        jitter: fraction by which each TTL is randomly shortened, so a fleet spreads its reads.
        max_stale: seconds the last good keyring is served while the backend fails.
        max_fallbacks: for plain payloads, how many older backend versions are fallbacks.
        startup_timeout: seconds to keep retrying a backend that is unavailable at start-up.
        on_stale: past ``max_stale``: ``"serve"`` (log ERROR) or ``"fail"`` (raise).
        refresh_timeout: seconds a refresh may wait for the backend before it counts as failed,
            and the longest a request that refreshes in line waits (default: the provider's
            own bound, 90 s for Vault with its default timeouts, else 60 s). Lower it below a
            request deadline the platform enforces, such as API Gateway's 29 s in front of a
            Lambda.

    Returns:
        ``(SECRET_KEY, SECRET_KEY_FALLBACKS)``; the fallbacks are a ``list``.

    Raises:
        ImproperlyConfigured: no source, a bad source URL or option (``refresh_timeout``
            included), a missing extra, or the keyring could not be fetched within
            ``startup_timeout`` (remembered for a minute: a later call for the same source in
            this process, such as Django's second settings import after a failed one, fails at
            once with the same cause); or
            ``SECRET_KEYRING_BUILD_ONLY`` is set to something other than ``1`` or ``0``. The
            message names the source, the cause and the fix, never a key.
    """
    if build_only.enabled():
        return build_only.start()
    if source is None:
        source = os.environ.get(SOURCE_ENV, "").strip() or None
        if source is None:
            raise ImproperlyConfigured(
                f"secret_keys(): no source given and {SOURCE_ENV} is not set; pass a URL such as "
                f"secret_keys('vault://secret/myapp/django') or export {SOURCE_ENV}"
            )
    try:
        check_max_fallbacks(max_fallbacks)
    except SecretKeyringError as exc:
        raise ImproperlyConfigured(f"secret_keys(): {exc}") from None
    described = source if isinstance(source, str) else getattr(source, "source", repr(source))
    startup_key = described  # the source as given: provider.source below may be redacted
    remembered = _failed_startups.get(startup_key)
    if remembered is not None and _clock() - remembered[0] < _REMEMBER_FAILED_STARTUP:
        failed_at, message = remembered
        raise ImproperlyConfigured(
            f"{message} (this process gave up on this source {_clock() - failed_at:.0f}s ago "
            f"and does not wait again for {_REMEMBER_FAILED_STARTUP:.0f}s; restart it once the "
            "backend answers)"
        )
    try:
        if isinstance(source, str):
            provider = provider_from_url(source, max_fallbacks=max_fallbacks)
            described = provider.source
        elif isinstance(source, Provider):
            provider = source
        else:
            raise ImproperlyConfigured(
                f"secret_keys(): source must be a URL string or a Provider, "
                f"got {type(source).__name__}"
            )
        cache = CachedKeyring(
            provider,
            ttl=ttl,
            jitter=jitter,
            max_stale=max_stale,
            on_stale=on_stale,
            refresh_timeout=refresh_timeout,
        )
        keyring = cache.prime(startup_timeout)
    except SecretKeyringError as exc:
        message = f"SECRET_KEY could not be loaded from {exc.source or described}: {exc}"
        if isinstance(exc, SourceError) and exc.retryable and startup_timeout > 0:
            _failed_startups[startup_key] = (_clock(), message)
        raise ImproperlyConfigured(message) from exc
    except ImportError as exc:
        raise ImproperlyConfigured(f"SECRET_KEY source {described}: {exc}") from exc
    replaced = live.active()
    if replaced is not None:
        # The earlier cache is only ever asked through the active LiveKeyring: once that is
        # replaced, nothing calls it again, so it starts no refresh and holds no thread.
        logger.info(
            "secret_keyring: secret_keys() called again; %s replaces %s",
            provider.source,
            replaced.cache.provider.source,
        )
    live.activate(cache, keyring)
    _warn_if_adopted(keyring)
    return keyring.current, keyring.fallbacks


def _warn_if_adopted(keyring: Keyring) -> None:
    """Say at start-up, in every process's log, that a weak key is trusted (the keyring's
    ``adopted`` marker names it); ``check --deploy`` says it too (``secret_keyring.W004``),
    but only where someone runs it."""
    if not keyring.weak:
        return
    signing = keyring.current in keyring.weak
    logger.warning(
        "secret_keyring: %s: the adopted key %s fails Django's security.W009 rules and is "
        "trusted as %s; rotate %s, at least 2 x ttl + refresh_timeout (never less than 15 "
        "minutes) apart, to retire it",
        keyring.source,
        ", ".join(fingerprint(key) for key in keyring.weak),
        "SECRET_KEY" if signing else "a SECRET_KEY_FALLBACKS entry",
        "twice" if signing else "once more",
    )


def refresh_settings() -> None:
    """Apply a rotated keyring to ``django.conf.settings`` if one is due.

    The check the app runs on every request, for loops that serve none: a queue consumer, a
    long management command, a WebSocket consumer. It costs one clock read and one comparison
    until the TTL has run out; then it starts a background refresh (not waiting for the backend)
    and a later call applies the new keys and sends ``keys_rotated``. Safe from any thread, and
    from async code: it does not wait on the backend (only your own ``keys_rotated`` receivers
    run in it), except, for at most ``refresh_timeout``, where serving the cached keyring would
    be wrong or a background thread cannot run: a forked worker's first refresh of a keyring
    inherited past its TTL, a process frozen between requests (AWS Lambda), a background refresh
    that has not begun a second after it was started, and ``on_stale="fail"`` past
    ``max_stale``. Does nothing when ``SECRET_KEY`` does not come from ``secret_keys()``.

    Raises:
        ImproperlyConfigured: the process was started with ``SECRET_KEYRING_BUILD_ONLY=1`` and
            must not sign anything.
    """
    build_only.ensure_serving()
    current = live.active()
    if current is not None:
        current.check()
