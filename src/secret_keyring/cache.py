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
* A watchdog on the same clock: a refresh still waiting for the backend after
  ``refresh_timeout`` counts as a failed one (logged, in ``status()``, backoff applies) and is
  abandoned, so the next attempt can start; what it brings later is kept only if nothing newer
  landed meanwhile.
* In-line refreshes, each waiting at most ``refresh_timeout``, decided per attempt:

  - ``refresh_mode="inline"``, or ``"auto"`` (the default) on AWS Lambda (the
    ``AWS_LAMBDA_FUNCTION_NAME`` environment variable is set): the process is frozen between
    requests, so a background thread may never get to run; the first ``get()`` past the TTL
    refreshes in line, every time.
  - A spawned background refresh that has not begun when a ``get()`` comes at least a second
    later (CPU throttling, a GC pause, a loaded host, a frozen process nobody said was one) is
    taken over by that ``get()``, in line, this once; the next refresh is spawned again.
  - With ``on_stale="fail"``, a ``get()`` that finds the keyring past ``max_stale`` refreshes in
    line (refreshing beats failing), and while no refresh has failed, a concurrent ``get()``
    waits for that attempt instead of raising.
* Fork-safe: a child process gets new locks and no in-flight refresh from its parent. A child
  forked from a parent that cached a keyring (gunicorn ``--preload``, a recycled worker, Celery's
  prefork pool) serves that inherited keyring while it is within its TTL; the first ``get()`` that
  finds it past the TTL refreshes in line, and concurrent ``get()`` calls wait for that refresh:
  a parent that never serves requests may be many rotations behind. If that refresh fails, the
  inherited keyring is served under the usual stale rules, with a WARNING, and later refreshes run
  in the background as in any process.

Every duration is in seconds; all timing uses an injectable monotonic clock.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import math
import os
import random
import threading
import time
from collections.abc import Callable
from typing import Any, Literal

from secret_keyring import _fork
from secret_keyring._config import (
    DEFAULT_JITTER,
    DEFAULT_MAX_STALE,
    DEFAULT_STARTUP_TIMEOUT,
    DEFAULT_TTL,
    check_seconds,
)
from secret_keyring._headroom import with_headroom
from secret_keyring.errors import (
    ConfigurationError,
    SecretKeyringError,
    SourceUnavailable,
    clear_locals,
)
from secret_keyring.keyring import Keyring
from secret_keyring.providers.base import Provider

__all__ = ["DEFAULT_REFRESH_TIMEOUT", "CachedKeyring"]

logger = logging.getLogger(__name__)

Listener = Callable[[Keyring], None]

#: Watchdog bound, in seconds, for a provider that does not say how long one fetch may take
#: (its ``fetch_timeout``).
DEFAULT_REFRESH_TIMEOUT = 60.0
#: Seconds a spawned background refresh may take to begin before the ``get()`` that notices
#: takes it over in line. A daemon thread starts within milliseconds on a healthy host.
_START_GRACE = 1.0
#: Seconds of the start-up timeout kept for the last attempt (at most a quarter of it): a
#: refused connection or a server's error answers within milliseconds, a TLS handshake or a
#: login within a fraction of a second.
_LAST_ATTEMPT = 1.0
#: A pause shorter than this before a last attempt is not worth it: the last error is reported.
_SHORTEST_PAUSE = 0.01
#: Seconds a forked worker waits for the in-line refresh of the keyring it inherited (at most
#: ``refresh_timeout``). A healthy backend answers within a fraction of a second; one that accepts
#: connections and never answers must not hold a recycled worker's first requests past a pre-fork
#: server's worker timeout (gunicorn kills a silent worker after 30 s, and its replacement would
#: inherit the same keyring and hang too). Past it, the inherited keyring is served under the
#: usual stale rules while the fetch goes on.
_INHERITED_WAIT = 5.0
#: Set in every AWS Lambda execution environment: a process frozen between invocations.
_LAMBDA_ENV = "AWS_LAMBDA_FUNCTION_NAME"

