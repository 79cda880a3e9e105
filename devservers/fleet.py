"""The fleet scenario: the example site under gunicorn, many logged-in users, and OpenBao rotating
the key underneath them. Shared by the fleet tests and the fleet benchmark.

One run:

1. write a first secret at a fresh KV v2 path: keyring JSON (``init_keyring``: current + next)
   or a plain ``secret_key`` field, whose fallbacks are the path's earlier KV versions;
2. start the example site with ``WORKERS`` sync workers (optionally ``--preload``, and
   optionally recycled by ``--max-requests``), its settings reading that path with
   ``SECRET_KEYRING_TTL=2``;
3. log ``USERS`` users in, and give each a signed cookie and a password-reset token;
4. drive load from ``THREADS`` threads while another thread rotates the secret ``ROTATIONS``
   times, ``INTERVAL`` seconds apart: every visit asks ``/whoami/`` (session cookie),
   ``/signed/`` (signed cookie) and ``/reset-token/`` (token check);
5. poll ``/status.json`` until every worker (distinct pids) signs with the final key.

Two kinds of users:

* **steady** users log in once and keep everything they got before the first rotation. Their
  signed cookie and reset token are signed with key #0 for the whole run; their session cookie
  is re-signed by Django whenever a worker verified its auth hash with a fallback key, as a
  browser's would be. Key #0 must stay in the keyring for 10 rotations, so the rotation keeps
  ``max_fallbacks=ROTATIONS`` previous keys (and the plain path keeps enough KV versions):
  a key that the keyring no longer holds is expected to fail, and is not what this measures.
* **churning** users renew every ``RENEW_EVERY`` seconds: log in again, fetch a new signed
  cookie and a new token, from whichever worker answers, and present them to the others next.
  Those signatures are made with the newest key some worker has, which is what a worker with a
  stale cache sees right after a rotation (Django ticket #35400).

A user answered as logged out logs in again (and renews everything), as a person would.

Nothing waits on a condition by sleeping: readiness and convergence are polled against a
monotonic deadline. The rotation cadence is real time on purpose: it is the scenario (rotations
3 s apart against a 2 s TTL).
"""

from __future__ import annotations

import collections
import dataclasses
import json
import os
import shlex
import shutil
import statistics
import threading
import time
import urllib.error
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Literal

import hvac

from devservers.processes import wait_until
from devservers.site import Browser, ExampleSite
from secret_keyring.keygen import generate_key
from secret_keyring.providers.vault import VaultProvider
from secret_keyring.rotation.vault import init_keyring, rotate_keyring

Payload = Literal["keyring", "plain"]

WORKERS = 4
TTL = 2.0
ROTATIONS = 10
INTERVAL = 3.0
USERS = 40
THREADS = 8
RENEW_EVERY = 1.0
#: Bounds on top of the deadline: visits per thread, and seconds for readiness and convergence.
MAX_VISITS_PER_THREAD = 100_000
CONVERGE_TIMEOUT = 30.0
START_TIMEOUT = 60.0

STAGGER_CONFIG = Path(__file__).with_name("gunicorn_stagger.py")

CHECKS = ("whoami", "signed", "token")
OUTCOMES = ("ok", "logged_out", "bad_signature", "server_error", "unexpected", "transport_error")
REJECTIONS = ("logged_out", "bad_signature")


@dataclasses.dataclass
class User:
    """One person with a browser: credentials made by the fleet, kept in a cookie jar."""

    name: str
    password: str
    browser: Browser
    steady: bool
    value: str = ""
    token: str = ""
    renewed_at: float = 0.0


