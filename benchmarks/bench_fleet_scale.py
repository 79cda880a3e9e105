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

A worker that has not primed by the readiness deadline is asked for the stacks of its threads
(``faulthandler`` on ``SIGUSR1``, one file per worker), and the error quotes them, grouped.

    python benchmarks/bench_fleet_scale.py [--processes 64] [--window 30] [--ready-timeout 180]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
import selectors
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import IO, TYPE_CHECKING

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

STACKS_WAIT = 10.0  # seconds the stuck workers get to write their stacks

# The fleet: run as ``python -c`` with the settings in argv. Every worker reports on the shared
# stdout pipe with one ``os.write`` of one line, ``ready PID``; the parent adds ``exited PID CODE``
# for a worker that ends. One write of a line this short is atomic on a pipe. ``print()`` is not:
# with PYTHONUNBUFFERED=1 (or ``-u``) it makes a write() per argument and one for the newline, and
# two workers priming together interleaved theirs (``readyready  1234512346``), so lines went
# missing and the count never reached ``processes``. On SIGUSR1 a worker writes the stacks of its
# threads to STACKS/PID.txt.
FLEET = """
import faulthandler, os, signal, sys, time, traceback
from secret_keyring import CachedKeyring, provider_from_url
import botocore.session, hvac  # imported once in the parent, as with --preload

processes = int(sys.argv[1])
ttl, jitter, poll = (float(value) for value in sys.argv[2:5])
stacks = sys.argv[5]
urls = sys.argv[6:]
cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []


def report(line):
    os.write(1, (line + "\\n").encode())


def work(index):
    dump = open(os.path.join(stacks, f"{os.getpid()}.txt"), "w")
    faulthandler.register(signal.SIGUSR1, file=dump, all_threads=True)
    if cpus:
        os.sched_setaffinity(0, {cpus[index % len(cpus)]})
    caches = [CachedKeyring(provider_from_url(url), ttl=ttl, jitter=jitter) for url in urls]
    for cache in caches:
        cache.prime()
    report(f"ready {os.getpid()}")
    while True:
        for cache in caches:
            cache.get()
        time.sleep(poll)


children = set()
for index in range(processes):
    pid = os.fork()
    if pid == 0:
        try:
            work(index)
        except BaseException:
            traceback.print_exc()
        finally:
            sys.stderr.flush()
            os._exit(1)
    children.add(pid)
while children:
    pid, status = os.wait()
    children.discard(pid)
    report(f"exited {pid} {os.waitstatus_to_exitcode(status)}")
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


_REPORT = re.compile(rb"(ready|exited) (\d+)(?: (-?\d+))?")


def _wait_until_ready(
    out: int, processes: int, timeout: float, errors: IO[str], stacks: Path
) -> None:
    """Read the fleet's reports from ``out`` until ``processes`` workers are ready.

    Raises:
        RuntimeError: a worker exited, the fleet stopped, or ``timeout`` seconds passed.
    """
    deadline = time.monotonic() + timeout
    ready: set[int] = set()
    pending, strange = b"", b""
    with selectors.DefaultSelector() as selector:
        selector.register(out, selectors.EVENT_READ)
        while len(ready) < processes:
            # A worker that never primes must not block the run: wait with a deadline.
            left = deadline - time.monotonic()
            if left <= 0 or not selector.select(timeout=left):
                raise RuntimeError(
                    f"only {len(ready)} of {processes} workers primed in {timeout:g} s"
                    f"{_unexpected(strange)}{_diagnosis(errors, stacks, ready)}"
                )
            chunk = os.read(out, 65536)  # unbuffered, so select() sees every line
            if not chunk:
                raise RuntimeError(
                    f"the fleet stopped after {len(ready)} of {processes} were ready"
                    f"{_unexpected(strange)}{_diagnosis(errors, None, ready)}"
                )
            *lines, pending = (pending + chunk).split(b"\n")
            for line in lines:
                report = _REPORT.fullmatch(line)
                if report is None:
                    strange += line + b"\n"
                elif report[1] == b"ready":
                    ready.add(int(report[2]))
                else:
                    raise RuntimeError(
                        f"worker {int(report[2])} exited with {int(report[3] or 0)} while "
                        f"{len(ready)} of {processes} were ready{_unexpected(strange)}"
                        f"{_diagnosis(errors, None, ready)}"
                    )


def _unexpected(strange: bytes) -> str:
    return f"; the fleet also wrote {strange[-500:]!r}" if strange else ""


def _diagnosis(errors: IO[str], stacks: Path | None, ready: set[int]) -> str:
    """The end of the workers' stderr and, with ``stacks``, the stacks of the workers not in
    ``ready``, identical ones counted once."""
    errors.seek(0)
    text = f"; their stderr ends: {errors.read()[-2000:]!r}"
    if stacks is None:
        return text
    dumps = stuck_stacks(stacks, ready)
    if not dumps:
        return text + "; no stuck worker wrote its stacks"
    groups: dict[str, int] = {}
    for dump in dumps.values():
        groups[dump] = groups.get(dump, 0) + 1
    shown = sorted(groups.items(), key=lambda item: -item[1])
    parts = [f"{count} stuck worker(s) at:\n{dump}" for dump, count in shown[:3]]
    if len(shown) > 3:
        parts.append(f"({len(shown) - 3} more distinct stacks left out)")
    return text + "\n" + "\n".join(parts)


def stuck_stacks(stacks: Path, ready: set[int], wait: float = STACKS_WAIT) -> dict[int, str]:
    """Ask every worker that wrote a file in ``stacks`` and is not in ``ready`` for the stacks
    of its threads (``SIGUSR1``) and return them, thread ids left out so that equal stacks
    compare equal. A worker's dump is taken once its file has stopped growing."""
    stuck = {
        int(path.stem): path
        for path in stacks.glob("*.txt")
        if path.stem.isdigit() and int(path.stem) not in ready
    }
    for pid in list(stuck):
        try:
            os.kill(pid, signal.SIGUSR1)
        except ProcessLookupError:
            del stuck[pid]
    deadline = time.monotonic() + wait
    sizes: dict[int, int] = {}
    while time.monotonic() < deadline:
        now = {pid: path.stat().st_size for pid, path in stuck.items()}
        if all(now.values()) and now == sizes:
            break
        sizes = now
        time.sleep(0.1)  # faulthandler writes from the signal handler: milliseconds
    return {
        pid: re.sub(r"(?i)(thread) 0x[0-9a-f]+", r"\1", path.read_text(errors="replace")).strip()
        for pid, path in stuck.items()
        if path.stat().st_size
    }


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
    ready_timeout: float = READY_TIMEOUT,
) -> ScaleResult:
    """Start the fleet, wait until every worker is primed, count ``window`` seconds, stop it.

    Raises:
        RuntimeError: the fleet stopped, or not every worker primed within ``ready_timeout``;
            the message quotes the workers' stderr and the stacks of the stuck ones.
    """
    moto.reset_counts()
    before = vault_counts(audit)
    started = time.monotonic()
    # A worker that fails to prime says why on stderr; one that hangs, in its stack file.
    with tempfile.TemporaryFile("w+") as errors, tempfile.TemporaryDirectory() as stacks:
        fleet = subprocess.Popen(
            [
                sys.executable,
                "-c",
                FLEET,
                *(str(value) for value in (processes, ttl, jitter, POLL, stacks)),
                *urls,
            ],
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
            env=env,
            cwd=str(ROOT),
            start_new_session=True,
        )
        try:
            assert fleet.stdout is not None
            _wait_until_ready(fleet.stdout.fileno(), processes, ready_timeout, errors, Path(stacks))
            startup_seconds = time.monotonic() - started
            first = all_counts(moto, audit)
            time.sleep(window)  # the measurement is of wall time: the servers count meanwhile
            last = all_counts(moto, audit)
        finally:
            os.killpg(fleet.pid, signal.SIGKILL)
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


