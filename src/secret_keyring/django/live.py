"""Live refresh: apply a refreshed keyring to ``django.conf.settings`` in a running process.

Django reads ``SECRET_KEY`` and then ``SECRET_KEY_FALLBACKS`` (``Signer.__init__``,
``get_user()``, the password-reset token generator), so a reader can see the key from before an
update beside the fallbacks from after it. An update therefore has two phases
([bridge_settings][secret_keyring.django.live.bridge_settings], then
[settle_settings][secret_keyring.django.live.settle_settings]): ``SECRET_KEY_FALLBACKS``
becomes a bridge (the old fallbacks, the old key and every key of the new keyring) and then
``SECRET_KEY`` the new current key; the bridge stays for a settle time on the injected clock, and
a later check (a request, a Celery task, ``refresh_settings()``) writes the final fallbacks. A
reader that took the old key before the update thus meets fallbacks that hold the new current
key, and a second rotation inside the settle time widens the bridge instead of narrowing it.

``LazySettings.__setattr__`` pops its cached attribute *before* writing the wrapped object, so a
reader between the two steps can re-cache the old value for good. We write the settings object
first and drop the cached attribute second. A reader that fetched the old value from the wrapped
object before a write and caches it after the drop is still possible: the per-request check,
which looks at every request for a settle time after each write and at every refresh, drops a
cached value that is not the wrapped one, and the final write waits a settle time after such a
repair.

Under ``override_settings`` (and pytest-django's ``settings`` fixture, and Django test classes
decorated with it) ``settings._wrapped`` is a temporary layer over the real settings. The keys
are written to the real settings beneath every such layer, so they are still in place when the
override ends; a layer that overrides a key setting itself keeps its value while it is active.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from secret_keyring import _fork
from secret_keyring.cache import CachedKeyring
from secret_keyring.keyring import Keyring

__all__ = [
    "LiveKeyring",
    "activate",
    "active",
    "apply_to_settings",
    "bridge_settings",
    "drop_stale_cached_settings",
    "settle_settings",
]

logger = logging.getLogger(__name__)

#: While a background refresh is in flight, look again after this many seconds.
_POLL_WHILE_REFRESHING = 0.05
#: Seconds a check waits for another thread that is writing a keyring into the settings (it
#: takes microseconds); a bound, so that a stuck writer cannot hold every request.
_APPLY_WAIT = 1.0
#: How long a reader may take between two reads of the settings, with a wide margin: a thread
#: switch or two, a garbage collection. For this long after each write (and after each repair of
#: the settings cache) every request checks the settings cache, and the bridge fallbacks stay.
_SETTLE_SECONDS = 5.0
#: The settings a keyring writes.
_NAMES = ("SECRET_KEY", "SECRET_KEY_FALLBACKS")
_MISSING = object()


class LiveKeyring:
    """Ties a [CachedKeyring][secret_keyring.CachedKeyring] to ``django.conf.settings``.

    [check][secret_keyring.django.live.LiveKeyring.check] is what runs on every request: one
    clock read and one comparison until the cache is due for a refresh, has brought new keys, or
    an update is settling.
    """

    def __init__(
        self, cache: CachedKeyring, keyring: Keyring, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.cache = cache
        self.applied = keyring
        self.clock = clock
        self.next_check = cache.next_refresh_at
        #: The applied keyring whose final fallbacks wait for the settle time (bridge in place).
        self._settling: Keyring | None = None
        #: What the bridge keeps for readers of the keyrings applied before ``_settling``.
        self._held: tuple[str, ...] = ()
        #: The bridge stays until then (``clock`` time).
        self._settle_until = 0.0
        #: Every request checks the settings cache until then.
        self._watch_until = 0.0
        self._lock = threading.Lock()
        cache.add_listener(self._on_new_keyring)
        _fork.register(self)

    @property
    def settling(self) -> bool:
        """Whether the settings hold the bridge fallbacks of an update (``SECRET_KEY`` is
        already ``applied.current``; a later check writes ``applied.fallbacks``)."""
        return self._settling is not None

    def check(self) -> None:
        """The per-request hook: cheap unless something is due."""
        if self.clock() < self.next_check:
            return
        self.poll()

    def _on_new_keyring(self, keyring: Keyring) -> None:
        # Runs in the refresh thread: only flag it; the next request applies it.
        self.next_check = 0.0

    def poll(self) -> Keyring:
        """Ask the cache (which may start a background refresh), apply what changed, drop a
        stale value cached by ``LazySettings`` and, once an update has settled, write its final
        fallbacks.

        Returns:
            The keyring the settings now hold.
        """
        self.cache.get()
        keyring = self.cache.keyring or self.applied
        if keyring is not self.applied:
            # Another thread may be applying it right now (a gthread worker's first requests
            # after a fork, say): wait for it, for the microseconds its writes take, rather than
            # serve this request with the keys it is replacing.
            if not self._lock.acquire(timeout=_APPLY_WAIT):
                return self.applied
            try:
                # The newest keyring now that the lock is ours: the one it waited for may have
                # been applied meanwhile (nothing to do), or a later one may have landed.
                keyring = self.cache.keyring or self.applied
                previous = self.applied
                changed = not keyring.same_keys(previous)
                if changed:
                    if self._settling is None or (
                        self._settled() and not drop_stale_cached_settings()
                    ):
                        # No reader holds a key of an earlier update any more.
                        self._held = ()
                    self._held = tuple(dict.fromkeys([*self._held, *_beside(previous)]))
                    bridge_settings(keyring, keep=self._held)
                    self._settling = keyring
                    self._settle_until = self._watch_until = self.clock() + _SETTLE_SECONDS
                self.applied = keyring
            finally:
                self._lock.release()
            if changed:
                self._announce(keyring, previous)
        else:
            if drop_stale_cached_settings() and self._settling is not None:
                # A reader of the value just dropped may still be between its two reads.
                self._settle_until = max(self._settle_until, self.clock() + _SETTLE_SECONDS)
            if self._settled():
                self._settle()
        due = self.cache.next_refresh_at
        now = self.clock()
        self.next_check = due if due > now else now + _POLL_WHILE_REFRESHING
        if now < self._watch_until or self._settling is not None:
            self.next_check = now  # every request checks the settings cache for a while
        if self.cache.keyring is not keyring:
            self.next_check = 0.0  # a refresh landed while we were here: apply it next time
        return keyring

    def _settled(self) -> bool:
        """An update's bridge is in place and its settle time has passed."""
        return self._settling is not None and self.clock() >= self._settle_until

    def _settle(self) -> None:
        if not self._lock.acquire(blocking=False):
            return  # another thread is writing; a later check settles
        try:
            keyring = self._settling
            # Checked again under the lock: an update may have landed and restarted the wait.
            if keyring is None or not self._settled():
                return
            settle_settings(keyring)
            self._settling = None
            self._watch_until = self.clock() + _SETTLE_SECONDS
        finally:
            self._lock.release()
        logger.debug(
            "secret_keyring: settings.SECRET_KEY_FALLBACKS settled for %s",
            keyring.fingerprints["current"],
        )

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