@dataclasses.dataclass
class FleetResult:
    """What a run saw; no key material anywhere (fingerprints only)."""

    payload: Payload
    preload: bool
    counts: collections.Counter[tuple[str, str]]
    renewals: int
    relogins: int
    rejection_delays: list[float]
    load_seconds: float
    total_seconds: float
    rotations: int
    final: tuple[str | None, str | None]
    converged_pids: set[int]
    booted_workers: int
    signing_fingerprints: dict[int, str]
    #: gunicorn ``--max-requests`` of the run (0: workers were never recycled).
    max_requests: int = 0

    @property
    def requests(self) -> int:
        """Every request of the load phase, renewals included."""
        return sum(self.counts.values())

    def outcome(self, name: str) -> int:
        """Requests with this outcome, over every check."""
        return sum(count for (_, outcome), count in self.counts.items() if outcome == name)

    @property
    def rejected(self) -> int:
        """Requests answered logged out or ``BadSignature``."""
        return sum(self.outcome(name) for name in REJECTIONS)

    @property
    def label(self) -> str:
        return (
            ("keyring JSON" if self.payload == "keyring" else "plain payload")
            + (", --preload" if self.preload else "")
            + (f", --max-requests {self.max_requests}" if self.max_requests else "")
        )

    def summary(self) -> str:
        """One line for people."""
        delays = self.rejection_delays
        when = (
            f"; rejections {min(delays):.1f}-{max(delays):.1f}s after a rotation" if delays else ""
        )
        return (
            f"{self.label}: {self.requests} requests in {self.load_seconds:.1f}s "
            f"({self.rotations} rotations), logged out {self.outcome('logged_out')}, "
            f"BadSignature {self.outcome('bad_signature')}, 5xx {self.outcome('server_error')}, "
            f"unexpected {self.outcome('unexpected')}, "
            f"transport errors {self.outcome('transport_error')}, re-logins {self.relogins}; "
            f"{len(self.converged_pids)}/{WORKERS} workers on the final key{when}"
        )

    def as_dict(self) -> dict[str, Any]:
        """For the benchmark report."""
        return {
            "label": self.label,
            "payload": self.payload,
            "preload": self.preload,
            "requests": self.requests,
            "rejected": self.rejected,
            "outcomes": {name: self.outcome(name) for name in OUTCOMES},
            "by_check": {
                check: {name: self.counts[(check, name)] for name in OUTCOMES} for check in CHECKS
            },
            "renewals": self.renewals,
            "relogins": self.relogins,
            "rejection_delays": self.rejection_delays,
            "load_seconds": self.load_seconds,
            "total_seconds": self.total_seconds,
            "rotations": self.rotations,
            "workers_converged": len(self.converged_pids),
            "booted_workers": self.booted_workers,
        }


class Tally:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.counts: collections.Counter[tuple[str, str]] = collections.Counter()
        self.rejected_at: list[float] = []
        self.renewals = 0
        self.relogins = 0

    def add(self, check: str, outcome: str) -> None:
        with self.lock:
            self.counts[(check, outcome)] += 1
            if outcome in REJECTIONS:
                self.rejected_at.append(time.monotonic())


class Rotator(threading.Thread):
    """Rotates the secret ``rotations`` times, ``interval`` seconds apart, from ``start``."""

    def __init__(
        self,
        provider: VaultProvider,
        start: float,
        stop: threading.Event,
        *,
        rotations: int = ROTATIONS,
        interval: float = INTERVAL,
    ) -> None:
        super().__init__(name="fleet-rotator", daemon=True)
        self.provider = provider
        self.start_at = start
        self.stop = stop
        self.rotations = rotations
        self.interval = interval
        #: When each rotation began writing (no worker can hold its keyring before that).
        self.began: list[float] = []
        self.times: list[float] = []
        self.final: tuple[str | None, str | None] = (None, None)
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            for number in range(1, self.rotations + 1):
                # The cadence is the scenario itself (rotation interval vs TTL), not a wait for
                # a condition.
                due = self.start_at + number * self.interval
                if self.stop.wait(max(0.0, due - time.monotonic())):
                    return
                self._rotate(number)
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread, which raises it
            self.error = exc

    def _rotate(self, number: int) -> None:
        self.began.append(time.monotonic())
        report = rotate_keyring(self.provider, max_fallbacks=self.rotations)
        if not report.written:
            raise RuntimeError(f"rotation {number} wrote nothing: {report.how}")
        self.times.append(time.monotonic())
        fp = report.fingerprints
        self.final = (fp.get("current"), fp.get("next"))


def _classify_whoami(user: User, code: int, body: str) -> str:
    if code >= 500:
        return "server_error"
    if code == 200 and body == user.name:
        return "ok"
    if code == 200 and body == "anonymous":
        return "logged_out"
    return "unexpected"


def _classify_check(code: int, body: str, expected: str) -> str:
    if code >= 500:
        return "server_error"
    if code == 200 and body == expected:
        return "ok"
    if code == 400 and body == "BadSignature":
        return "bad_signature"
    return "unexpected"


