"""CachedKeyring: a keyring that stays current without ever making a reader wait.

* The first [CachedKeyring.get][secret_keyring.CachedKeyring.get] fetches (blocking); after
  that ``get()`` only reads memory. When the TTL has run out, ``get()`` starts one background
  refresh and returns the keyring it has (stale-while-revalidate).
* One backend call per process per refresh, however many threads ask (single flight).
* The TTL is shortened by up to ``jitter`` (a fraction) so a fleet does not refresh in lockstep,
  and a cached keyring is never older than ``ttl`` while the backend answers.
* On errors: exponential backoff capped at ``backoff_max`` (default: the TTL); the last good
  keyring keeps being served, with a WARNING per failed refresh, then ERROR once it is older than
  ``max_stale``; with ``on_stale="fail"``, ``get()`` raises instead.
* Fork-safe: a child process gets new locks and no in-flight refresh from its parent.

Every duration is in seconds; all timing uses an injectable monotonic clock.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import random
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any, Literal

from secret_keyring.errors import (
    ConfigurationError,
    SecretKeyringError,
    SourceUnavailable,
    clear_locals,
)
from secret_keyring.keyring import Keyring
from secret_keyring.providers.base import Provider

__all__ = ["CachedKeyring"]

logger = logging.getLogger("secret_keyring")

Listener = Callable[[Keyring], None]


def _start_daemon_thread(target: Callable[[], None]) -> None:
    threading.Thread(target=target, name="secret-keyring-refresh", daemon=True).start()


class CachedKeyring:
    """Caches a provider's keyring with a TTL and refreshes it in the background.

    Args:
        provider: where keyrings come from.
        ttl: seconds a keyring is fresh; also the longest a process lags behind a rotation.
        jitter: fraction (0 to <1) by which each TTL is randomly shortened.
        max_stale: seconds the last good keyring is served while the backend fails.
        on_stale: past ``max_stale``, ``"serve"`` (log ERROR, keep serving) or ``"fail"``
            (``get()`` raises [SourceUnavailable][secret_keyring.errors.SourceUnavailable]).
        backoff_initial: first retry delay after a failed refresh, in seconds.
        backoff_max: longest retry delay, in seconds (default: ``ttl``).
        clock: monotonic clock (seconds).
        wall_clock: wall clock for ``status()`` timestamps (seconds since the epoch).
        random: a ``() -> float in [0, 1)`` source for jitter.
        spawn: runs a background refresh; default starts a daemon thread. Tests pass a
            function that runs it inline or records it.

    Raises:
        ConfigurationError: an option is out of range.
    """

    def __init__(
        self,
        provider: Provider,
        *,
        ttl: float = 300.0,
        jitter: float = 0.1,
        max_stale: float = 86400.0,
        on_stale: Literal["serve", "fail"] = "serve",
        backoff_initial: float = 1.0,
        backoff_max: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        random: Callable[[], float] = random.random,
        spawn: Callable[[Callable[[], None]], None] = _start_daemon_thread,
    ) -> None:
        _check_number("ttl", ttl, minimum=0.0, exclusive=True)
        _check_number("jitter", jitter, minimum=0.0, maximum=1.0, exclusive_max=True)
        _check_number("max_stale", max_stale, minimum=0.0)
        _check_number("backoff_initial", backoff_initial, minimum=0.0, exclusive=True)
        if backoff_max is not None:
            _check_number("backoff_max", backoff_max, minimum=backoff_initial)
        if on_stale not in ("serve", "fail"):
            raise ConfigurationError(
                f"on_stale must be 'serve' or 'fail', got {on_stale!r}",
            )
        self.provider = provider
        self.ttl = float(ttl)
        self.jitter = float(jitter)
        self.max_stale = float(max_stale)
        self.on_stale = on_stale
        # How old a served keyring may be: unbounded with "serve" (it logs ERROR instead).
        self._stale_limit = self.max_stale if on_stale == "fail" else math.inf
        self.backoff_initial = float(backoff_initial)
        self.backoff_max = (
            float(backoff_max) if backoff_max is not None else max(ttl, backoff_initial)
        )
        self._clock = clock
        self._wall_clock = wall_clock
        self._random = random
        self._spawn = spawn
        self._keyring: Keyring | None = None
        self._fetched_at_value = 0.0
        self._next_refresh_value = 0.0
        self._serve_until = -math.inf  # kept by the two setters below
        self._fetched_at_wall: float | None = None
        self._failures = 0
        self._last_error: str | None = None
        self._last_error_at: float | None = None
        self._last_exception: BaseException | None = None
        self._attempts = 0
        self._refreshing = False
        self._listeners: list[Listener] = []
        self._new_locks()
        _live.add(self)

    # -- reading ------------------------------------------------------------------------------

    def get(self) -> Keyring:
        """Return the keyring; never waits on the backend once primed.

        Raises:
            SecretKeyringError: the first fetch failed (nothing to serve yet).
            SourceUnavailable: with ``on_stale="fail"``, the keyring is older than ``max_stale``.
        """
        # The primed fast path: one clock read and one comparison against the earlier of the
        # refresh deadline and the max_stale limit (-inf while nothing is cached, so a keyring
        # is always there to return); everything else is past that deadline.
        if self._clock() < self._serve_until:
            return self._keyring  # type: ignore[return-value]  # never None here, see above
        keyring = self._keyring
        if keyring is None:
            return self.refresh()
        now = self._clock()
        if now >= self._next_refresh:
            self._start_background_refresh()
        # Checked on every read, not only when a refresh is due: between two retries (the
        # backoff window) a keyring past max_stale is just as stale.
        if now - self._fetched_at > self._stale_limit:
            raise SourceUnavailable(
                f"{self.provider.source}: the cached keyring is {now - self._fetched_at:.0f}s "
                f"old, past max_stale={self.max_stale:.0f}s, and refreshes are failing "
                f"({self._last_error}); fix the backend or raise max_stale",
                source=self.provider.source,
            )
        return keyring

    # The two deadlines the fast path of get() folds into one (_serve_until), kept in step by
    # whatever code moves them; a keyring is cached before they are moved after a fetch.
    @property
    def _next_refresh(self) -> float:
        return self._next_refresh_value

    @_next_refresh.setter
    def _next_refresh(self, value: float) -> None:
        self._next_refresh_value = value
        self._sync_fast_path()

    @property
    def _fetched_at(self) -> float:
        return self._fetched_at_value

    @_fetched_at.setter
    def _fetched_at(self, value: float) -> None:
        self._fetched_at_value = value
        self._sync_fast_path()

    def _sync_fast_path(self) -> None:
        self._serve_until = self.next_refresh_at if self._keyring is not None else -math.inf

    @property
    def next_refresh_at(self) -> float:
        """Monotonic time at which ``get()`` will start the next refresh or, with
        ``on_stale="fail"``, start refusing a keyring older than ``max_stale``, if that
        comes first."""
        return min(self._next_refresh, self._fetched_at + self._stale_limit)

    @property
    def keyring(self) -> Keyring | None:
        """The cached keyring, or ``None`` before the first successful fetch; no I/O."""
        return self._keyring

    def refresh(self) -> Keyring:
        """Fetch now, ignoring the TTL (blocking); joins a refresh already in flight.

        Providers are version-aware, so an unchanged secret costs only a version check.

        Raises:
            SecretKeyringError: the fetch failed. The cached keyring, if any, is kept.
        """
        with self._cond:
            if self._refreshing:
                attempt = self._attempts
                while self._attempts == attempt:
                    self._cond.wait()
                if self._last_exception is None and self._keyring is not None:
                    return self._keyring
                raise self._waiter_error()
            self._refreshing = True
        return self._run_refresh()

    def prime(
        self, timeout: float = 30.0, *, sleep: Callable[[float], None] = time.sleep
    ) -> Keyring:
        """Fetch the first keyring, retrying retryable errors with backoff for up to ``timeout``.

        ``timeout`` bounds the whole start-up, not only the retries: each attempt runs in a
        helper thread and is waited for at most the time left, because a backend that accepts
        connections and never answers is held only by the provider's per-request timeouts
        (5 s per request and address, more with boto3's retries) and a hung name lookup by
        nothing at all. An attempt still running at the deadline is left to finish in the
        background (its result still lands in the cache). ``timeout=0`` makes one attempt in
        the calling thread, bounded only by the provider's own timeouts.

        Raises:
            SecretKeyringError: a non-retryable error, or the last error once ``timeout`` ran out.
            SourceUnavailable: an attempt was still waiting for the backend at the deadline.
            ConfigurationError: ``timeout`` is negative or not a number.
        """
        _check_number("startup timeout", timeout, minimum=0.0)
        if timeout == 0:
            return self.refresh()
        deadline = self._clock() + timeout
        delay = min(0.25, self.backoff_initial)
        while True:
            try:
                return self._attempt_within(deadline, timeout)
            except SecretKeyringError as exc:
                remaining = deadline - self._clock()
                if not getattr(exc, "retryable", False) or remaining <= 0:
                    raise
                logger.warning(
                    "secret_keyring: start-up fetch from %s failed (%s); retrying in %.2fs",
                    self.provider.source,
                    exc,
                    min(delay, remaining),
                )
                sleep(min(delay, remaining))
                delay = min(delay * 2, 5.0)

    def _attempt_within(self, deadline: float, timeout: float) -> Keyring:
        """One ``refresh()`` in a helper thread, waited for until ``deadline`` at most."""
        outcome: list[Keyring | BaseException] = []

        def attempt() -> None:
            try:
                outcome.append(self.refresh())
            except BaseException as exc:  # noqa: BLE001 - handed to the waiting thread
                outcome.append(exc)

        worker = threading.Thread(target=attempt, name="secret-keyring-prime", daemon=True)
        worker.start()
        worker.join(max(0.0, deadline - self._clock()))
        if worker.is_alive() or not outcome:
            last = f"; last error: {self._last_error}" if self._last_error else ""
            raise SourceUnavailable(
                f"{self.provider.source}: no answer within the start-up timeout ({timeout:g}s): "
                "the backend accepts connections but does not respond, or the name lookup "
                f"hangs{last}; check the address and the backend, or raise startup_timeout",
                source=self.provider.source,
            )
        result = outcome[0]
        if isinstance(result, BaseException):
            raise result
        return result

    def add_listener(self, listener: Listener) -> None:
        """Call ``listener(keyring)`` after each refresh that brings different keys."""
        self._listeners.append(listener)

    def status(self) -> dict[str, Any]:
        """A snapshot for humans and monitoring; no key material, fingerprints only."""
        now = self._clock()
        keyring = self._keyring
        age = now - self._fetched_at if keyring is not None else None
        return {
            "source": self.provider.source,
            "version": keyring.version if keyring else None,
            "fetched_at": self._fetched_at_wall,
            "age": age,
            "ttl": self.ttl,
            "next_refresh": max(0.0, self._next_refresh - now) if keyring else 0.0,
            "stale": age is not None and age > self.max_stale,
            "refreshing": self._refreshing,
            "failures": self._failures,
            "last_error": self._last_error,
            "last_error_at": self._last_error_at,
            "fingerprints": keyring.fingerprints if keyring else None,
        }

    def __repr__(self) -> str:
        # Safe on a half-built instance (its __init__ raised): tracebacks with locals repr it.
        provider = getattr(self, "provider", None)
        source = getattr(provider, "source", None)
        return (
            f"CachedKeyring({source!r}, ttl={getattr(self, 'ttl', None)}, "
            f"keyring={getattr(self, '_keyring', None)!r})"
        )

    # -- internals ----------------------------------------------------------------------------

    def _new_locks(self) -> None:
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)

    def _after_fork(self) -> None:
        # The parent's refresh thread does not exist here, and its lock may be held forever.
        self._new_locks()
        self._refreshing = False

    def _start_background_refresh(self) -> None:
        with self._lock:
            if self._refreshing or self._clock() < self._next_refresh:
                return
            self._refreshing = True
        try:
            self._spawn(self._background_refresh)
        except Exception:  # e.g. RuntimeError: can't start new thread
            logger.exception("secret_keyring: could not start a background refresh")
            with self._cond:
                self._refreshing = False
                self._cond.notify_all()

    def _background_refresh(self) -> None:
        # Already recorded in status() and logged by _run_refresh; a thread has nobody to tell.
        with contextlib.suppress(Exception):
            self._run_refresh()

    def _delay_after_failure(self) -> float:
        delay = min(self.backoff_initial * 2 ** min(self._failures - 1, 30), self.backoff_max)
        return float(delay * (1.0 - self.jitter * self._random()))

    def _waiter_error(self) -> SecretKeyringError:
        exc = self._last_exception
        if isinstance(exc, SecretKeyringError):
            return exc
        return SourceUnavailable(
            f"{self.provider.source}: refresh failed ({self._last_error})",
            source=self.provider.source,
        )

    def _run_refresh(self) -> Keyring:
        """Fetch while holding the refreshing flag; the caller has set it."""
        new: Keyring | None = None
        changed = False
        try:
            new = self.provider.fetch()
        except Exception as exc:
            self._record_failure(exc)
            clear_locals(exc)  # whatever provider it is: no payload in the frames it left
            raise
        finally:
            with self._cond:
                if new is not None:
                    changed = self._record_success(new)
                self._refreshing = False
                self._attempts += 1
                self._cond.notify_all()
        if changed:
            self._notify(new)
        return new

    def _record_success(self, new: Keyring) -> bool:
        now = self._clock()
        old = self._keyring
        changed = not new.same_keys(old)
        self._keyring = new
        self._fetched_at = now
        self._fetched_at_wall = self._wall_clock()
        self._next_refresh = now + self.ttl * (1.0 - self.jitter * self._random())
        if self._failures:
            logger.warning(
                "secret_keyring: %s answers again after %d failed refreshes",
                self.provider.source,
                self._failures,
            )
        self._failures = 0
        self._last_exception = None
        self._last_error = None
        if changed:
            fp = new.fingerprints
            logger.info(
                "secret_keyring: keyring from %s is now current=%s next=%s previous=%s "
                "(version %s)",
                self.provider.source,
                fp["current"],
                fp["next"],
                ",".join(fp["previous"]) or "-",
                new.version,
            )
        return changed

    def _record_failure(self, exc: BaseException) -> None:
        with self._cond:
            now = self._clock()
            self._failures += 1
            self._last_exception = exc
            self._last_error = f"{type(exc).__name__}: {exc}"
            self._last_error_at = self._wall_clock()
            delay = self._delay_after_failure()
            self._next_refresh = now + delay
            if self._keyring is None:
                return  # the caller sees the exception; nothing is being served yet
            age = now - self._fetched_at
            level = logging.ERROR if age > self.max_stale else logging.WARNING
            logger.log(
                level,
                "secret_keyring: refresh from %s failed (%s); serving the keyring fetched "
                "%.0fs ago (current=%s)%s; retry %d in %.1fs",
                self.provider.source,
                self._last_error,
                age,
                self._keyring.fingerprints["current"],
                " PAST max_stale" if level == logging.ERROR else "",
                self._failures + 1,
                delay,
            )

    def _notify(self, keyring: Keyring) -> None:
        for listener in list(self._listeners):
            try:
                listener(keyring)
            except Exception:
                logger.exception("secret_keyring: a keyring listener failed")


def _check_number(
    name: str,
    value: object,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    exclusive: bool = False,
    exclusive_max: bool = False,
) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        raise ConfigurationError(f"{name} must be a number of seconds, got {type(value).__name__}")
    too_low = minimum is not None and (value <= minimum if exclusive else value < minimum)
    too_high = maximum is not None and (value >= maximum if exclusive_max else value > maximum)
    if too_low or too_high:
        bounds = []
        if minimum is not None:
            bounds.append(f"{'>' if exclusive else '>='} {minimum:g}")
        if maximum is not None:
            bounds.append(f"{'<' if exclusive_max else '<='} {maximum:g}")
        raise ConfigurationError(f"{name} must be {' and '.join(bounds)}, got {value!r}")


_live: weakref.WeakSet[CachedKeyring] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for cache in list(_live):
        cache._after_fork()


if hasattr(os, "register_at_fork"):  # pragma: no branch - POSIX
    os.register_at_fork(after_in_child=_after_fork_in_child)