def _beside(keyring: Keyring) -> list[str]:
    """The keys a reader that took ``keyring.current`` must still verify after a newer keyring
    replaces it: that key and the ``next`` announced beside it (what the processes that refreshed
    first sign with). Its ``previous`` is left to the newer keyring, which keeps the keys still
    in use and drops the ones it means to drop (an adopted weak key, the oldest)."""
    return [keyring.current, *filter(None, [keyring.next])]


def _owner(name: str) -> Any:
    """The settings object whose value of ``name`` the process keeps: beneath every
    ``override_settings`` layer.

    An override layer is a ``UserSettingsHolder`` over the settings it replaces
    (``default_settings``); the real settings are the deepest layer that holds ``name`` itself
    (``Settings`` from the settings module, or the holder ``settings.configure()`` made over
    ``global_settings``, a module that ends the chain).
    """
    from django.conf import Settings, UserSettingsHolder, settings

    layers: list[Any] = [settings._wrapped]
    while isinstance(layers[-1], UserSettingsHolder) and isinstance(
        layers[-1].default_settings, (Settings, UserSettingsHolder)
    ):
        layers.append(layers[-1].default_settings)
    holding = [layer for layer in layers if name in getattr(layer, "__dict__", {})]
    return holding[-1] if holding else layers[-1]


def _write(name: str, value: object) -> None:
    from django.conf import settings

    setattr(_owner(name), name, value)  # the settings object first,
    settings.__dict__.pop(name, None)  # then the value LazySettings cached


def bridge_settings(keyring: Keyring, *, keep: tuple[str, ...] = ()) -> None:
    """The first phase of an update: ``SECRET_KEY_FALLBACKS`` becomes the bridge, then
    ``SECRET_KEY`` the new current key.

    The bridge is the ``SECRET_KEY`` the settings hold, the keys in ``keep`` and every key of
    ``keyring``, without duplicates. Until
    [settle_settings][secret_keyring.django.live.settle_settings] runs, a reader that took the
    old ``SECRET_KEY`` before the update and reads the fallbacks after it verifies the new
    current key, and every key current in the old or the new keyring verifies at every instant.
    Each write goes to the real settings beneath any ``override_settings`` layer, before the
    value cached on ``LazySettings`` is dropped.

    Args:
        keyring: the keyring to apply.
        keep: keys that readers of the settings from before may still need: for each keyring
            applied within the settle time (``LiveKeyring`` keeps them), its current key and its
            ``next``.
    """
    old = getattr(_owner("SECRET_KEY"), "SECRET_KEY", "")
    bridge = [k for k in dict.fromkeys([old, *keep, keyring.current, *keyring.fallbacks]) if k]
    _write("SECRET_KEY_FALLBACKS", bridge)
    _write("SECRET_KEY", keyring.current)
    # A reader that took the fallbacks from before the bridge and cached them after it dropped
    # the cache would pair them with the new key: drop such a value now.
    drop_stale_cached_settings()


def settle_settings(keyring: Keyring) -> None:
    """The second phase of an update: ``SECRET_KEY_FALLBACKS`` becomes ``keyring.fallbacks``.

    Run it once no reader can still hold a ``SECRET_KEY`` from before
    [bridge_settings][secret_keyring.django.live.bridge_settings]: ``LiveKeyring`` waits a
    settle time for that.
    """
    _write("SECRET_KEY_FALLBACKS", keyring.fallbacks)


def apply_to_settings(keyring: Keyring) -> None:
    """Both phases at once: for a process with no concurrent reader of the settings (start-up,
    a test fixture). A running server's updates go through ``LiveKeyring``, which waits a
    settle time between them.
    """
    bridge_settings(keyring)
    settle_settings(keyring)


def drop_stale_cached_settings() -> bool:
    """Drop a key setting cached by ``LazySettings`` that is not the wrapped object's value.

    Returns:
        Whether a stale value was dropped.
    """
    from django.conf import settings

    holder: Any = settings._wrapped
    cache = settings.__dict__
    dropped = False
    for name in _NAMES:
        cached = cache.get(name, _MISSING)
        if cached is not _MISSING and cached is not getattr(holder, name, _MISSING):
            cache.pop(name, None)
            dropped = True
            logger.debug("secret_keyring: dropped a stale cached settings.%s", name)
    return dropped


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
