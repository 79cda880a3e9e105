"""Live refresh: apply a refreshed keyring to ``django.conf.settings`` in a running process.

``LazySettings.__setattr__`` pops its cached attribute *before* writing the wrapped object, so a
reader between the two steps can re-cache the old value for good. We write the wrapped settings
object first and drop the cached attribute second, and write ``SECRET_KEY_FALLBACKS`` (a list)
before ``SECRET_KEY``: at every instant, whatever a reader sees verifies what the other keys sign.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from secret_keyring.cache import CachedKeyring
from secret_keyring.keyring import Keyring

__all__ = ["LiveKeyring", "activate", "active", "apply_to_settings"]

logger = logging.getLogger("secret_keyring.django")

#: While a background refresh is in flight, look again after this many seconds.
_POLL_WHILE_REFRESHING = 0.05


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
        self._lock = threading.Lock()
        cache.add_listener(self._on_new_keyring)

    def check(self) -> None:
        """The per-request hook: cheap unless something is due."""
        if self.clock() < self.next_check:
            return
        self.poll()

    def _on_new_keyring(self, keyring: Keyring) -> None:
        # Runs in the refresh thread: only flag it; the next request applies it.
        self.next_check = 0.0

    def poll(self) -> Keyring:
        """Ask the cache (which may start a background refresh) and apply what changed."""
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
                self.applied = keyring
            finally:
                self._lock.release()
            if changed:
                self._announce(keyring, previous)
        due = self.cache.next_refresh_at
        now = self.clock()
        self.next_check = due if due > now else now + _POLL_WHILE_REFRESHING
        if self.cache.keyring is not keyring:
            self.next_check = 0.0  # a refresh landed while we were here: apply it next time
        return keyring

    def _announce(self, keyring: Keyring, previous: Keyring) -> None:
        from secret_keyring.django.signals import keys_rotated

        fp = keyring.fingerprints
        logger.info(
            "secret_keyring: settings now sign with %s (fallbacks %s) from %s",
            fp["current"],
            ",".join(filter(None, [fp["next"], *fp["previous"]])) or "-",
            keyring.source,
        )
        keys_rotated.send(sender=LiveKeyring, keyring=keyring, previous=previous)


def apply_to_settings(keyring: Keyring) -> None:
    """Write the keyring into ``django.conf.settings`` in the race-free order."""
    from django.conf import settings

    holder: Any = settings._wrapped
    cache = settings.__dict__
    holder.SECRET_KEY_FALLBACKS = keyring.fallbacks
    cache.pop("SECRET_KEY_FALLBACKS", None)
    holder.SECRET_KEY = keyring.current
    cache.pop("SECRET_KEY", None)


_active: LiveKeyring | None = None


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
