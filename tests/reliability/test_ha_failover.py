"""OpenBao HA on integrated storage: the active node dies; readers keep the cached keyring and
refreshes succeed again once the survivors have elected a new leader.

The cluster is three real ``bao server`` processes (see :mod:`devservers.raft`). The cache
runs on a fake clock (the TTL and backoff pass when the test says so), but the election takes the
real time it takes, so the test polls, with a deadline, until a refresh succeeds; the measured
time from the kill to that refresh is the figure quoted in the docs.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from devservers.raft import Node, RaftCluster
from secret_keyring import CachedKeyring, Keyring
from secret_keyring.keygen import new_keyring, rotate
from secret_keyring.providers.vault import VaultProvider
from secret_keyring.testing import FakeClock
from secret_keyring.urls import provider_from_url
from tests.reliability.conftest import record
from tests.reliability.test_runtime_outage import (
    NON_BLOCKING_BOUND,
    Latency,
    ThreadSpawner,
    json_data,
)

pytestmark = [pytest.mark.vault, pytest.mark.slow]

FAILOVER_DEADLINE = 60.0
TTL = 60.0


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RaftCluster]:
    raft = RaftCluster(Path(tmp_path_factory.mktemp("raft")))
    try:
        yield raft.start()
    finally:
        raft.stop()


def cache_for(provider: VaultProvider, clock: FakeClock, spawner: ThreadSpawner) -> CachedKeyring:
    return CachedKeyring(
        provider,
        ttl=TTL,
        jitter=0.0,
        backoff_initial=0.5,
        backoff_max=2.0,
        clock=clock,
        random=lambda: 0.0,
        spawn=spawner,
    )


def refresh_until_they_have(
    caches: dict[str, CachedKeyring],
    clock: FakeClock,
    spawner: ThreadSpawner,
    latency: Latency,
    expected: Keyring,
    *,
    since: float,
) -> dict[str, tuple[float, int]]:
    """Run due refreshes (moving the fake clock to each) until each cache holds ``expected``,
    reading all the while; returns, per cache, the real seconds from ``since`` and how many
    refreshes failed meanwhile."""
    deadline = since + FAILOVER_DEADLINE
    done: dict[str, tuple[float, int]] = {}
    failed = dict.fromkeys(caches, 0)
    while len(done) < len(caches):
        assert time.monotonic() < deadline, f"no refresh brought the new keyring: {done}"
        pending = {name: cache for name, cache in caches.items() if name not in done}
        clock.advance(max(0.0, min(c.status()["next_refresh"] for c in pending.values())))
        held = {name: cache.keyring for name, cache in pending.items()}
        in_flight = []
        for name, cache in pending.items():
            count = len(spawner.done)
            assert latency.get(cache) is held[name]
            if len(spawner.done) > count:
                in_flight.append(spawner.done[-1])
        # Keep reading while the refreshes wait on the cluster: reads must not wait with them.
        while not all(event.wait(0.001) for event in in_flight):
            assert time.monotonic() < deadline, "a refresh never finished"
            for name, cache in pending.items():
                if cache.keyring is held[name]:
                    assert latency.get(cache) is held[name]
        for name, cache in pending.items():
            if cache.status()["failures"]:
                failed[name] += 1
            elif cache.get().same_keys(expected):
                done[name] = (time.monotonic() - since, failed[name])
        if len(done) < len(caches):
            time.sleep(0.1)  # bounded poll: the election happens in other processes
    return done


def watch_the_election(cluster: RaftCluster, killed_at: float, timings: dict[str, float]) -> None:
    deadline = killed_at + FAILOVER_DEADLINE
    while time.monotonic() < deadline:
        if cluster.active() is not None:
            timings["leader"] = time.monotonic() - killed_at
            return
        time.sleep(0.02)  # bounded poll of external processes


def wait_until_every_node_has(cluster: RaftCluster, path: str, version: int) -> None:
    """OpenBao standbys answer reads from their own copy of the raft log, which may lag the
    leader for a moment after a write (a brand-new secret is briefly a 404 there)."""
    deadline = time.monotonic() + FAILOVER_DEADLINE
    while not all(
        cluster.version_on(node, path) == version for node in cluster.nodes if node.alive
    ):
        assert time.monotonic() < deadline, "the standbys never caught up with the leader"
        time.sleep(0.05)  # bounded poll of external processes


def test_active_node_killed_reads_continue_and_refreshes_resume(
    cluster: RaftCluster, vault_env: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    active = cluster.active()
    assert active is not None
    standby: Node = cluster.standbys()[0]
    path = f"app/{time.monotonic_ns()}"
    first = new_keyring()
    wait_until_every_node_has(cluster, path, cluster.write(path, json_data(first)))
    vault_env.setenv("VAULT_TOKEN", cluster.root_token)
    addresses = ",".join(node.addr for node in [active, *cluster.standbys()])
    listed = provider_from_url(f"vault://secret/{path}?addr={addresses}&timeout=1")
    via_standby = provider_from_url(f"vault://secret/{path}?addr={standby.addr}&timeout=1")
    assert isinstance(listed, VaultProvider)
    assert isinstance(via_standby, VaultProvider)
    clock, spawner, latency = FakeClock(), ThreadSpawner(), Latency()
    caches = {"address list": cache_for(listed, clock, spawner)}
    caches["one standby node"] = cache_for(via_standby, clock, spawner)
    good = {name: cache.get() for name, cache in caches.items()}
    assert all(keyring.same_keys(first) for keyring in good.values())

    second = rotate(first)
    # Committed by a raft majority before the crash, so the new leader must have it.
    cluster.write(path, json_data(second))
    cluster.kill(active)
    killed_at = time.monotonic()
    timings: dict[str, float] = {}
    clock.advance(TTL)

    election = threading.Thread(target=watch_the_election, args=(cluster, killed_at, timings))
    election.start()
    with caplog.at_level(logging.WARNING, "secret_keyring"):
        outcome = refresh_until_they_have(caches, clock, spawner, latency, second, since=killed_at)
    election.join(timeout=FAILOVER_DEADLINE)
    leader = cluster.active()
    assert leader is not None
    assert leader is not active
    assert latency.worst < NON_BLOCKING_BOUND  # reads never waited for the election (>1 s)

    # Writes reach the new leader; both readers follow.
    third = rotate(second)
    wait_until_every_node_has(cluster, path, cluster.write(path, json_data(third)))
    for cache in caches.values():
        cache.refresh()
        assert cache.get().same_keys(third)

    assert f"{active.addr} failed" in caplog.text  # the list moved past the dead node
    for name, (elapsed, failed) in outcome.items():
        record(
            f"HA failover ({name})",
            f"refresh succeeded {elapsed:.2f}s after SIGKILL of the active node, "
            f"after {failed} failed refreshes",
        )
    record("HA worst get() during the election", f"{latency.worst * 1e6:.0f} us")
    assert "leader" in timings, "no new leader was elected"
    record("HA election", f"a survivor was active {timings['leader']:.2f}s after the SIGKILL")