def _request(tally: Tally, check: str, call: Any) -> tuple[int, str] | None:
    try:
        code, body = call()
    except (OSError, urllib.error.URLError):
        tally.add(check, "transport_error")
        return None
    return code, body


def renew(user: User, tally: Tally) -> None:
    """Log in again and fetch a new signed cookie and token (login changes last_login, which
    every earlier token of this user depends on)."""
    login = _request(
        tally,
        "login",
        lambda: user.browser.post("/login/", {"username": user.name, "password": user.password}),
    )
    if login is not None:
        tally.add("login", "ok" if login[0] == 200 else _classify_check(*login, ""))
    user.value = f"{user.name}:{time.monotonic_ns()}"
    answer = _request(tally, "sign", lambda: user.browser.get("/signed/", {"set": user.value}))
    if answer is not None:
        tally.add("sign", _classify_check(*answer, "set"))
    answer = _request(
        tally, "issue", lambda: user.browser.get("/reset-token/", {"user": user.name})
    )
    if answer is not None:
        code, body = answer
        if code == 200:
            user.token = body
            tally.add("issue", "ok")
        else:
            tally.add("issue", _classify_check(code, body, ""))
    user.renewed_at = time.monotonic()
    with tally.lock:
        tally.renewals += 1


def check(user: User, tally: Tally) -> dict[str, str]:
    """Present the user's session, signed cookie and reset token once; the outcome of each."""
    outcomes: dict[str, str] = {}
    answer = _request(tally, "whoami", lambda: user.browser.get("/whoami/"))
    if answer is not None:
        outcomes["whoami"] = _classify_whoami(user, *answer)
    answer = _request(tally, "signed", lambda: user.browser.get("/signed/"))
    if answer is not None:
        outcomes["signed"] = _classify_check(*answer, user.value)
    answer = _request(
        tally,
        "token",
        lambda: user.browser.get("/reset-token/", {"user": user.name, "token": user.token}),
    )
    if answer is not None:
        outcomes["token"] = _classify_check(*answer, "valid")
    for name, outcome in outcomes.items():
        tally.add(name, outcome)
    return outcomes


def _visit(user: User, tally: Tally) -> None:
    if check(user, tally).get("whoami") == "logged_out":  # a person logs in again
        with tally.lock:
            tally.relogins += 1
        renew(user, tally)
    elif not user.steady and time.monotonic() - user.renewed_at >= RENEW_EVERY:
        renew(user, tally)


def _drive(
    users: list[User],
    tally: Tally,
    started: threading.Barrier,
    timing: dict[str, float],
    errors: list[BaseException],
) -> None:
    try:
        for user in users:
            renew(user, Tally())  # the start-up logins are not part of the measured load
        started.wait()
        end = timing["end"]
        for visits in range(MAX_VISITS_PER_THREAD):
            if time.monotonic() >= end:
                break
            _visit(users[visits % len(users)], tally)
    except BaseException as exc:  # noqa: BLE001 - the main thread raises it after join()
        errors.append(exc)
        started.abort()


def _status(site: ExampleSite) -> dict[str, Any] | None:
    try:
        return site.status()
    except (OSError, urllib.error.URLError, ValueError):
        return None


def pids_with(
    site: ExampleSite, seen: dict[int, dict[str, Any]], accept: Any, workers: int = WORKERS
) -> bool:
    """Record the status of the worker that answers if ``accept`` takes it; whether ``workers``
    distinct pids have been recorded."""
    status = _status(site)
    if status is not None and accept(status):
        seen[int(status["pid"])] = status
    return len(seen) >= workers


