"""Live refresh: apply a refreshed keyring to ``django.conf.settings`` in a running process.

``LazySettings.__setattr__`` pops its cached attribute *before* writing the wrapped object, so a
reader between the two steps can re-cache the old value for good. We write the wrapped settings
object first and drop the cached attribute second, in three writes (see
[apply_to_settings][secret_keyring.django.live.apply_to_settings]) so that every key current in
the old or the new keyring verifies at every instant. A reader that fetched the old value from the
wrapped object before a write and caches it after the drop is still possible: the per-request
check, which keeps looking for a few seconds after each update and at every refresh, drops a
cached value that is not the wrapped one.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from secret_keyring._fork import AfterFork
from secret_keyring.cache import CachedKeyring
from secret_keyring.keyring import Keyring

__all__ = ["LiveKeyring", "activate", "active", "apply_to_settings", "drop_stale_cached_settings"]

logger = logging.getLogger("secret_keyring.django")

#: While a background refresh is in flight, look again after this many seconds.
_POLL_WHILE_REFRESHING = 0.05
#: After an update, every request checks the settings cache for this many seconds: a reader that
#: re-cached an old value (module docstring) did so within a thread switch or two.
_SETTLE_SECONDS = 5.0
#: The settings a keyring writes.
_NAMES = ("SECRET_KEY", "SECRET_KEY_FALLBACKS")
_MISSING = object()


class LiveKeyring:
    """Ties a [CachedKeyring][secret_keyring.CachedKeyring] to ``django.conf.settings``.

    [check][secret_keyring.django.live.LiveKeyring.check] is what runs on every request: one
    clock read and one comparison until the cache is due for a refresh or has brought new keys.
    """

    def __init__(
        self, cache: CachedKeyring, keyring: Keyring, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.cache = cache
        self.applied = keyring
        self.clock = clock
        self.next_check = cache.next_refresh_at
        self._settle_until = 0.0
        self._lock = threading.Lock()
        cache.add_listener(self._on_new_keyring)
        _live.add(self)

    def check(self) -> None:
        """The per-request hook: cheap unless something is due."""
        if self.clock() < self.next_check:
            return
        self.poll()

    def _on_new_keyring(self, keyring: Keyring) -> None:
        # Runs in the refresh thread: only flag it; the next request applies it.
        self.next_check = 0.0

    def poll(self) -> Keyring:
        """Ask the cache (which may start a background refresh), apply what changed and drop a
        stale value cached by ``LazySettings``."""
        self.cache.get()
        keyring = self.cache.keyring or self.applied
        if keyring is not self.applied:
            if not self._lock.acquire(blocking=False):
                return self.applied  # another thread is applying right now
            try:
                previous = self.applied
                changed = not keyring.same_keys(previous)
                if changed:
                    apply_to_settings(keyring)
                    self._settle_until = self.clock() + _SETTLE_SECONDS
                self.applied = keyring
            finally:
                self._lock.release()
            if changed:
                self._announce(keyring, previous)
        else:
            drop_stale_cached_settings()
        due = self.cache.next_refresh_at
        now = self.clock()
        self.next_check = due if due > now else now + _POLL_WHILE_REFRESHING
        if now < self._settle_until:
            self.next_check = now  # every request checks the settings cache for a while
        if self.cache.keyring is not keyring:
            self.next_check = 0.0  # a refresh landed while we were here: apply it next time
        return keyring

    def _after_fork(self) -> None:
        # A thread of the parent may have held the lock at fork time; it never releases it here.
        self._lock = threading.Lock()

    def _announce(self, keyring: Keyring, previous: Keyring) -> None:
        from secret_keyring.django.signals import keys_rotated

        fp = keyring.fingerprints
        logger.info(
            "secret_keyring: settings now sign with %s (fallbacks %s) from %s",
            fp["current"],
            ",".join(filter(None, [fp["next"], *fp["previous"]])) or "-",
            keyring.source,
        )
        # The keys are in place: a receiver's bug must not fail the request that applied them.
        for receiver, outcome in keys_rotated.send_robust(
            sender=LiveKeyring, keyring=keyring, previous=previous
        ):
            if isinstance(outcome, Exception):
                logger.error(
                    "secret_keyring: the keys_rotated receiver %s failed after the update to "
                    "%s; the new keys are in place",
                    getattr(receiver, "__qualname__", receiver),
                    fp["current"],
                    exc_info=(type(outcome), outcome, outcome.__traceback__),
                )


def apply_to_settings(keyring: Keyring) -> None:
    """Write the keyring into ``django.conf.settings`` so that no valid signature fails.

    Three writes, each to the wrapped settings object before its cached value on
    ``LazySettings`` is dropped: ``SECRET_KEY_FALLBACKS`` becomes the old fallbacks plus every
    key of the new keyring (the old ``SECRET_KEY`` included), then ``SECRET_KEY`` the new
    current key, then ``SECRET_KEY_FALLBACKS`` the new fallbacks. Whatever a reader sees in
    between, every key current in the old or the new keyring verifies.
    """
    from django.conf import settings

    holder: Any = settings._wrapped
    cache = settings.__dict__
    old = [*holder.SECRET_KEY_FALLBACKS, holder.SECRET_KEY]
    bridge = list(dict.fromkeys([*old, keyring.current, *keyring.fallbacks]))
    for name, value in (
        ("SECRET_KEY_FALLBACKS", bridge),
        ("SECRET_KEY", keyring.current),
        ("SECRET_KEY_FALLBACKS", keyring.fallbacks),
    ):
        setattr(holder, name, value)
        cache.pop(name, None)


def drop_stale_cached_settings() -> None:
    """Drop a key setting cached by ``LazySettings`` that is not the wrapped object's value."""
    from django.conf import settings

    holder: Any = settings._wrapped
    cache = settings.__dict__
    for name in _NAMES:
        cached = cache.get(name, _MISSING)
        if cached is not _MISSING and cached is not getattr(holder, name, _MISSING):
            cache.pop(name, None)
            logger.debug("secret_keyring: dropped a stale cached settings.%s", name)


_active: LiveKeyring | None = None
_live: AfterFork[LiveKeyring] = AfterFork()


def activate(cache: CachedKeyring, keyring: Keyring) -> LiveKeyring:
    """Make ``cache`` the process's keyring source (called by ``secret_keys()``)."""
    global _active  # noqa: PLW0603 - one keyring per process, like settings itself
    _active = LiveKeyring(cache, keyring)
    return _active


def active() -> LiveKeyring | None:
    """The keyring ``secret_keys()`` set up in this process, if any."""
    return _active


def deactivate() -> None:
    """Forget the active keyring (tests)."""
    global _active  # noqa: PLW0603 - see activate()
    _active = None
