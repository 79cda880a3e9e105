"""CachedKeyring: TTL, jitter, single flight, stale-while-revalidate, backoff, fork safety.

Time is a FakeClock; background refreshes run when the test says so (``Spawner``), except in
the tests that need real threads to show concurrency.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from typing import Any

import pytest

from devservers.processes import wait_until
from secret_keyring import CachedKeyring
from secret_keyring.cache import DEFAULT_REFRESH_TIMEOUT
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


def test_max_stale_before_the_next_attempt_is_still_enforced_on_the_fast_path() -> None:
    """The fast path compares one deadline: the earlier of the next refresh and max_stale.

    A failed refresh with a long backoff puts the next attempt past ``max_stale``: the read at
    ``max_stale`` must still be judged (refreshed in line, which fails, then refused)."""
    cache, provider, clock, spawner = make_cache(
        ttl=10, max_stale=20, on_stale="fail", refresh_timeout=5, backoff_initial=100,
        backoff_max=100,
    )  # fmt: skip
    cache.get()
    provider.fail_with(SourceUnavailable("down", source="s"))
    clock.advance(10)
    cache.get()
    spawner.run()  # fails: the backoff puts the next attempt 100 s later, after max_stale
    clock.advance(10)
    cache.get()  # exactly max_stale old: still served
    clock.advance(0.5)
    with pytest.raises(SourceUnavailable):
        cache.get()
    assert spawner.pending == []  # judged in line, no background refresh due


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
    # Retried until the last attempt's reserve (a second) is all that is left.
    assert 9.0 - 0.01 <= clock() - 1000.0 <= 9.0
    assert 4 <= provider.fetches <= 12


def test_prime_reports_the_last_error_as_it_was_and_gives_the_last_attempt_time() -> None:
    """A refused connection at every attempt: the last attempt must not be squeezed into the
    deadline's last instant (where it was cut off at once and the message said the backend
    "accepts connections but does not respond"): the error is the refused connection."""
    provider = StaticProvider()
    provider.fail_with(SourceUnavailable("cannot connect (refused)", source="s"))
    cache, _, clock, _ = make_cache(provider)
    pauses: list[float] = []

    def sleep(seconds: float) -> None:
        pauses.append(seconds)
        clock.advance(seconds)

    with pytest.raises(SourceUnavailable) as caught:
        cache.prime(timeout=1.0, sleep=sleep)
    message = str(caught.value)
    assert "cannot connect (refused)" in message
    assert "does not respond" not in message
    assert "no answer within" not in message
    assert clock() - 1000.0 < 1.0  # every attempt, the last one included, began before it
    assert provider.fetches == len(pauses) + 1


def test_prime_timeout_message_tells_a_hung_attempt_from_an_earlier_failure() -> None:
    """The last attempt hangs (a backend that accepts connections and never answers): the
    message says so, and labels the earlier attempt's error as the earlier one's."""
    provider = StaticProvider()
    provider.fail_with(SourceUnavailable("cannot connect (refused)", source="s"))
    cache, _, clock, _ = make_cache(provider)
    release = threading.Event()

    def sleep(seconds: float) -> None:
        clock.advance(seconds)
        provider.fail_with(None)
        provider.fetch = _hanging(provider.fetch, release, clock)  # type: ignore[method-assign]

    try:
        with pytest.raises(SourceUnavailable) as caught:
            cache.prime(timeout=1.0, sleep=sleep)
    finally:
        release.set()
    message = str(caught.value)
    assert "the last attempt was still waiting for the backend" in message
    assert "an earlier attempt failed: SourceUnavailable: cannot connect (refused)" in message


def _hanging(
    fetch: Callable[[], Keyring], release: threading.Event, clock: FakeClock
) -> Callable[[], Keyring]:
    """``fetch`` that first lets the whole start-up timeout pass on ``clock``, then waits until
    ``release`` (the caller's deadline has passed by then)."""

    def hang() -> Keyring:
        clock.advance(3600)
        release.wait(30)
        return fetch()

    return hang


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


# -- the watchdog, frozen processes, on_stale="fail" ---------------------------------------


class Threads:
    """A ``spawn`` that starts real threads and keeps them, so a test can wait for them."""

    def __init__(self) -> None:
        self.started: list[threading.Thread] = []

    def __call__(self, target: Callable[[], None]) -> None:
        thread = threading.Thread(target=target, daemon=True)
        self.started.append(thread)
        thread.start()

    def join_all(self) -> None:
        for thread in self.started:
            thread.join(10)


class Held:
    """An ``on_fetch`` hook that holds a fetch until released, and says when one is held."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()

    def __call__(self) -> None:
        self.entered.set()
        self.release.wait(30)


def start_a_hung_refresh(
    **options: object,
) -> tuple[CachedKeyring, StaticProvider, FakeClock, Threads, Held]:
    """Prime a cache whose ``spawn`` starts real threads (time is still a FakeClock), then let
    the TTL run out: the refresh that starts hangs in the backend until ``Held.release``."""
    threads, clock, provider, held = Threads(), FakeClock(), StaticProvider(), Held()
    options = {"ttl": 10, "refresh_timeout": 30, "random": lambda: 0.0, **options}
    cache = CachedKeyring(provider, clock=clock, spawn=threads, **options)  # type: ignore[arg-type]
    old = cache.get()
    provider.on_fetch = held
    clock.advance(cache.ttl)
    assert cache.get() is old
    assert held.entered.wait(10)
    return cache, provider, clock, threads, held


def test_watchdog_counts_a_hung_refresh_as_failed_and_lets_the_next_one_start(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A fetch that never returns (a server that accepts and never answers): past
    ``refresh_timeout`` on the injected clock it is a failure like any other."""
    caplog.set_level(logging.INFO, logger="secret_keyring")
    cache, provider, clock, threads, held = start_a_hung_refresh(max_stale=35, backoff_initial=2)
    old = cache.get()
    clock.advance(29.9)
    assert cache.get() is old
    assert cache.status()["failures"] == 0  # still within refresh_timeout

    caplog.clear()
    clock.advance(0.1)
    assert cache.get() is old  # the watchdog fires
    status = cache.status()
    assert status["failures"] == 1
    assert status["refreshing"] is False
    assert "refresh_timeout=30s" in status["last_error"]
    assert "does not answer" in status["last_error"]
    record = next(r for r in caplog.records if "refresh_timeout" in r.getMessage())
    assert record.levelno == logging.ERROR  # the keyring is 40 s old, past max_stale=35
    assert "PAST max_stale" in record.getMessage()
    assert cache.next_refresh_at == pytest.approx(clock() + 2)  # backoff applies

    # After the backoff a new attempt starts (the hung thread is abandoned) and succeeds.
    provider.on_fetch = None
    new = provider.rotate()
    clock.advance(2)
    cache.get()
    threads.started[-1].join(10)
    assert cache.get().same_keys(new)
    assert cache.status()["failures"] == 0
    assert provider.fetches == 3

    # The abandoned fetch answers at last: a newer keyring landed meanwhile, it is dropped.
    held.release.set()
    threads.join_all()
    assert cache.get().same_keys(new)
    assert "abandoned by the watchdog has answered" in caplog.text


def test_watchdog_releases_a_blocking_refresh_waiting_on_a_hung_one() -> None:
    cache, _, clock, threads, held = start_a_hung_refresh()
    clock.advance(31)  # refresh() finds the one in flight past the bound: it does not wait
    with pytest.raises(SourceUnavailable, match="refresh_timeout"):
        cache.refresh()
    held.release.set()
    threads.join_all()


def test_an_abandoned_refresh_that_answers_first_is_kept() -> None:
    cache, provider, clock, threads, held = start_a_hung_refresh()
    new = provider.rotate()  # what the hung fetch returns once released
    clock.advance(30)
    cache.get()  # abandoned
    assert cache.status()["failures"] == 1
    held.release.set()
    threads.join_all()
    assert cache.get().same_keys(new)  # nothing newer had landed: its keyring is good
    assert cache.status()["failures"] == 0


class NeverRuns:
    """The ``spawn`` of a frozen execution environment (AWS Lambda between invocations): the
    background refresh is handed over and never gets to run."""

    def __init__(self) -> None:
        self.handed: list[Callable[[], None]] = []

    def __call__(self, target: Callable[[], None]) -> None:
        self.handed.append(target)


def test_a_refresh_that_has_not_begun_is_taken_over_in_line_this_once_only(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """One late thread start (a loaded host, a GC pause) costs one in-line refresh; the next
    refresh is spawned in the background again, so readers go back to never waiting."""
    spawn = NeverRuns()
    clock = FakeClock()
    provider = StaticProvider()
    cache = CachedKeyring(provider, ttl=60, clock=clock, spawn=spawn, random=lambda: 0.0)
    old = cache.get()
    second = provider.rotate()
    clock.advance(60)
    assert cache.get() is old  # hands a refresh to spawn, which does not run it (yet)
    assert len(spawn.handed) == 1
    clock.advance(0.5)
    assert cache.get() is old  # it may simply not have been scheduled yet

    clock.advance(0.5)  # the next get() a second later: it has not begun, so refresh in line
    assert cache.get().same_keys(second)
    assert provider.fetches == 2
    assert cache.status()["failures"] == 0  # the backend did nothing wrong
    assert cache.status()["refresh_mode"] == "background"
    assert "has not begun running" in caplog.text
    assert "this once" in caplog.text

    # Threads run again: the next due refresh is handed to spawn, and get() does not wait.
    third = provider.rotate()
    clock.advance(60)
    assert cache.get().same_keys(second)
    assert len(spawn.handed) == 2
    assert provider.fetches == 2
    spawn.handed[1]()
    assert cache.get().same_keys(third)
    assert provider.fetches == 3

    # The refresh handed over at first, if the process ever runs it, finds itself replaced.
    spawn.handed[0]()
    assert provider.fetches == 3


@pytest.mark.parametrize(
    ("mode", "lambda_env", "in_line"),
    [
        ("inline", None, True),
        ("auto", "my-function", True),
        ("auto", None, False),
        ("background", "my-function", False),
    ],
)
def test_refresh_mode_decides_where_a_due_refresh_runs(
    monkeypatch: pytest.MonkeyPatch, mode: str, lambda_env: str | None, in_line: bool
) -> None:
    """In a process frozen between requests (AWS Lambda, detected by the variable every Lambda
    environment sets, or said with ``refresh_mode="inline"``) the get() past the TTL refreshes
    in line every time; elsewhere in the background."""
    if lambda_env is None:
        monkeypatch.delenv("AWS_LAMBDA_FUNCTION_NAME", raising=False)
    else:
        monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", lambda_env)
    cache, provider, clock, spawner = make_cache(ttl=60, refresh_mode=mode)
    old = cache.get()
    assert cache.status()["refresh_mode"] == ("inline" if in_line else "background")
    for _ in range(2):
        new = provider.rotate()
        clock.advance(60)
        assert cache.get().same_keys(new if in_line else old)
        assert len(spawner.pending) == (0 if in_line else 1)
        spawner.run()
        old = cache.get()
        assert old.same_keys(new)


def test_refresh_mode_must_be_one_of_three() -> None:
    with pytest.raises(ConfigurationError, match="refresh_mode must be 'auto', 'background'"):
        CachedKeyring(StaticProvider(), refresh_mode="sometimes")  # type: ignore[arg-type]


def test_an_inline_refresh_waits_at_most_refresh_timeout() -> None:
    spawn = NeverRuns()
    clock = FakeClock()
    held = Held()
    provider = StaticProvider()
    cache = CachedKeyring(provider, ttl=60, refresh_timeout=0.05, clock=clock, spawn=spawn)
    old = cache.get()
    clock.advance(60)
    cache.get()
    clock.advance(1)
    provider.on_fetch = held
    assert cache.get() is old  # waited 0.05 s (real time: the helper thread) and gave up
    assert held.entered.is_set()
    assert cache.status()["refreshing"] is True
    held.release.set()


def test_fail_policy_refuses_a_max_stale_shorter_than_a_healthy_keyring_lives() -> None:
    with pytest.raises(ConfigurationError) as caught:
        CachedKeyring(StaticProvider(), ttl=300, max_stale=60, on_stale="fail")
    message = str(caught.value)
    assert "max_stale" in message
    assert "ttl" in message
    assert "refresh_timeout" in message
    # With "serve" the same numbers only decide when ERROR is logged.
    CachedKeyring(StaticProvider(), ttl=300, max_stale=60, on_stale="serve")
    CachedKeyring(StaticProvider(), ttl=300, max_stale=330, on_stale="fail", refresh_timeout=30)


def test_fail_policy_refreshes_in_line_a_keyring_past_max_stale_instead_of_failing() -> None:
    """A process that served no request for longer than max_stale (a quiet night) has a healthy
    backend: its first get() refreshes rather than raising."""
    cache, provider, clock, spawner = make_cache(
        ttl=10, max_stale=100, on_stale="fail", refresh_timeout=5
    )
    cache.get()
    new = provider.rotate()
    clock.advance(500)
    assert cache.get().same_keys(new)
    assert spawner.pending == []
    assert provider.fetches == 2


def test_refresh_timeout_defaults_to_what_the_provider_says_a_fetch_can_take() -> None:
    class Slow(StaticProvider):
        fetch_timeout = 42.0

    assert CachedKeyring(Slow()).refresh_timeout == 42.0
    assert CachedKeyring(Slow(), refresh_timeout=7).refresh_timeout == 7.0
    assert CachedKeyring(StaticProvider()).refresh_timeout == DEFAULT_REFRESH_TIMEOUT
    with pytest.raises(ConfigurationError, match="refresh_timeout"):
        CachedKeyring(StaticProvider(), refresh_timeout=0)


def wait_for_waiters(cache: CachedKeyring, count: int) -> None:
    """Until ``count`` threads wait on the cache's condition (a readiness check, bounded)."""
    done = threading.Event()
    for _ in range(2000):
        if len(cache._cond._waiters) >= count:  # type: ignore[attr-defined]  # CPython's Condition
            return
        done.wait(0.005)
    raise AssertionError(f"{count} thread(s) never waited on the cache")


def _fail_policy_cache(provider: StaticProvider, clock: FakeClock, **options: Any) -> CachedKeyring:
    """The cache the on_stale="fail" tests share: ttl 10 s, max_stale 100 s, no jitter."""
    defaults: dict[str, Any] = {
        "ttl": 10,
        "max_stale": 100,
        "on_stale": "fail",
        "random": lambda: 0.0,
    }
    return CachedKeyring(provider, clock=clock, **{**defaults, **options})


def test_fail_policy_waits_for_a_healthy_refresh_in_flight_instead_of_failing() -> None:
    """After an idle spell longer than max_stale, the first request refreshes in line; a
    concurrent one must wait for that refresh, not raise "refreshes are failing" while nothing
    has failed."""
    threads, clock, provider, held = Threads(), FakeClock(), StaticProvider(), Held()
    cache = _fail_policy_cache(provider, clock, refresh_timeout=30, spawn=threads)
    cache.get()
    new = provider.rotate()
    clock.advance(500)
    provider.on_fetch = held
    results: list[object] = []

    def reader() -> None:
        try:
            results.append(cache.get())
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            results.append(exc)

    first = threading.Thread(target=reader)
    first.start()
    assert held.entered.wait(10)  # the first request's in-line refresh is in the backend
    second = threading.Thread(target=reader)
    second.start()
    wait_for_waiters(cache, 1)  # the second request waits for it rather than raising
    held.release.set()
    first.join(10)
    second.join(10)
    assert len(results) == 2
    for result in results:
        assert isinstance(result, Keyring), result
        assert result.same_keys(new)
    assert provider.fetches == 2


def test_fail_policy_says_a_refresh_is_slow_not_failing_when_none_failed() -> None:
    """Past max_stale, an in-line refresh still waiting at refresh_timeout: the error names
    that, not a failure that did not happen (and never "None" for the last error)."""
    clock, provider, held = FakeClock(), StaticProvider(), Held()
    cache = _fail_policy_cache(provider, clock, refresh_timeout=0.05, spawn=NeverRuns())
    cache.get()
    clock.advance(500)
    provider.on_fetch = held
    with pytest.raises(SourceUnavailable) as caught:
        cache.get()  # waits 0.05 s (real time: the helper thread) and gives up
    message = str(caught.value)
    assert "has not answered within refresh_timeout=0.05s" in message
    assert "failing" not in message
    assert "None" not in message
    held.release.set()


def test_fail_policy_does_not_wait_when_refreshes_are_failing() -> None:
    """With a failure on record, a concurrent request past max_stale fails at once (naming the
    error) rather than queueing behind the retry."""
    threads, clock, provider, held = Threads(), FakeClock(), StaticProvider(), Held()
    cache = _fail_policy_cache(
        provider, clock, refresh_timeout=30, spawn=threads, backoff_initial=1
    )
    cache.get()
    clock.advance(500)
    provider.fail_with(SourceUnavailable("static://test: connection refused"))
    with pytest.raises(SourceUnavailable, match="refreshes are failing"):
        cache.get()
    provider.fail_with(None)
    provider.on_fetch = held
    clock.advance(1)
    retried: list[Keyring] = []
    retry = threading.Thread(target=lambda: retried.append(cache.get()))
    retry.start()
    assert held.entered.wait(10)
    with pytest.raises(SourceUnavailable, match="connection refused"):
        cache.get()
    held.release.set()
    retry.join(10)
    assert len(retried) == 1  # the retry itself succeeded, and served its caller


# -- a forked child whose keyring came from its parent ---------------------------------------


def test_an_inherited_keyring_past_its_ttl_is_refreshed_in_line_before_it_is_served() -> None:
    """What a child of gunicorn --preload's master sees (``_after_fork`` as the fork runs it;
    the real fork is in tests/reliability/test_fork_children.py): the master fetched at boot and
    never refreshed, two rotations ago. The first get() must not serve the boot keyring."""
    cache, provider, clock, spawner = make_cache(ttl=60)
    boot = cache.get()
    provider.rotate()
    current = provider.rotate()
    clock.advance(600)
    cache._after_fork()
    served = cache.get()
    assert served.same_keys(current), "served the master's boot keyring"
    assert not served.same_keys(boot)
    assert spawner.pending == []
    # Later refreshes are as in any process: in the background.
    newer = provider.rotate()
    clock.advance(60)
    assert cache.get().same_keys(current)
    assert len(spawner.pending) == 1
    spawner.run()
    assert cache.get().same_keys(newer)


def test_an_inherited_keyring_within_its_ttl_is_served_as_is() -> None:
    cache, provider, clock, _ = make_cache(ttl=60)
    boot = cache.get()
    provider.rotate()
    clock.advance(30)
    cache._after_fork()
    assert cache.get() is boot
    assert provider.fetches == 1


def test_a_child_that_refreshed_on_its_own_refreshes_in_the_background_afterwards() -> None:
    """An explicit refresh() in the child (``secret_key_status --refresh``) replaces the
    inherited keyring: the next due refresh is a background one, as in any process."""
    cache, provider, clock, spawner = make_cache(ttl=60)
    cache.get()
    clock.advance(30)
    cache._after_fork()
    fresh = cache.refresh()
    provider.rotate()
    clock.advance(60)
    assert cache.get() is fresh
    assert len(spawner.pending) == 1


def test_a_child_that_cannot_refresh_its_inherited_keyring_warns_and_serves_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    cache, provider, clock, spawner = make_cache(ttl=60, refresh_timeout=5)
    boot = cache.get()
    clock.advance(600)
    cache._after_fork()
    provider.fail_with(SourceUnavailable("static://test: connection refused"))
    assert cache.get() is boot  # the usual stale rules: on_stale="serve"
    record = next(r for r in caplog.records if "started behind" in r.getMessage())
    assert record.levelno == logging.WARNING
    assert "connection refused" in record.getMessage()
    assert boot.fingerprints["current"] in record.getMessage()
    assert cache.status()["failures"] == 1
    # One wait per fork: the retry after the backoff runs in the background.
    provider.fail_with(None)
    clock.advance(5)
    assert cache.get() is boot
    assert len(spawner.pending) == 1


def test_a_child_waits_for_its_inherited_refresh_only_briefly_when_the_backend_hangs(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A backend that accepts connections and never answers must not hold a recycled worker's
    first requests for refresh_timeout (90 s for Vault's defaults): past gunicorn's worker
    timeout, the replacement would inherit the same keyring and hang too. The wait is bounded
    by _INHERITED_WAIT (here shortened, so the test takes real milliseconds); the fetch goes
    on and lands when it answers."""
    import secret_keyring.cache as cache_module

    monkeypatch.setattr(cache_module, "_INHERITED_WAIT", 0.05)
    threads, clock, provider, held = Threads(), FakeClock(), StaticProvider(), Held()
    cache = CachedKeyring(
        provider, ttl=10, refresh_timeout=90, clock=clock, spawn=threads, random=lambda: 0.0
    )
    boot = cache.get()
    current = provider.rotate()
    clock.advance(100)
    cache._after_fork()
    provider.on_fetch = held
    try:
        assert cache.get() is boot  # served after the short wait, not after 90 s
        record = next(r for r in caplog.records if "started behind" in r.getMessage())
        assert "has not answered within 0.05s" in record.getMessage()
        clock.advance(0.1)  # past the bound, on the cache's clock
        assert cache.get() is boot  # a later reader does not wait on it either
    finally:
        held.release.set()
    wait_until(
        lambda: cache.keyring is not None and cache.keyring.same_keys(current),
        10,
        "the refresh to land once the backend answers",
    )


def test_an_in_line_refresh_whose_thread_cannot_start_is_not_left_in_flight(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Thread exhaustion: nothing runs the fetch, so nothing may stay "refreshing" (the watchdog
    would later blame the backend, and readers of a forked child would wait on nothing)."""
    cache, provider, clock, _ = make_cache(ttl=60, refresh_timeout=30, refresh_mode="inline")
    boot = cache.get()
    provider.rotate()
    clock.advance(100)

    def no_thread(self: threading.Thread) -> None:
        raise RuntimeError("can't start new thread")

    with monkeypatch.context() as patched:
        patched.setattr(threading.Thread, "start", no_thread)
        assert cache.get() is boot
    assert cache.status()["refreshing"] is False
    assert not cache.get().same_keys(boot)  # the next get() refreshes at once


def test_concurrent_readers_in_a_child_wait_for_the_inherited_keyrings_refresh() -> None:
    threads, clock, provider, held = Threads(), FakeClock(), StaticProvider(), Held()
    cache = CachedKeyring(
        provider, ttl=10, refresh_timeout=30, clock=clock, spawn=threads, random=lambda: 0.0
    )
    cache.get()
    current = provider.rotate()
    clock.advance(100)
    cache._after_fork()
    provider.on_fetch = held
    results: list[Keyring] = []
    first = threading.Thread(target=lambda: results.append(cache.get()))
    first.start()
    assert held.entered.wait(10)
    second = threading.Thread(target=lambda: results.append(cache.get()))
    second.start()
    wait_for_waiters(cache, 1)
    held.release.set()
    first.join(10)
    second.join(10)
    assert len(results) == 2
    assert all(result.same_keys(current) for result in results)
    assert provider.fetches == 2
