"""CachedKeyring: TTL, jitter, single flight, stale-while-revalidate, backoff, fork safety.

Time is a FakeClock; background refreshes run when the test says so (``Spawner``), except in
the tests that need real threads to show concurrency.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable

import pytest

from secret_keyring import CachedKeyring
from secret_keyring.errors import (
    AccessDenied,
    ConfigurationError,
    SourceUnavailable,
)
from secret_keyring.keyring import Keyring
from secret_keyring.testing import FakeClock, StaticProvider
from tests.plugins.leakguard import assert_no_key_material


class Spawner:
    """Collects background refreshes; ``run()`` executes them."""

    def __init__(self) -> None:
        self.pending: list[Callable[[], None]] = []

    def __call__(self, target: Callable[[], None]) -> None:
        self.pending.append(target)

    def run(self) -> int:
        count = len(self.pending)
        while self.pending:
            self.pending.pop(0)()
        return count


def make_cache(
    provider: StaticProvider | None = None, **options: object
) -> tuple[CachedKeyring, StaticProvider, FakeClock, Spawner]:
    provider = provider or StaticProvider()
    clock = FakeClock()
    spawner = Spawner()
    options.setdefault("random", lambda: 0.0)
    cache = CachedKeyring(provider, clock=clock, spawn=spawner, **options)  # type: ignore[arg-type]
    return cache, provider, clock, spawner


def test_first_get_fetches_then_serves_from_memory() -> None:
    cache, provider, clock, spawner = make_cache(ttl=60)
    first = cache.get()
    for _ in range(100):
        assert cache.get() is first
    clock.advance(59.9)
    assert cache.get() is first
    assert provider.fetches == 1
    assert spawner.pending == []


def test_past_ttl_serves_stale_and_refreshes_in_background() -> None:
    cache, provider, clock, spawner = make_cache(ttl=60)
    old = cache.get()
    new = provider.rotate()
    clock.advance(60)
    assert cache.get() is old  # never waits for the backend
    assert cache.get() is old
    assert len(spawner.pending) == 1  # single flight: one refresh however many readers
    spawner.run()
    assert cache.get().same_keys(new)
    assert provider.fetches == 2


def test_jitter_only_shortens_the_ttl() -> None:
    cache, _, clock, _ = make_cache(ttl=100, jitter=0.2, random=lambda: 0.999999)
    cache.get()
    assert cache.next_refresh_at == pytest.approx(clock() + 80.0, abs=0.01)
    cache2, _, clock2, _ = make_cache(ttl=100, jitter=0.2, random=lambda: 0.0)
    cache2.get()
    assert cache2.next_refresh_at == pytest.approx(clock2() + 100.0)


def test_refresh_ignores_ttl() -> None:
    cache, provider, _, _ = make_cache(ttl=3600)
    cache.get()
    new = provider.rotate()
    assert cache.refresh().same_keys(new)
    assert provider.fetches == 2


def test_listener_called_only_when_keys_change() -> None:
    cache, provider, _, _ = make_cache()
    seen: list[Keyring] = []
    cache.add_listener(seen.append)
    cache.get()
    assert len(seen) == 1
    cache.refresh()
    assert len(seen) == 1  # same keys, new fetch
    provider.rotate()
    cache.refresh()
    assert len(seen) == 2


def test_failing_listener_does_not_break_refresh(caplog: pytest.LogCaptureFixture) -> None:
    cache, _, _, _ = make_cache()

    def bad(_: Keyring) -> None:
        raise RuntimeError("listener bug")

    cache.add_listener(bad)
    assert cache.get() is not None
    assert "listener failed" in caplog.text


def test_backoff_doubles_and_caps_while_serving_last_good(
    caplog: pytest.LogCaptureFixture,
) -> None:
    cache, provider, clock, spawner = make_cache(ttl=10, backoff_initial=1, backoff_max=8)
    good = cache.get()
    provider.fail_with(SourceUnavailable("backend down", source="static://test"))
    clock.advance(10)
    delays = []
    for _ in range(6):
        assert cache.get() is good
        spawner.run()
        delays.append(round(cache.next_refresh_at - clock(), 6))
        clock.advance(delays[-1])
    assert delays == [1, 2, 4, 8, 8, 8]
    status = cache.status()
    assert status["failures"] == 6
    assert "SourceUnavailable: backend down" in status["last_error"]
    assert any(r.levelno == logging.WARNING and "failed" in r.getMessage() for r in caplog.records)
    provider.fail_with(None)
    cache.get()
    spawner.run()
    assert cache.status()["failures"] == 0
    assert cache.status()["last_error"] is None


def test_past_max_stale_logs_error_but_serves(caplog: pytest.LogCaptureFixture) -> None:
    cache, provider, clock, spawner = make_cache(ttl=10, max_stale=100)
    good = cache.get()
    provider.fail_with(SourceUnavailable("down", source="s"))
    clock.advance(101)
    assert cache.get() is good
    spawner.run()
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert errors
    assert "max_stale" in errors[-1].getMessage()
    assert cache.status()["stale"] is True


def test_past_max_stale_with_fail_policy_raises() -> None:
    cache, provider, clock, spawner = make_cache(ttl=10, max_stale=100, on_stale="fail")
    cache.get()
    provider.fail_with(SourceUnavailable("down", source="s"))
    clock.advance(50)
    cache.get()  # within max_stale: served
    spawner.run()
    clock.advance(60)
    with pytest.raises(SourceUnavailable, match="max_stale"):
        cache.get()


def test_max_stale_shorter_than_the_ttl_is_still_enforced_on_the_fast_path() -> None:
    """The fast path compares one deadline: the earlier of the refresh and max_stale."""
    cache, provider, clock, spawner = make_cache(ttl=100, max_stale=10, on_stale="fail")
    cache.get()
    clock.advance(10)
    cache.get()  # exactly max_stale old: still served
    clock.advance(0.5)
    with pytest.raises(SourceUnavailable, match="max_stale"):
        cache.get()
    assert spawner.pending == []  # the refresh is not due yet
    assert provider.fetches == 1


def test_the_fast_path_follows_a_deadline_moved_by_a_failed_refresh() -> None:
    cache, provider, clock, spawner = make_cache(ttl=10, backoff_initial=1.0)
    cache.get()
    provider.fail_with(SourceUnavailable("down", source="s"))
    clock.advance(10)
    cache.get()
    spawner.run()  # fails: the next attempt is due 1 s later, not a TTL later
    assert cache.next_refresh_at == pytest.approx(clock() + 1.0)
    clock.advance(0.9)
    cache.get()
    assert spawner.pending == []
    clock.advance(0.1)
    cache.get()
    assert len(spawner.pending) == 1


def test_first_fetch_error_propagates_and_is_in_status() -> None:
    provider = StaticProvider()
    provider.fail_with(AccessDenied("no", source="static://test"))
    cache, _, _, _ = make_cache(provider)
    with pytest.raises(AccessDenied):
        cache.get()
    assert cache.status()["fingerprints"] is None
    assert cache.status()["last_error"] == "AccessDenied: no"
    # The failure set a retry deadline; with nothing cached, get() still fetches (and raises)
    # instead of taking the fast path.
    with pytest.raises(AccessDenied):
        cache.get()


def test_prime_retries_retryable_errors_until_deadline() -> None:
    provider = StaticProvider()
    provider.fail_with(SourceUnavailable("down", source="s"))
    cache, _, clock, _ = make_cache(provider)
    with pytest.raises(SourceUnavailable):
        cache.prime(timeout=10, sleep=clock.sleep)
    assert clock() - 1000.0 == pytest.approx(10.0)
    assert 4 <= provider.fetches <= 12


def test_prime_succeeds_after_transient_errors() -> None:
    provider = StaticProvider()
    provider.fail_with(SourceUnavailable("down", source="s"))
    cache, _, clock, _ = make_cache(provider)

    def sleep(seconds: float) -> None:
        clock.advance(seconds)
        if provider.fetches >= 3:
            provider.fail_with(None)

    assert cache.prime(timeout=30, sleep=sleep).same_keys(provider.keyring)


def test_prime_does_not_retry_access_denied() -> None:
    provider = StaticProvider()
    provider.fail_with(AccessDenied("denied", source="s"))
    cache, _, clock, _ = make_cache(provider)
    with pytest.raises(AccessDenied):
        cache.prime(timeout=30, sleep=clock.sleep)
    assert provider.fetches == 1


def test_status_has_everything_and_no_keys() -> None:
    cache, _provider, clock, _ = make_cache(ttl=60, wall_clock=lambda: 1_700_000_000.0)
    kr = cache.get()
    clock.advance(5)
    status = cache.status()
    assert status["source"] == "static://test"
    assert status["version"] == "1"
    assert status["fetched_at"] == 1_700_000_000.0
    assert status["age"] == pytest.approx(5)
    assert status["next_refresh"] == pytest.approx(55)
    assert status["fingerprints"] == kr.fingerprints
    assert status["last_error"] is None
    assert_no_key_material(repr(status), "status()")
    assert_no_key_material(repr(cache), "repr(cache)")


@pytest.mark.parametrize(
    "options",
    [
        {"ttl": 0},
        {"ttl": -1},
        {"ttl": float("nan")},
        {"ttl": "300"},
        {"jitter": 1.0},
        {"jitter": -0.1},
        {"max_stale": -1},
        {"on_stale": "explode"},
        {"backoff_initial": 0},
        {"backoff_initial": 5, "backoff_max": 1},
    ],
)
def test_bad_options(options: dict[str, object]) -> None:
    with pytest.raises(ConfigurationError):
        CachedKeyring(StaticProvider(), **options)  # type: ignore[arg-type]


# -- real threads --------------------------------------------------------------------------


def test_single_flight_cold_start_with_many_threads() -> None:
    gate = threading.Event()
    provider = StaticProvider(on_fetch=lambda: gate.wait(10))
    cache = CachedKeyring(provider)
    results: list[Keyring] = []
    errors: list[BaseException] = []

    def reader() -> None:
        try:
            results.append(cache.get())
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=reader) for _ in range(32)]
    for t in threads:
        t.start()
    # Release the one fetch only once every other thread is waiting on it.
    deadline = threading.Event()
    for _ in range(1000):
        if provider.fetches == 1:
            break
        deadline.wait(0.005)
    gate.set()
    for t in threads:
        t.join(10)
    assert not errors
    assert len(results) == 32
    assert provider.fetches == 1
    assert all(r is results[0] for r in results)


def test_readers_never_wait_while_a_refresh_is_stuck() -> None:
    gate = threading.Event()
    clock = FakeClock()
    provider = StaticProvider()
    cache = CachedKeyring(provider, ttl=10, clock=clock)
    old = cache.get()
    provider.on_fetch = lambda: gate.wait(10)
    provider.rotate()
    clock.advance(11)
    # The refresh thread is now blocked in the backend; readers still get the old keyring.
    for _ in range(1000):
        assert cache.get() is old
    assert cache.status()["refreshing"] is True
    assert provider.fetches == 2
    gate.set()
    fresh = cache.refresh()  # joins the in-flight refresh
    assert not fresh.same_keys(old)


# Python 3.12+ warns about fork() with threads alive: that is exactly the situation under test.
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_fork_gives_the_child_new_locks_and_no_inflight_refresh() -> None:
    gate = threading.Event()
    clock = FakeClock()
    provider = StaticProvider()
    cache = CachedKeyring(provider, ttl=10, clock=clock)
    cache.get()
    provider.on_fetch = lambda: gate.wait(10)
    clock.advance(11)
    cache.get()  # starts a background refresh that blocks
    assert cache.status()["refreshing"] is True
    parent_lock = cache._lock
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        code = 0
        try:
            provider.on_fetch = None
            if cache._lock is parent_lock or cache.status()["refreshing"]:
                code = 3
            elif cache.refresh() is None:
                code = 4
        except BaseException:  # noqa: BLE001 - report through the exit code
            code = 5
        os._exit(code)
    gate.set()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