def signing_pair(status: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """The fingerprints of a worker's cached ``current`` and ``next``."""
    fps = status.get("fingerprints") or {}
    return fps.get("current"), fps.get("next")


def write_first_secret(provider: VaultProvider, payload: Payload, client: hvac.Client) -> None:
    """Keyring JSON through ``init_keyring``; a plain key as the ``secret_key`` field, on a path
    that keeps every version of the run (KV v2 keeps 10 by default)."""
    if payload == "keyring":
        report = init_keyring(provider)
        if not report.written:
            raise RuntimeError(f"{provider.source}: init wrote nothing: {report.how}")
        return
    client.secrets.kv.v2.create_or_update_secret(
        provider.path, secret={"secret_key": generate_key()}, mount_point=provider.mount
    )
    client.secrets.kv.v2.update_metadata(
        provider.path, max_versions=ROTATIONS + 5, mount_point=provider.mount
    )


def prepare_database(workdir: Path, users: Mapping[str, str]) -> Path:
    """Migrate a database and create ``users`` once; runs copy it. Any valid key will do."""
    key_var = "FLEET_PREPARE_KEY"
    workdir.mkdir(parents=True, exist_ok=True)
    site = ExampleSite(
        workdir,
        {
            "DJANGO_SECRET_KEY_SOURCE": f"env://{key_var}",
            key_var: generate_key(),
            "EXAMPLE_FAST_PASSWORD_HASHER": "1",
        },
    )
    site.prepare(dict(users))
    return workdir / "example.sqlite3"


def user_table(count: int = USERS) -> dict[str, str]:
    """The fleet's users (name -> password); throwaway local accounts."""
    return {f"fleet{number:02d}": f"pw-fleet{number:02d}-local" for number in range(count)}


@dataclasses.dataclass
class Vault:
    """Where the secret lives: an OpenBao address and a token that may write it."""

    addr: str
    token: str

    def environ(self, home: Path) -> dict[str, str]:
        return {"VAULT_ADDR": self.addr, "VAULT_TOKEN": self.token, "HOME": str(home)}

    def client(self) -> hvac.Client:
        return hvac.Client(url=self.addr, token=self.token, timeout=10)


def run_fleet(
    vault: Vault,
    workdir: Path,
    *,
    payload: Payload,
    preload: bool = False,
    stagger: bool | None = None,
    database: Path | None = None,
    path: str | None = None,
    max_requests: int = 0,
) -> FleetResult:
    """Run the scenario once and return what it saw (it asserts nothing itself).

    ``stagger`` (default: without ``--preload``) starts the workers ``TTL / WORKERS`` apart, so
    their refresh phases spread over the TTL as a fleet's do (see ``gunicorn_stagger.py``). With
    ``--preload`` the workers inherit the parent's first fetch and refresh nearly in lockstep.
    ``max_requests`` recycles every worker after that many requests (gunicorn
    ``--max-requests``, with a jitter of a tenth): with ``--preload``, each new worker is forked
    from a master that fetched the keyring at boot and never refreshed it.

    Raises:
        TimeoutError: the site did not start, or its workers did not converge in time.
        RuntimeError: a rotation wrote nothing, or a driver thread failed.
    """
    began = time.monotonic()
    workdir.mkdir(parents=True, exist_ok=True)
    home = workdir / "home"
    home.mkdir(exist_ok=True)
    path = path or f"fleet/{payload}-{os.urandom(6).hex()}"
    source = f"vault://secret/{path}"
    provider = VaultProvider("secret", path, environ=vault.environ(home))
    write_first_secret(provider, payload, vault.client())

    users_table = user_table()
    target_db = workdir / "example.sqlite3"
    if database is None:
        database = prepare_database(workdir / "template", users_table)
    shutil.copyfile(database, target_db)
    site = ExampleSite(
        workdir,
        {
            "VAULT_ADDR": vault.addr,
            "VAULT_TOKEN": vault.token,
            "HOME": str(home),
            "DJANGO_SECRET_KEY_SOURCE": source,
            "SECRET_KEYRING_TTL": str(TTL),
            "SECRET_KEYRING_MAX_FALLBACKS": str(ROTATIONS),
            "EXAMPLE_FAST_PASSWORD_HASHER": "1",
        },
        workers=WORKERS,
        preload=preload,
        max_requests=max_requests,
    )
    if stagger is None:
        stagger = not preload
    if stagger:
        site.base_env["GUNICORN_CMD_ARGS"] = "--config " + shlex.quote(str(STAGGER_CONFIG))
        site.base_env["FLEET_STAGGER_SECONDS"] = str(TTL / WORKERS)
    site.start(timeout=START_TIMEOUT)
    stop = threading.Event()
    rotator: Rotator | None = None
    threads: list[threading.Thread] = []
    try:
        seen: dict[int, dict[str, Any]] = {}
        wait_until(lambda: pids_with(site, seen, lambda s: True), START_TIMEOUT, "every worker")

        tally = Tally()
        users = [
            User(name, password, Browser(site.url), steady=index % 2 == 0)
            for index, (name, password) in enumerate(users_table.items())
        ]
        timing: dict[str, float] = {}

        def begin() -> None:  # runs once, as the barrier releases every driver thread
            timing["start"] = time.monotonic()
            # Rotations at +3s .. +30s; the load goes on one interval past the last one, so a
            # stale worker after the last rotation is seen too.
            timing["end"] = timing["start"] + (ROTATIONS + 1) * INTERVAL

        started = threading.Barrier(THREADS + 1, action=begin)
        errors: list[BaseException] = []
        threads = [
            threading.Thread(
                target=_drive,
                args=(users[index::THREADS], tally, started, timing, errors),
                name=f"fleet-driver-{index}",
                daemon=True,
            )
            for index in range(THREADS)
        ]
        for thread in threads:
            thread.start()
        try:
            started.wait(timeout=START_TIMEOUT)
        except threading.BrokenBarrierError:
            raise RuntimeError(f"a driver thread failed at start-up: {errors!r}") from None
        load_start = timing["start"]
        rotator = Rotator(provider, load_start, stop)
        rotator.start()
        for thread in threads:
            thread.join(timeout=(ROTATIONS + 2) * INTERVAL + 30)
        load_seconds = time.monotonic() - load_start
        stop.set()
        rotator.join(timeout=30)
        if errors:
            raise RuntimeError(f"a driver thread failed: {errors[0]!r}") from errors[0]
        if rotator.error is not None:
            raise RuntimeError(f"rotation failed: {rotator.error!r}") from rotator.error
        if any(thread.is_alive() for thread in threads) or rotator.is_alive():
            raise RuntimeError("the load or the rotation did not finish in time")

        final = rotator.final
        converged: dict[int, dict[str, Any]] = {}
        wait_until(
            lambda: pids_with(
                site,
                converged,
                lambda s: signing_pair(s) == final and s.get("signing") == final[0],
            ),
            CONVERGE_TIMEOUT,
            "every worker to sign with the final key",
        )
        booted = site.process.log.read_text("utf-8", "replace").count("Booting worker with pid")
        return FleetResult(
            payload=payload,
            preload=preload,
            counts=tally.counts,
            renewals=tally.renewals,
            relogins=tally.relogins,
            rejection_delays=_delays(tally.rejected_at, rotator.times),
            load_seconds=load_seconds,
            total_seconds=time.monotonic() - began,
            rotations=len(rotator.times),
            final=final,
            converged_pids=set(converged),
            booted_workers=booted,
            signing_fingerprints={pid: str(s.get("signing")) for pid, s in converged.items()},
            max_requests=max_requests,
        )
    finally:
        stop.set()
        site.stop()


def _delays(rejected_at: list[float], rotations: list[float]) -> list[float]:
    """For each rejection, the seconds since the latest rotation before it."""
    delays = []
    for moment in rejected_at:
        before = [t for t in rotations if t <= moment]
        if before:
            delays.append(moment - before[-1])
    return sorted(delays)


def describe(results: list[FleetResult]) -> Iterator[str]:
    """Lines of a side-by-side table."""
    yield (
        f"{'run':<28} {'requests':>8} {'logged out':>10} {'BadSignature':>12} {'5xx':>4} "
        f"{'workers on final key':>20} {'seconds':>7}"
    )
    for result in results:
        yield (
            f"{result.label:<28} {result.requests:>8} {result.outcome('logged_out'):>10} "
            f"{result.outcome('bad_signature'):>12} {result.outcome('server_error'):>4} "
            f"{len(result.converged_pids):>17}/{WORKERS} {result.total_seconds:>7.1f}"
        )
    delays = [d for result in results for d in result.rejection_delays]
    if delays:
        yield (
            f"rejections came {statistics.median(delays):.1f}s (median) and at most "
            f"{max(delays):.1f}s after a rotation; TTL {TTL:.0f}s, rotations {INTERVAL:.0f}s apart"
        )


def to_json(results: list[FleetResult]) -> str:
    return json.dumps([result.as_dict() for result in results], indent=2)