RefreshMode = Literal["auto", "background", "inline"]


class _Attempt:
    """One refresh: created when it is spawned, ``started_at`` set when the fetch begins.

    A plain class rather than a dataclass: generating a dataclass's methods costs about a
    millisecond per class at import, which every process pays at start-up.
    """

    __slots__ = ("spawned_at", "started_at", "successes", "waited")

    def __init__(
        self,
        spawned_at: float,
        successes: int,
        started_at: float | None = None,
        *,
        waited: bool = False,
    ) -> None:
        self.spawned_at = spawned_at
        #: ``CachedKeyring._successes`` at creation: a result that lands after the attempt was
        #: abandoned is kept only if no other refresh has succeeded since.
        self.successes = successes
        self.started_at = started_at
        #: Readers wait for it (bounded by ``refresh_timeout``) rather than serve what is cached:
        #: the in-line refresh of a keyring inherited across a fork.
        self.waited = waited


class _NoThread(RuntimeError):
    """A helper thread could not be started, so the fetch it was for never runs."""


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
        refresh_timeout: seconds a refresh may wait for the backend before the watchdog counts
            it as failed (default: the provider's ``fetch_timeout``, which Vault derives from
            its request timeouts, else 60). Also how long a ``get()`` that refreshes in line
            waits. With ``on_stale="fail"``, ``max_stale`` must be at least
            ``ttl + refresh_timeout``.
        refresh_mode: ``"background"`` (readers never wait once primed), ``"inline"`` (the
            first ``get()`` past the TTL refreshes in line, for a process frozen between
            requests), or ``"auto"``: ``"inline"`` on AWS Lambda (``AWS_LAMBDA_FUNCTION_NAME``
            is set), ``"background"`` elsewhere.
        clock: monotonic clock (seconds).
        wall_clock: wall clock for ``status()`` timestamps (seconds since the epoch).
        random: a ``() -> float in [0, 1)`` source for jitter.
        spawn: runs a background refresh; default starts a daemon thread. Tests pass a
            function that runs it inline or records it.

    Raises:
        ConfigurationError: an option is out of range, ``refresh_mode`` is not one of its
            three values, or ``on_stale="fail"`` comes with a ``max_stale`` below
            ``ttl + refresh_timeout``.
    """

    def __init__(
        self,
        provider: Provider,
        *,
        ttl: float = DEFAULT_TTL,
        jitter: float = DEFAULT_JITTER,
        max_stale: float = DEFAULT_MAX_STALE,
        on_stale: Literal["serve", "fail"] = "serve",
        backoff_initial: float = 1.0,
        backoff_max: float | None = None,
        refresh_timeout: float | None = None,
        refresh_mode: RefreshMode = "auto",
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        random: Callable[[], float] = random.random,
        spawn: Callable[[Callable[[], None]], None] = _start_daemon_thread,
    ) -> None:
        check_seconds("ttl", ttl, minimum=0.0, exclusive=True)
        check_seconds("jitter", jitter, minimum=0.0, maximum=1.0, exclusive_max=True)
        check_seconds("max_stale", max_stale, minimum=0.0)
        check_seconds("backoff_initial", backoff_initial, minimum=0.0, exclusive=True)
        if backoff_max is not None:
            check_seconds("backoff_max", backoff_max, minimum=backoff_initial)
        if on_stale not in ("serve", "fail"):
            raise ConfigurationError(
                f"on_stale must be 'serve' or 'fail', got {on_stale!r}",
            )
        if refresh_mode not in ("auto", "background", "inline"):
            raise ConfigurationError(
                f"refresh_mode must be 'auto', 'background' or 'inline', got {refresh_mode!r}",
            )
        if refresh_timeout is None:
            refresh_timeout = getattr(provider, "fetch_timeout", None) or DEFAULT_REFRESH_TIMEOUT
        check_seconds("refresh_timeout", refresh_timeout, minimum=0.0, exclusive=True)
        if on_stale == "fail" and max_stale < ttl + refresh_timeout:
            # A healthy process holds a keyring for up to ttl, and its refresh may take up to
            # refresh_timeout: a smaller max_stale fails requests while the backend is fine.
            raise ConfigurationError(
                f"on_stale='fail' needs max_stale of at least ttl + refresh_timeout "
                f"({ttl:g}s + {refresh_timeout:g}s), got max_stale={max_stale:g}s: a keyring is "
                "up to ttl old before its refresh starts, so get() would fail while the backend "
                "is healthy; raise max_stale or lower ttl",
            )
        self.provider = provider
        self.ttl = float(ttl)
        self.jitter = float(jitter)
        self.max_stale = float(max_stale)
        self.on_stale = on_stale
        self.refresh_timeout = float(refresh_timeout)
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
        self._attempts = 0  # finished or abandoned attempts: refresh() waiters watch it
        self._successes = 0
        self._inflight: _Attempt | None = None
        # Every due refresh in line: a process frozen between requests, said or detected.
        self._inline = refresh_mode == "inline" or (
            refresh_mode == "auto" and bool(os.environ.get(_LAMBDA_ENV))
        )
        # Set in a forked child holding its parent's keyring, until its first refresh in line.
        self._inherited = False
        self._listeners: list[Listener] = []
        self._new_locks()
        _fork.register(self)

    # -- reading ------------------------------------------------------------------------------

    def get(self) -> Keyring:
        """Return the keyring; once primed, never waits on the backend, with four exceptions.

        Each waits at most ``refresh_timeout``: in ``"inline"`` refresh mode (a process frozen
        between requests, as on AWS Lambda) the first call past the TTL refreshes in line; so
        does a call that finds a spawned background refresh still not begun a second later; a
        forked child refreshes a keyring inherited from its parent in line once it is past its
        TTL (and concurrent calls wait for that refresh); with ``on_stale="fail"``, a call that
        finds the keyring past ``max_stale`` refreshes in line, or waits for the refresh in
        flight while no refresh has failed.

        Raises:
            SecretKeyringError: the first fetch failed (nothing to serve yet).
            SourceUnavailable: with ``on_stale="fail"``, the keyring is older than ``max_stale``.
        """
        # The primed fast path: one clock read and one comparison against the earlier of the
        # refresh deadline and the max_stale limit (-inf while nothing is cached, so a keyring
        # is always there to return); everything else is past that deadline. The clock is read
        # into a local first: `self._clock()` is a method-call form CPython cannot specialise
        # for an instance attribute, and the rest lives in _get_slow() to keep this frame small
        # (callgrind: 121 fewer instructions per call, 14% of what get() adds to a dict read).
        clock = self._clock
        if clock() < self._serve_until:
            return self._keyring  # type: ignore[return-value]  # never None here, see above
        return self._get_slow()

    def _get_slow(self) -> Keyring:
        """``get()`` past the fast path's deadline: the first fetch, a due refresh, the
        watchdog, ``max_stale``."""
        keyring = self._keyring
        if keyring is None:
            return with_headroom(self.refresh)  # the first fetch: see _headroom
        now = self._clock()
        if now >= self._next_refresh:
            keyring, now = self._when_due(keyring, now)
        # Checked on every read, not only when a refresh is due: between two retries (the
        # backoff window) a keyring past max_stale is just as stale.
        if now - self._fetched_at > self._stale_limit:
            raise self._stale_error(now)
        return keyring

    def _stale_error(self, now: float) -> SourceUnavailable:
        """Why a keyring past ``max_stale`` is refused: the failure, or the refresh that is
        taking too long, never a failure that did not happen."""
        if self._failures:
            cause = f"refreshes are failing ({self._last_error}); fix the backend"
        elif self._inflight is not None:
            cause = (
                f"the refresh in flight has not answered within refresh_timeout="
                f"{self.refresh_timeout:g}s; check that the backend answers, not only accepts "
                "connections"
            )
        else:  # pragma: no cover - defensive: past max_stale, a refresh is always due or failed
            cause = "no refresh has succeeded since"
        return SourceUnavailable(
            f"{self.provider.source}: the cached keyring is {now - self._fetched_at:.0f}s "
            f"old, past max_stale={self.max_stale:.0f}s, and {cause} or raise max_stale",
            source=self.provider.source,
        )

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
            running = self._inflight
            if running is not None and running.started_at is not None:
                self._join(running, running.started_at)
                if self._last_exception is None and self._keyring is not None:
                    return self._keyring
                raise self._waiter_error()
            # Nothing in flight, or a spawned refresh that has not begun: this call does the
            # work, and the spawned one finds itself replaced if it ever starts.
            attempt = self._inflight = _Attempt(self._clock(), self._successes, self._clock())
        return self._fetch(attempt)

    def prime(
        self,
        timeout: float = DEFAULT_STARTUP_TIMEOUT,
        *,
        sleep: Callable[[float], None] = time.sleep,
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
        check_seconds("startup timeout", timeout, minimum=0.0)
        if timeout == 0:
            return with_headroom(self.refresh)
        deadline = self._clock() + timeout
        delay = min(0.25, self.backoff_initial)
        reserve = min(_LAST_ATTEMPT, timeout / 4)  # kept for the last attempt, see below
        while True:
            try:
                return self._attempt_within(deadline, timeout)
            except SecretKeyringError as exc:
                remaining = deadline - self._clock()
                # The next attempt keeps time of its own before the deadline: one squeezed into
                # the last instant would be cut off at once and blame a silent backend for what
                # was, say, a refused connection. Too little left: the last error is the answer.
                room = remaining - reserve
                if not getattr(exc, "retryable", False) or room < _SHORTEST_PAUSE:
                    raise
                pause = min(delay, room)
                logger.warning(
                    "secret_keyring: start-up fetch from %s failed (%s); retrying in %.2fs",
                    self.provider.source,
                    exc,
                    pause,
                )
                sleep(pause)
                delay = min(delay * 2, 5.0)

    def _attempt_within(self, deadline: float, timeout: float) -> Keyring:
        """One ``refresh()`` in a helper thread, waited for until ``deadline`` at most."""
        started = self._clock()
        result = self._refresh_waiting_until(deadline, "secret-keyring-prime")
        if result is None:
            # This attempt was still waiting for an answer: no error of its own to report.
            earlier = f"; an earlier attempt failed: {self._last_error}" if self._last_error else ""
            raise SourceUnavailable(
                f"{self.provider.source}: no answer within the start-up timeout ({timeout:g}s): "
                f"the last attempt was still waiting for the backend after "
                f"{self._clock() - started:.1f}s (a server that accepts connections but does not "
                f"respond, or a name lookup that hangs){earlier}; check the address and the "
                "backend, or raise startup_timeout",
                source=self.provider.source,
            )
        return result

    def _refresh_waiting_until(
        self, deadline: float, name: str, fetch: Callable[[], Keyring] | None = None
    ) -> Keyring | None:
        """``fetch`` (default ``refresh()``) in a helper thread, so that a backend that never
        answers (or a hung name lookup, which no request timeout covers) holds the caller until
        ``deadline`` at most. ``None``: still running then (its result still lands in the
        cache)."""
        outcome: list[Keyring | BaseException] = []
        run = fetch or self.refresh

        def attempt() -> None:
            try:
                outcome.append(with_headroom(run))
            except BaseException as exc:  # noqa: BLE001 - handed to the waiting thread
                outcome.append(exc)

        worker = threading.Thread(target=attempt, name=name, daemon=True)
        try:
            worker.start()
        except RuntimeError as exc:  # can't start new thread: the thread limit, or shutdown
            raise _NoThread(str(exc)) from exc
        worker.join(max(0.0, deadline - self._clock()))
        if worker.is_alive() or not outcome:
            return None
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
            "refreshing": self._inflight is not None,
            "refresh_mode": "inline" if self._inline else "background",
            "failures": self._failures,
            "last_error": self._last_error,
            "last_error_at": self._last_error_at,
            "fingerprints": keyring.fingerprints if keyring else None,
            "backend_history": bool(getattr(self.provider, "backend_history", False)),
            # A backend's own notes (e.g. an AWSPENDING version it no longer trusts).
            "provider": _provider_status(self.provider),
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
        self._inflight = None
        # A parent that serves no requests (gunicorn --preload's master) never refreshes: what
        # it holds may be many rotations behind, so this child's first due refresh is in line.
        self._inherited = self._keyring is not None

    def _when_due(self, keyring: Keyring, now: float) -> tuple[Keyring, float]:
        """The slow path of ``get()``: a refresh is due or in flight. Runs the watchdog over
        the one in flight, waits for it where serving what is cached would be wrong, and
        otherwise starts one: in the background, or in line (see the module docstring)."""
        late: _Attempt | None = None
        with self._cond:
            attempt = self._inflight
            stale = now - self._fetched_at > self._stale_limit
            if attempt is not None and attempt.started_at is not None:
                if now - attempt.started_at >= self.refresh_timeout:
                    self._abandon(attempt, attempt.started_at, now)
                elif attempt.waited or (stale and not self._failures):
                    # What is cached must not be served (inherited from a parent, or past
                    # max_stale while nothing has failed): wait for the answer, bounded.
                    until = attempt.started_at + _INHERITED_WAIT if attempt.waited else math.inf
                    self._join(attempt, attempt.started_at, until)
                    return self._keyring or keyring, self._clock()
                return keyring, now
            if attempt is not None:
                in_line_anyway = stale or self._inherited
                if now - attempt.spawned_at < _START_GRACE and not in_line_anyway:
                    return keyring, now
                self._inflight = None  # replaced: it fetches nothing if it ever begins
                self._cond.notify_all()
                if not in_line_anyway:
                    late = attempt
            elif now < self._next_refresh:
                return self._keyring or keyring, now  # another thread's refresh has landed
            inherited = self._inherited
            in_line = late is not None or self._inline or stale or inherited
            # In line, the attempt starts now: a reader that comes before the helper thread
            # runs finds it in flight rather than starting another.
            attempt = self._inflight = _Attempt(
                now, self._successes, now if in_line else None, waited=inherited
            )
            self._inherited = False  # one wait per fork: later refreshes are as usual
        if late is not None:
            logger.warning(
                "secret_keyring: the background refresh of %s spawned %.1fs ago has not begun "
                "running (a loaded host, CPU throttling, or a process frozen between requests); "
                "refreshing in line this once, waiting at most %gs",
                self.provider.source,
                now - late.spawned_at,
                self.refresh_timeout,
            )
        if in_line:
            return self._refresh_in_line(attempt, keyring, now, inherited=inherited)
        try:
            self._spawn(functools.partial(self._background_refresh, attempt))
        except Exception:  # e.g. RuntimeError: can't start new thread
            logger.exception("secret_keyring: could not start a background refresh")
            with self._cond:
                self._finish(attempt)
        return keyring, now

    def _refresh_in_line(
        self, attempt: _Attempt, keyring: Keyring, now: float, *, inherited: bool
    ) -> tuple[Keyring, float]:
        """Fetch for ``attempt`` (already in flight and started), waiting at most
        ``refresh_timeout`` (a forked worker's inherited keyring: at most ``_INHERITED_WAIT``).
        Failures are recorded, logged and in ``status()``; this caller serves what it has, and a
        fetch still running at the deadline lands when it is done."""
        result: Keyring | None = None
        wait = min(self.refresh_timeout, _INHERITED_WAIT) if inherited else self.refresh_timeout
        try:
            result = self._refresh_waiting_until(
                now + wait, "secret-keyring-inline", functools.partial(self._fetch, attempt)
            )
        except _NoThread:
            # Nothing runs the fetch: the attempt must not stay in flight (the watchdog would
            # blame the backend a refresh_timeout later, and readers would wait on nothing).
            logger.exception("secret_keyring: could not start a background refresh")
            with self._cond:
                self._finish(attempt)
        except Exception:  # noqa: BLE001, S110 - recorded, logged and in status() by _fetch
            pass
        if inherited and result is None and self._keyring is keyring:
            logger.warning(
                "secret_keyring: this worker started behind: it was forked from a parent "
                "holding a keyring of %s fetched %.0fs ago, past its TTL, and the refresh in "
                "line %s; serving the inherited keyring (current=%s) under the usual stale "
                "rules",
                self.provider.source,
                now - self._fetched_at,
                f"failed ({self._last_error})"
                if self._inflight is not attempt
                else f"has not answered within {wait:g}s (it goes on in the background)",
                keyring.fingerprints["current"],
            )
        return self._keyring or keyring, self._clock()

    def _background_refresh(self, attempt: _Attempt) -> None:
        with self._cond:
            if self._inflight is not attempt:
                return  # replaced before it began (see _when_due)
            attempt.started_at = self._clock()
        # Already recorded in status() and logged; a thread has nobody to tell.
        with contextlib.suppress(Exception):
            self._fetch(attempt)

    def _join(self, attempt: _Attempt, started_at: float, until: float = math.inf) -> None:
        """Wait (holding the condition) until ``attempt`` finishes, the watchdog gives up, or
        ``until`` (monotonic) comes, whichever is first; only the watchdog abandons it."""
        while self._inflight is attempt:
            now = self._clock()
            left = started_at + self.refresh_timeout - now
            if left <= 0:
                self._abandon(attempt, started_at, now)
                return
            if now >= until:
                return
            self._cond.wait(min(left, until - now))

    def _abandon(self, attempt: _Attempt, started_at: float, now: float) -> None:
        """The watchdog: the attempt (lock held) has waited past ``refresh_timeout``."""
        self._record_failure(
            SourceUnavailable(
                f"{self.provider.source}: a refresh has been waiting for the backend for "
                f"{now - started_at:.0f}s, past refresh_timeout="
                f"{self.refresh_timeout:g}s: the backend accepts connections but does not "
                "answer, or a name lookup hangs; abandoned it, the next attempt follows the "
                "backoff",
                source=self.provider.source,
            )
        )
        self._finish(attempt)

    def _finish(self, attempt: _Attempt) -> None:
        """Clear ``attempt`` (lock held) if it is still the one in flight; wake waiters."""
        if self._inflight is attempt:
            self._inflight = None
            self._attempts += 1
            self._cond.notify_all()

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

    def _fetch(self, attempt: _Attempt) -> Keyring:
        """Fetch for ``attempt``, which the caller has made the one in flight and started."""
        try:
            new = self.provider.fetch()
        except BaseException as exc:
            with self._cond:
                if self._inflight is attempt and isinstance(exc, Exception):
                    self._record_failure(exc)
                self._finish(attempt)
            if isinstance(exc, Exception):
                clear_locals(exc)  # whatever provider it is: no payload in the frames it left
            raise
        with self._cond:
            current = self._inflight is attempt
            # An abandoned attempt that answers after all still brings a good keyring, unless
            # a later refresh has already landed one that may be newer.
            kept = current or self._successes == attempt.successes
            changed = kept and self._record_success(new)
            if not current:
                logger.info(
                    "secret_keyring: a refresh of %s abandoned by the watchdog has answered "
                    "after all; %s",
                    self.provider.source,
                    "keeping its keyring" if kept else "a later refresh landed first, dropped it",
                )
            self._finish(attempt)
        if changed:
            self._notify(new)
        return new

    def _record_success(self, new: Keyring) -> bool:
        now = self._clock()
        old = self._keyring
        changed = not new.same_keys(old)
        self._successes += 1
        self._keyring = new
        self._inherited = False  # this process's own keyring now (say, a refresh() in a child)
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
        """Count a failed refresh, schedule the retry and log it; the lock is held."""
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


def _provider_status(provider: Provider) -> dict[str, Any]:
    report = getattr(provider, "status", None)
    return dict(report()) if callable(report) else {}