def main(argv: list[str] | None = None) -> int:
    """Section f alone: start OpenBao and moto, write the secrets as ``make bench`` does, run."""
    import servers  # the servers, secrets and environment of ``make bench``

    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--processes", type=int, default=PROCESSES)
    parser.add_argument("--window", type=float, default=WINDOW)
    parser.add_argument("--ready-timeout", type=float, default=READY_TIMEOUT)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-fleet-scale-") as tmp:
        workdir = Path(tmp)
        with servers.bench_servers(workdir) as (_, moto, audit, env):
            # This checkout's library first, whichever tree the virtualenv was installed from.
            env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), str(ROOT)])
            began = time.monotonic()
            result = run(
                moto=moto,
                audit=audit,
                urls=[
                    f"vault://secret/{servers.VAULT_PATH}",
                    f"aws-secretsmanager://{servers.AWS_NAME}",
                ],
                env=env,
                processes=args.processes,
                window=args.window,
                ready_timeout=args.ready_timeout,
            )
    low, high = result.band_per_minute
    print(
        f"{result.processes} processes on {result.cpus} CPUs: all primed in "
        f"{result.startup_seconds:.1f} s, {time.monotonic() - began:.1f} s in all"
    )
    for label, check in (("OpenBao", VAULT_CHECK), ("Secrets Manager", AWS_CHECK)):
        print(
            f"{label}: {result.per_minute(check):.0f} version checks/min, expected "
            f"{result.expected_per_minute:.0f} ({low:.0f}-{high:.0f})"
            f"{'' if result.within(check) else ' OUTSIDE the band'}"
        )
    print(f"start-up requests: {result.startup}")
    return 0 if result.within(VAULT_CHECK) and result.within(AWS_CHECK) else 1


if __name__ == "__main__":
    raise SystemExit(main())
