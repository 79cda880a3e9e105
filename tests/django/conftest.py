"""Fixtures for the Django test project: a controllable clock behind the real live-refresh path."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.contrib.auth.models import User

from secret_keyring import CachedKeyring, Keyring, Provider
from secret_keyring.django import live
from secret_keyring.keygen import rotate
from secret_keyring.payload import keyring_to_json, parse_payload
from secret_keyring.testing import FakeClock


@dataclass
class LiveSite:
    """The running test project's keyring: rotate the file, move the clock."""

    path: Path
    clock: FakeClock
    cache: CachedKeyring
    live: live.LiveKeyring

    def stored(self) -> Keyring:
        return parse_payload(self.path.read_bytes()).to_keyring()

    def rotate(self, max_fallbacks: int = 3) -> Keyring:
        new = rotate(self.stored(), max_fallbacks)
        self.write(new)
        return new

    def write(self, keyring: Keyring) -> None:
        self.path.write_text(keyring_to_json(keyring))

    def pass_ttl(self) -> None:
        self.clock.advance(self.cache.ttl + 0.001)

    def settle(self) -> None:
        """Let the last update's settle time pass and run the check that writes its final
        fallbacks (nothing of the TTL passes: no refresh starts)."""
        self.clock.advance(live._SETTLE_SECONDS)
        self.live.check()


def _inline(target: Callable[[], None]) -> None:
    target()


@pytest.fixture
def site(keep_live: None) -> Iterator[LiveSite]:
    """Swap in a cache with a fake clock around the project's own provider (file://); the file is
    put back after the test, and ``keep_live`` puts back the project's live keyring."""
    original = live.active()
    assert original is not None, "the test settings call secret_keys()"
    path = Path(os.environ["SECRET_KEYRING_TEST_FILE"])
    saved = path.read_bytes()
    clock = FakeClock()
    cache = CachedKeyring(
        original.cache.provider, ttl=original.cache.ttl, clock=clock, spawn=_inline, jitter=0.0
    )
    keyring = cache.get()
    swapped = live.activate(cache, keyring)
    swapped.clock = clock
    try:
        yield LiveSite(path, clock, cache, swapped)
    finally:
        path.write_bytes(saved)


@pytest.fixture
def live_site(
    keep_live: None,
) -> Callable[[Provider, float], tuple[CachedKeyring, FakeClock]]:
    """Make any provider the running project's keyring source, behind a fake clock.

    The request_started hook, the cache and the settings update are the real ones; only time is
    injected, and background refreshes run inline so the request that triggers them applies them.
    ``keep_live`` puts the project's live keyring and settings back.
    """
    assert live.active() is not None, "the test settings call secret_keys()"

    def install(provider: Provider, ttl: float = 60.0) -> tuple[CachedKeyring, FakeClock]:
        clock = FakeClock()
        cache = CachedKeyring(provider, ttl=ttl, clock=clock, spawn=_inline, jitter=0.0)
        keyring = cache.get()
        live.apply_to_settings(keyring)
        swapped = live.activate(cache, keyring)
        swapped.clock = clock
        return cache, clock

    return install


@pytest.fixture
def user(db: None) -> User:
    return User.objects.create_user("alice", password="wonderland-pass")
