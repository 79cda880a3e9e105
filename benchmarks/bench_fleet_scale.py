"""Fleet scale: the backend reads 64 processes cause, counted by the servers, against the formula.

One parent imports the library and both SDKs, then forks the workers (as gunicorn ``--preload``
does), each pinned to one of the machine's cores in turn. Every worker builds its own
``CachedKeyring`` for an OpenBao KV v2 secret and for a Secrets Manager secret (moto) with a short
TTL and the default jitter, primes both, reports ready, and then calls ``get()`` on both every
``POLL`` seconds, as request handlers would. Once every worker is ready the servers' counters are
read, again ``window`` seconds later, and the difference is the steady-state load:

* moto counts requests per action (``DescribeSecret``, ``GetSecretValue``);
* OpenBao writes every request to a file audit device (the server started with
  ``BaoServer(audit_log=...)``); KV reads under ``secret/`` are counted (``secret/metadata/...``
  for a version check, ``secret/data/...`` for a value).

Expected, per backend: one version check per process per refresh period. A period is the TTL
shortened by ``jitter`` times a uniform random number, so its mean is ``ttl * (1 - jitter / 2)``
and the rate lies between ``processes / ttl`` and ``processes / (ttl * (1 - jitter))`` per second;
a worker notices a due refresh on its next poll, which lengthens each period by up to ``POLL``.

    python benchmarks/bench_fleet_scale.py [--processes 64] [--window 30]
"""

from __future__ import annotations

import dataclasses
import json
import os
import selectors
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

if TYPE_CHECKING:
    from devservers.moto import MotoServer

PROCESSES = 64
TTL = 5.0
JITTER = 0.1
WINDOW = 30.0
POLL = 0.05  # seconds between two get() calls of a worker
READY_TIMEOUT = 180.0

# The fleet: run as ``python -c`` with the settings in argv; every worker prints one line.
FLEET = """
import os, sys, time
from secret_keyring import CachedKeyring, provider_from_url
import botocore.session, hvac  # imported once in the parent, as with --preload

processes = int(sys.argv[1])
ttl, jitter, poll = (float(value) for value in sys.argv[2:5])
urls = sys.argv[5:]
cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
children = []
for index in range(processes):
    pid = os.fork()
    if pid == 0:
        if cpus:
            os.sched_setaffinity(0, {cpus[index % len(cpus)]})
        caches = [CachedKeyring(provider_from_url(url), ttl=ttl, jitter=jitter) for url in urls]
        for cache in caches:
            cache.prime()
        print("ready", os.getpid(), flush=True)
        while True:
            for cache in caches:
                cache.get()
            time.sleep(poll)
    children.append(pid)
for pid in children:
    os.waitpid(pid, 0)
"""


@dataclasses.dataclass(frozen=True)
class ScaleResult:
    """What the servers saw from the fleet in the measuring window."""

    processes: int
    cpus: int
    ttl: float
    jitter: float
    poll: float
    window: float
    startup_seconds: float
    startup: dict[str, int]
    steady: dict[str, int]

    def per_minute(self, name: str) -> float:
        return self.steady.get(name, 0) * 60.0 / self.window

    @property
    def expected_per_minute(self) -> float:
        """Version checks per minute: ``processes / (ttl * (1 - jitter / 2))``, times 60."""
        return expected_per_minute(self.processes, self.ttl, self.jitter)

    @property
    def band_per_minute(self) -> tuple[float, float]:
        """Lowest and highest rate the formula allows in a window this long: every period
        between ``ttl * (1 - jitter)`` and ``ttl`` plus a poll, give or take one read per
        process at the window's two edges."""
        edge = self.processes * 60.0 / self.window
        low = self.processes * 60.0 / (self.ttl + self.poll) - edge
        high = self.processes * 60.0 / (self.ttl * (1 - self.jitter)) + edge
        return low, high

    def within(self, name: str) -> bool:
        low, high = self.band_per_minute
        return low <= self.per_minute(name) <= high


def expected_per_minute(processes: int, ttl: float, jitter: float) -> float:
    return processes * 60.0 / (ttl * (1.0 - jitter / 2.0))


# Server-side counter names.
AWS_CHECK = "secretsmanager:DescribeSecret"
AWS_READ = "secretsmanager:GetSecretValue"
VAULT_CHECK = "vault: GET secret/metadata"
VAULT_READ = "vault: GET secret/data"


def vault_counts(path: Path) -> dict[str, int]:
    counts: dict[str, int] = {}
    if not path.exists():
        return counts
    for line in path.read_text(encoding="utf-8").splitlines():
        entry = json.loads(line)
        if entry.get("type") != "response":
            continue
        request = entry.get("request", {})
        route = str(request.get("path", ""))
        if request.get("operation") != "read" or not route.startswith("secret/"):
            continue
        kind = route.split("/", 2)[1]
        name = f"vault: GET secret/{kind}"
        counts[name] = counts.get(name, 0) + 1
    return counts


def all_counts(moto: MotoServer, audit: Path) -> dict[str, int]:
    return {**moto.counts(), **vault_counts(audit)}


def run(
    *,
    moto: MotoServer,
    audit: Path,
    urls: list[str],
    env: dict[str, str],
    processes: int = PROCESSES,
    ttl: float = TTL,
    jitter: float = JITTER,
    window: float = WINDOW,
) -> ScaleResult:
    """Start the fleet, wait until every worker is primed, count ``window`` seconds, stop it."""
    moto.reset_counts()
    before = vault_counts(audit)
    started = time.monotonic()
    with tempfile.TemporaryFile("w+") as errors:  # a worker that fails to prime says why here
        fleet = subprocess.Popen(
            [sys.executable, "-c", FLEET, str(processes), str(ttl), str(jitter), str(POLL), *urls],
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
            env=env,
            cwd=str(ROOT),
            start_new_session=True,
        )
        try:
            ready, seen = 0, b""
            assert fleet.stdout is not None
            out = fleet.stdout.fileno()  # read unbuffered, so select() sees every line
            with selectors.DefaultSelector() as selector:
                selector.register(out, selectors.EVENT_READ)
                while ready < processes:
                    # A worker that never primes must not block the run: wait with a deadline.
                    left = READY_TIMEOUT - (time.monotonic() - started)
                    if left <= 0 or not selector.select(timeout=left):
                        errors.seek(0)
                        raise RuntimeError(
                            f"only {ready} of {processes} workers primed in {READY_TIMEOUT:g} s; "
                            f"their stderr ends: {errors.read()[-2000:]!r}"
                        )
                    chunk = os.read(out, 65536)
                    if not chunk:
                        raise RuntimeError(
                            f"the fleet stopped after {ready} of {processes} were ready"
                        )
                    seen += chunk
                    ready = seen.count(b"ready ")
            startup_seconds = time.monotonic() - started
            first = all_counts(moto, audit)
            time.sleep(window)  # the measurement is of wall time: the servers count meanwhile
            last = all_counts(moto, audit)
        finally:
            os.killpg(fleet.pid, 9)
            fleet.wait(timeout=30)
    startup = {name: first.get(name, 0) - before.get(name, 0) for name in first}
    steady = {name: last.get(name, 0) - first.get(name, 0) for name in last}
    return ScaleResult(
        processes=processes,
        cpus=len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1,
        ttl=ttl,
        jitter=jitter,
        poll=POLL,
        window=window,
        startup_seconds=startup_seconds,
        startup=startup,
        steady=steady,
    )
