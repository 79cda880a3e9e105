"""The backend-load benchmark's claim, as a test: 64 threads, one backend read per refresh period.

The simulation (``benchmarks/bench_load.py``) drives the real ``CachedKeyring`` with a fake clock,
so these are exact counts, not timings.
"""

from __future__ import annotations

import itertools

import pytest

from benchmarks.bench_load import simulate


def test_sixty_four_threads_make_one_read_per_refresh_period() -> None:
    result = simulate(threads=64, seconds=60.0, ttl=5.0, jitter=0.0)

    assert result.gets == 64 * 240  # every thread read at every quarter second
    assert result.fetches == result.periods == 12
    assert result.fetch_times == tuple(float(t) for t in range(0, 60, 5))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_with_jitter_reads_are_never_closer_than_the_shortened_ttl(seed: int) -> None:
    result = simulate(threads=64, seconds=60.0, ttl=5.0, jitter=0.1, seed=seed)

    gaps = [b - a for a, b in itertools.pairwise(result.fetch_times)]
    assert result.fetches == len(result.fetch_times)
    # Each period is the TTL shortened by up to 10%, rounded up to the next quarter-second step.
    assert all(4.5 <= gap <= 5.0 for gap in gaps), gaps
    assert 12 <= result.fetches <= 14


def test_one_thread_sees_the_same_reads_as_sixty_four() -> None:
    """Single flight: the number of readers does not change the number of backend reads."""
    many = simulate(threads=64, seconds=30.0, ttl=5.0)
    one = simulate(threads=1, seconds=30.0, ttl=5.0)

    assert many.fetch_times == one.fetch_times
    assert many.gets == 64 * one.gets
