"""Fakes for your own tests: a provider you control and a clock you move by hand.

Example::

    from secret_keyring.testing import FakeClock, StaticProvider
    from secret_keyring import CachedKeyring

    provider = StaticProvider()          # a fresh random keyring
    clock = FakeClock()
    cache = CachedKeyring(provider, ttl=60, clock=clock, spawn=lambda run: run())
    provider.rotate()                    # the rotation rule, as the real handlers apply it
    clock.advance(61)
    cache.get()                          # refreshes inline: spawn ran it synchronously
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from secret_keyring.errors import SecretKeyringError
from secret_keyring.keygen import new_keyring, rotate
from secret_keyring.keyring import Keyring

__all__ = ["FakeClock", "StaticProvider"]


class FakeClock:
    """A monotonic clock that moves only when told to (seconds)."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move time forward."""
        self.now += seconds

    def sleep(self, seconds: float) -> None:
        """A ``time.sleep`` stand-in that advances the clock instead of waiting."""
        self.advance(seconds)


class StaticProvider:
    """A provider holding a keyring in memory, with call counting and error injection.

    Args:
        keyring: the keyring to serve (default: a fresh random one).
        source: the source name shown in messages.
        on_fetch: called at the start of each fetch (e.g. an ``Event.wait`` to hold it).
    """

    def __init__(
        self,
        keyring: Keyring | None = None,
        *,
        source: str = "static://test",
        on_fetch: Callable[[], None] | None = None,
    ) -> None:
        self._source = source
        self._keyring = keyring or new_keyring()
        self._version = 1
        self.fetches = 0
        self.error: SecretKeyringError | None = None
        self.on_fetch = on_fetch
        self._lock = threading.Lock()

    @property
    def source(self) -> str:
        """The source name."""
        return self._source

    @property
    def keyring(self) -> Keyring:
        """The keyring the next fetch returns (without version/source)."""
        return self._keyring

    def set(self, keyring: Keyring) -> None:
        """Serve ``keyring`` from now on."""
        with self._lock:
            self._keyring = keyring
            self._version += 1

    def rotate(self, max_fallbacks: int = 3) -> Keyring:
        """Apply the rotation rule to the served keyring and return the new one."""
        self.set(rotate(self._keyring, max_fallbacks))
        return self._keyring

    def fail_with(self, error: SecretKeyringError | None) -> None:
        """Make every fetch raise ``error`` (``None`` to recover)."""
        self.error = error

    def fetch(self) -> Keyring:
        """Return the served keyring, or raise the injected error.

        Raises:
            SecretKeyringError: the error set with
                [fail_with][secret_keyring.testing.StaticProvider.fail_with].
        """
        with self._lock:
            self.fetches += 1
        if self.on_fetch is not None:
            self.on_fetch()
        if self.error is not None:
            raise self.error
        kr = self._keyring
        return Keyring(
            current=kr.current,
            next=kr.next,
            previous=kr.previous,
            version=str(self._version),
            source=self._source,
            adopted=kr.adopted,
        )
