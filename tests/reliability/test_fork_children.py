"""A real ``os.fork()`` of a process whose cache is in use, as a pre-fork server does it.

gunicorn ``--preload`` (and its replacement of workers under ``--max-requests``), uWSGI without
``lazy-apps`` and Celery's prefork pool fork workers from a parent that built the cache. Two
things must hold in the child, whatever the parent was doing at the moment of the fork:

* it serves the current keyring from its first ``get()``, even when the parent's keyring is
  rotations behind (the parent of gunicorn ``--preload`` serves no requests and never refreshes);
* it never blocks: a parent thread may hold the cache's lock (a refresh landing) and a logging
  handler's lock at fork time, and that thread does not exist in the child.

Each child reports over a pipe; the parent waits for the report with a deadline and, if it does
not come, kills the child and fails with the stacks the child's ``faulthandler`` wrote.
"""

from __future__ import annotations

import faulthandler
import logging
import os
import select
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from secret_keyring import CachedKeyring
from secret_keyring.keyring import Keyring
from secret_keyring.testing import FakeClock, StaticProvider

# Python 3.12+ warns about fork() with threads alive: that is exactly the situation under test.
pytestmark = pytest.mark.filterwarnings(
    "ignore:This process .* is multi-threaded:DeprecationWarning"
)

#: Seconds a child has to report; it needs milliseconds. Past it the child is taken to be hung.
CHILD_DEADLINE = 30.0


def run_in_child(body: Callable[[], str], stacks: Path) -> str:
    """Fork; run ``body`` in the child and return what it reports (``"error: ..."`` if it
    raised). A child that does not report within ``CHILD_DEADLINE`` is killed and the test
    fails with the stacks of its threads."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        os.close(read_end)
        code = 0
        try:
            with stacks.open("w") as dump:
                faulthandler.dump_traceback_later(CHILD_DEADLINE - 5, file=dump)
                try:
                    report = body()
                except BaseException as exc:  # noqa: BLE001 - reported to the parent
                    report = f"error: {type(exc).__name__}: {exc}"
                faulthandler.cancel_dump_traceback_later()
            os.write(write_end, report.encode())
        except BaseException:  # noqa: BLE001 - the exit code tells the parent
            code = 1
        finally:
            os._exit(code)
    os.close(write_end)
    chunks: list[bytes] = []
    deadline = time.monotonic() + CHILD_DEADLINE
    try:
        while True:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([read_end], [], [], max(0.0, left))
            if not ready:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                where = stacks.read_text() if stacks.exists() else "(no stacks written)"
                pytest.fail(f"the forked child blocked for {CHILD_DEADLINE:g}s:\n{where}")
            chunk = os.read(read_end, 65536)
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(read_end)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    return b"".join(chunks).decode()


@pytest.fixture
def fast_switching() -> Iterator[None]:
    """Threads switch as often as CPython allows, so races show up."""
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(interval)


def test_a_child_of_a_master_two_rotations_behind_serves_the_current_keyring_at_once(
    tmp_path: Path, fast_switching: None
) -> None:
    """gunicorn ``--preload --max-requests``: the master fetched at boot and has idled since;
    the fleet rotated twice. Every thread of a new worker, on its first ``get()``, gets the
    fleet's current keyring, not the boot keyring (whose ``current`` the fleet has replaced and
    whose fallbacks lack the fleet's current key)."""
    clock, provider = FakeClock(), StaticProvider()
    cache = CachedKeyring(provider, ttl=60, clock=clock)  # the default spawn: real threads
    boot = cache.get()
    provider.rotate()
    current = provider.rotate()
    clock.advance(600)  # the master serves nothing: no get(), no refresh

    def child() -> str:
        start = threading.Barrier(8)
        served: list[Keyring] = []

        def request() -> None:
            start.wait(10)
            served.append(cache.get())

        threads = [threading.Thread(target=request) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(20)
        got = {keyring.fingerprints["current"] for keyring in served}
        return f"{len(served)} {','.join(sorted(got))} fetches={provider.fetches}"

    report = run_in_child(child, tmp_path / "stacks.txt")
    assert boot.fingerprints["current"] not in report, f"served the boot keyring: {report}"
    assert report == f"8 {current.fingerprints['current']} fetches=2"
    assert provider.fetches == 1  # the parent itself never refreshed


class BlockingHandler(logging.Handler):
    """Holds the thread that logs a new keyring, in the parent process only: the refresh thread
    then sits inside the cache's lock (the INFO record is logged under it) and inside this
    handler's lock."""

    def __init__(self) -> None:
        super().__init__()
        self.parent = os.getpid()
        self.entered = threading.Event()
        self.let_go = threading.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if os.getpid() == self.parent and "is now current" in record.getMessage():
            self.entered.set()
            self.let_go.wait(30)


def test_a_child_forked_while_a_refresh_holds_the_locks_never_blocks(tmp_path: Path) -> None:
    """Fork while the parent's refresh thread holds the cache's lock and a logging handler's
    lock (a refresh landing). In the child, ``get()`` (an inherited keyring past its TTL: an
    in-line refresh through a helper thread), ``refresh()``, logging, and a new cache's
    ``prime()`` (its helper thread) all finish. Without the at-fork reset of the cache, the
    child's ``get()`` waits forever for a lock whose owner does not exist there."""
    clock, provider = FakeClock(), StaticProvider()
    cache = CachedKeyring(provider, ttl=60, clock=clock)
    cache.get()
    handler = BlockingHandler()
    cache_logger = logging.getLogger("secret_keyring.cache")
    cache_logger.addHandler(handler)
    level = cache_logger.level
    cache_logger.setLevel(logging.INFO)
    try:
        landing = provider.rotate()
        clock.advance(60)
        cache.get()  # a background refresh starts, lands, and blocks in the handler
        assert handler.entered.wait(10)
        assert cache._lock.locked()

        def child() -> str:
            newest = provider.rotate()
            clock.advance(60)
            got = cache.get()  # in line: the keyring is inherited and past its TTL
            refreshed = cache.refresh()
            primed = CachedKeyring(StaticProvider(), clock=clock).prime(timeout=10)
            return " ".join(
                [
                    str(got.same_keys(newest)),
                    str(refreshed.same_keys(newest)),
                    str(primed is not None),
                ]
            )

        report = run_in_child(child, tmp_path / "stacks.txt")
        assert report == "True True True", report
    finally:
        handler.let_go.set()
        cache_logger.removeHandler(handler)
        cache_logger.setLevel(level)
    assert cache.get().same_keys(landing)  # the parent's own refresh landed after all
