"""Backend load: how many reads one process sends to the backend, however many threads read.

64 threads call ``CachedKeyring.get()`` at every step of 60 simulated seconds with ``ttl=5``. The
cache is the real one; only its clock is a ``FakeClock`` (``secret_keyring.testing``), moved by
hand one step at a time, so the run takes well under a second and is exact. Each fetch is held
at a gate until all 64 threads have made their call of that step: every refresh is raced by
every thread while it is in flight, which is what single flight has to withstand.

Expected: one backend read per refresh period (12 in 60 s with ``ttl=5`` and no jitter; with
jitter, periods are up to 10% shorter). ``tests/fleet/test_backend_load.py`` asserts it.

    python benchmarks/bench_load.py
"""

from __future__ import annotations

import dataclasses
import random
import sys
import threading
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from secret_keyring import CachedKeyring  # noqa: E402 - after the path set-up above
from secret_keyring.testing import FakeClock, StaticProvider  # noqa: E402

#: Bound on every wait between the threads of the simulation (real seconds).
WAIT_TIMEOUT = 30.0


@dataclasses.dataclass(frozen=True)
class LoadResult:
    """What the backend saw."""

    threads: int
    seconds: float
    ttl: float
    jitter: float
    step: float
    gets: int
    fetches: int
    fetch_times: tuple[float, ...]

    @property
    def periods(self) -> int:
        """Refresh periods in the window without jitter: ``ceil(seconds / ttl)``."""
        return -int(-self.seconds // self.ttl)


class _Simulation:
    """The cache, its gated provider and the refresh threads it spawned."""

    def __init__(self, ttl: float, jitter: float, seed: int) -> None:
        self.clock = FakeClock(start=0.0)
        self.gate = threading.Event()
        self.gate.set()
        self.fetch_times: list[float] = []
        self.refreshers: list[threading.Thread] = []
        self.provider = StaticProvider(source="static://bench-load", on_fetch=self._hold_fetch)
        self.cache = CachedKeyring(
            self.provider,
            ttl=ttl,
            jitter=jitter,
            clock=self.clock,
            random=random.Random(seed).random,  # noqa: S311 - jitter, not key material
            spawn=self._spawn,
        )

    def _hold_fetch(self) -> None:
        self.fetch_times.append(self.clock())
        if not self.gate.wait(WAIT_TIMEOUT):
            raise RuntimeError("the fetch gate was never opened")

    def _spawn(self, run: Callable[[], None]) -> None:
        thread = threading.Thread(target=run, name="bench-load-refresh", daemon=True)
        self.refreshers.append(thread)
        thread.start()

    def finish_refreshes(self) -> None:
        """Let any fetch in flight complete, and wait for its thread."""
        self.gate.set()
        for thread in self.refreshers:
            thread.join(WAIT_TIMEOUT)
        if any(thread.is_alive() for thread in self.refreshers):
            raise RuntimeError("a refresh did not finish")
        self.refreshers.clear()


def simulate(
    *,
    threads: int = 64,
    seconds: float = 60.0,
    ttl: float = 5.0,
    jitter: float = 0.0,
    step: float = 0.25,
    seed: int = 0,
) -> LoadResult:
    """Run the simulation and count the fetches the provider served.

    ``step`` should be a binary fraction (0.25, 0.125) so simulated times add up exactly.

    Raises:
        RuntimeError: a thread failed or a wait ran out (the simulation is broken, not slow).
    """
    sim = _Simulation(ttl, jitter, seed)
    sim.cache.get()  # the start-up fetch, at t=0: the first period's read

    steps = round(seconds / step)
    begin = threading.Barrier(threads + 1, timeout=WAIT_TIMEOUT)
    done = threading.Barrier(threads + 1, timeout=WAIT_TIMEOUT)
    errors: list[BaseException] = []
    gets = [0] * threads

    def reader(index: int) -> None:
        try:
            for _ in range(steps):
                begin.wait()
                sim.cache.get()  # never waits on the backend: the fetch is held at the gate
                gets[index] += 1
                done.wait()
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread, which raises
            errors.append(exc)
            begin.abort()
            done.abort()

    readers = [
        threading.Thread(target=reader, args=(index,), name=f"bench-load-{index}", daemon=True)
        for index in range(threads)
    ]
    for thread in readers:
        thread.start()
    try:
        for _ in range(steps):
            sim.gate.clear()
            begin.wait()
            done.wait()  # every thread has read, while any refresh of this step is in flight
            sim.finish_refreshes()
            sim.clock.advance(step)
    except threading.BrokenBarrierError:
        raise RuntimeError(f"a reader failed: {errors[:1]!r}") from None
    finally:
        sim.gate.set()
        for thread in readers:
            thread.join(WAIT_TIMEOUT)
    if errors:
        raise RuntimeError(f"a reader failed: {errors[0]!r}") from errors[0]
    return LoadResult(
        threads=threads,
        seconds=seconds,
        ttl=ttl,
        jitter=jitter,
        step=step,
        gets=sum(gets),
        fetches=sim.provider.fetches,
        fetch_times=tuple(sim.fetch_times),
    )


def main() -> int:
    for jitter in (0.0, 0.1):
        result = simulate(jitter=jitter)
        times = ", ".join(f"{t:g}" for t in result.fetch_times)
        print(
            f"jitter {jitter:.0%}: {result.threads} threads, {result.gets:,} get() calls over "
            f"{result.seconds:g} simulated s with ttl={result.ttl:g}: {result.fetches} backend "
            f"reads at t = {times}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
