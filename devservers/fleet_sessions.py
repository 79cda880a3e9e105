"""Sessions during convergence: database sessions, browsers that load pages with several requests
at once, and a rotation the workers learn at different moments. Shared by the fleet test and
the docs' figures.

Django (4.2 and later) checks a session's auth hash (an HMAC of the password hash keyed by
``SECRET_KEY``) in ``django.contrib.auth.get_user()``: when only a ``SECRET_KEY_FALLBACKS`` key
matches, it calls ``request.session.cycle_key()`` and stores the hash made with the current key.
With database sessions, ``cycle_key()`` inserts a row under a new session id and deletes the old
row. For up to one TTL after a rotation, the workers disagree on the current key (one's current
is another's ``next``, and the other's current is the first one's ``previous``), so each request
that lands on a worker with the other current key re-keys the session again.

One run:

1. keyring JSON at a fresh KV v2 path (``init_keyring``: current + next);
2. the example site with ``EXAMPLE_SESSION_ENGINE=db`` under gunicorn with ``WORKERS`` sync
   workers started ``TTL / WORKERS`` apart (their refresh phases spread over the TTL, as a
   fleet's are), ``SECRET_KEYRING_TTL=TTL``;
3. ``USERS`` users log in, then each loads pages back to back: a page load is ``PAGE_REQUESTS``
   requests sent at once, all with the session cookie the browser held when the page load began
   (a document and the requests its scripts fire at once: fetches, an htmx fragment). Each
   response's ``Set-Cookie`` is applied when it arrives, so the browser keeps the session id of
   the last response that set or deleted it, as a browser does. A page load after which the
   browser holds no session is a logout: that person logs in again;
4. meanwhile the key is rotated ``ROTATIONS`` times, ``INTERVAL`` seconds apart (longer than the
   TTL, so a worker is never two rotations behind);
5. ``/status.json`` is polled until every worker signs with the final key.

What is counted: requests, responses that came back anonymous, re-keys (a response that sets a
session id other than the one its request carried) and logouts. An anonymous response whose
session id no response ever re-keyed would be a key the fleet failed to verify, not the race
this measures; those are counted apart.

Every request opens its own connection, as a browser's parallel connections do; the load runs on
the test machine's loopback and its timing is real (the rotation cadence against the TTL is the
scenario). Nothing waits on a condition by sleeping.
"""

from __future__ import annotations

import collections
import dataclasses
import http.client
import http.cookies
import os
import shlex
import shutil
import sqlite3
import threading
import time
import urllib.parse
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from devservers import fleet
from devservers.processes import LOOPBACK, wait_until
from devservers.site import ExampleSite
from secret_keyring.providers.vault import VaultProvider

WORKERS = 2
TTL = fleet.TTL
ROTATIONS = 3
INTERVAL = fleet.INTERVAL
USERS = 6
PAGE_REQUESTS = 4
SESSION_COOKIE = "sessionid"
#: Bound on page loads per user, on top of the deadline.
MAX_PAGE_LOADS = 10_000


@dataclasses.dataclass(frozen=True)
class Response:
    """One request of a page load, as the browser saw it (session ids only, no key material)."""

    user: str
    page: int
    #: The session id the request carried.
    sent: str | None
    sent_at: float
    code: int
    body: str
    #: ``Set-Cookie: sessionid``: the new id, ``""`` for a deletion, ``None`` when not set.
    cookie: str | None
    pid: int | None

    @property
    def anonymous(self) -> bool:
        return self.code == 200 and self.body == "anonymous"

    @property
    def rekeyed(self) -> bool:
        """The server answered with a session id other than the one sent: ``cycle_key()``."""
        return bool(self.cookie) and self.cookie != self.sent


def _session_cookie(headers: list[str]) -> str | None:
    """The ``sessionid`` a response sets (``""``: deleted), or ``None``."""
    found: str | None = None
    for header in headers:
        jar: http.cookies.SimpleCookie = http.cookies.SimpleCookie()
        jar.load(header)
        morsel = jar.get(SESSION_COOKIE)
        if morsel is None:
            continue
        deleted = morsel.value == "" or morsel["max-age"] in {"0", 0}
        found = "" if deleted else morsel.value
    return found


class PageBrowser:
    """One person's browser: a cookie jar holding the session id, and a page load that sends
    ``width`` requests at once with the cookie the jar held when it began."""

    def __init__(self, site: ExampleSite, name: str, password: str, width: int) -> None:
        self.port = site.port
        self.name = name
        self.password = password
        self.width = width
        self.session: str | None = None
        self.lock = threading.Lock()
        self.pool = ThreadPoolExecutor(width, thread_name_prefix=f"page-{name}")

    def close(self) -> None:
        self.pool.shutdown(wait=True)

    def _send(
        self, method: str, path: str, sent: str | None, body: bytes | None = None
    ) -> tuple[int, str, str | None, int | None]:
        headers = {"Host": f"{LOOPBACK}:{self.port}"}
        if sent:
            headers["Cookie"] = f"{SESSION_COOKIE}={sent}"
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        connection = http.client.HTTPConnection(LOOPBACK, self.port, timeout=10)
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            cookie = _session_cookie(response.headers.get_all("Set-Cookie") or [])
            # The browser stores a cookie as the response's headers arrive: the last response
            # to set (or delete) the session id is the one whose id the next page load sends.
            if cookie is not None:
                with self.lock:
                    self.session = cookie or None
            pid = response.headers.get("X-Served-By")
            text = response.read().decode("utf-8", "replace")
            return response.status, text, cookie, int(pid) if pid and pid.isdigit() else None
        finally:
            connection.close()

    def login(self) -> bool:
        form = urllib.parse.urlencode({"username": self.name, "password": self.password})
        with self.lock:
            self.session = None
        code, _, cookie, _ = self._send("POST", "/login/", None, form.encode())
        return code == 200 and bool(cookie)

    def _get(self, page: int, sent: str | None) -> Response:
        sent_at = time.monotonic()
        try:
            code, body, cookie, pid = self._send("GET", "/whoami/", sent)
        except OSError:
            code, body, cookie, pid = 0, "transport error", None, None
        return Response(self.name, page, sent, sent_at, code, body, cookie, pid)

    def load_page(self, page: int) -> list[Response]:
        with self.lock:
            sent = self.session
        futures = [self.pool.submit(self._get, page, sent) for _ in range(self.width)]
        return [future.result() for future in futures]


@dataclasses.dataclass
class SessionsResult:
    """What a run saw: counts and session ids (random, not key material)."""

    engine: str
    workers: int
    users: int
    page_requests: int
    ttl: float
    interval: float
    responses: list[Response]
    logins: int
    relogins: int
    rotations: list[float]
    load_seconds: float
    total_seconds: float
    converged_pids: set[int]
    #: Rows of ``django_session`` when the load stopped, against one live session per user.
    session_rows: int

    @property
    def requests(self) -> int:
        return len(self.responses)

    @property
    def anonymous(self) -> list[Response]:
        return [r for r in self.responses if r.anonymous]

    @property
    def rekeys(self) -> list[Response]:
        return [r for r in self.responses if r.rekeyed]

    @property
    def unexplained_anonymous(self) -> list[Response]:
        """Anonymous responses to a session id that no response re-keyed: a key the fleet did
        not verify (``get_user()`` flushed the session), not the re-key race."""
        replaced = {r.sent for r in self.rekeys}
        return [r for r in self.anonymous if r.sent not in replaced]

    def before_first_rotation(self) -> list[Response]:
        """Responses to requests sent before the first rotation began writing."""
        first = self.rotations[0] if self.rotations else float("inf")
        return [r for r in self.responses if r.sent_at < first]

    def other(self) -> collections.Counter[int]:
        """Responses other than the user's name or ``anonymous``, by status (0: transport)."""
        return collections.Counter(
            r.code
            for r in self.responses
            if not (r.anonymous or (r.code == 200 and r.body == r.user))
        )

    def anonymous_beside_their_rekey(self) -> list[Response]:
        """Anonymous responses to a request of the page load whose other request re-keyed the
        session id it carried: ``cycle_key()`` deleted the row under the sibling."""
        rekeyed_in = {(r.user, r.page, r.sent) for r in self.rekeys}
        return [r for r in self.anonymous if (r.user, r.page, r.sent) in rekeyed_in]

    @property
    def pages(self) -> int:
        return len({(r.user, r.page) for r in self.responses})

    def per_user_rotation(self, count: int) -> float:
        return count / max(1, self.users * len(self.rotations))

    def rekey_delays(self) -> list[float]:
        """For each re-key, the seconds from the latest rotation before its request was sent."""
        delays = []
        for response in self.rekeys:
            before = [t for t in self.rotations if t <= response.sent_at]
            if before:
                delays.append(response.sent_at - before[-1])
        return sorted(delays)

    def summary(self) -> str:
        """One line for people."""
        rekeys = len(self.rekeys)
        delays = self.rekey_delays()
        window = (
            f", re-keys {min(delays):.1f}-{max(delays):.1f}s after a rotation" if delays else ""
        )
        return (
            f"{self.engine} sessions, {self.workers} workers, TTL {self.ttl:.0f}s, "
            f"{self.page_requests} requests per page load, {self.users} users, "
            f"{len(self.rotations)} rotations {self.interval:.0f}s apart: "
            f"{self.requests} requests in {self.pages} page loads ({self.load_seconds:.1f}s); "
            f"new session ids {rekeys} ({self.per_user_rotation(rekeys):.1f} per user per "
            f"rotation{window}); anonymous {len(self.anonymous)} "
            f"({self.per_user_rotation(len(self.anonymous)):.1f} per user per rotation, "
            f"unexplained {len(self.unexplained_anonymous)}); logouts {self.relogins} "
            f"({self.per_user_rotation(self.relogins):.1f} per user per rotation); "
            f"session rows left {self.session_rows} for {self.users} users; "
            f"{len(self.converged_pids)}/{self.workers} workers on the final key"
        )


def describe(results: list[SessionsResult]) -> Iterator[str]:
    """Lines for the terminal summary."""
    yield (
        f"{'sessions':<14} {'workers':>7} {'TTL':>4} {'per page':>8} {'users':>5} "
        f"{'rotations':>9} {'requests':>8} {'new ids/user/rot':>16} {'anonymous':>9} "
        f"{'logouts':>7}"
    )
    for result in results:
        yield (
            f"{result.engine:<14} {result.workers:>7} {result.ttl:>3.0f}s "
            f"{result.page_requests:>8} "
            f"{result.users:>5} {len(result.rotations):>9} {result.requests:>8} "
            f"{result.per_user_rotation(len(result.rekeys)):>16.1f} "
            f"{len(result.anonymous):>9} {result.relogins:>7}"
        )
    for result in results:
        yield result.summary()


def _session_rows(database: Path) -> int:
    with sqlite3.connect(database) as connection:
        (count,) = connection.execute("SELECT COUNT(*) FROM django_session").fetchone()
    return int(count)


@dataclasses.dataclass
class _Driver:
    """One user's thread: what it saw, and its own counters (summed after ``join()``)."""

    browser: PageBrowser
    out: list[Response] = dataclasses.field(default_factory=list)
    counts: collections.Counter[str] = dataclasses.field(default_factory=collections.Counter)


def _first_login(browser: PageBrowser) -> None:
    if not browser.login():
        raise RuntimeError(f"{browser.name} could not log in")


def _drive(
    driver: _Driver,
    started: threading.Barrier,
    timing: dict[str, float],
    errors: list[BaseException],
) -> None:
    browser, out, counts = driver.browser, driver.out, driver.counts
    try:
        _first_login(browser)
        counts["logins"] += 1
        started.wait()
        for page in range(MAX_PAGE_LOADS):
            if time.monotonic() >= timing["end"]:
                break
            out.extend(browser.load_page(page))
            if browser.session is None:  # the browser holds no session: a person logs in again
                counts["relogins"] += 1
                if browser.login():
                    counts["logins"] += 1
    except BaseException as exc:  # noqa: BLE001 - the main thread raises it after join()
        errors.append(exc)
        started.abort()


def run_sessions(
    vault: fleet.Vault,
    workdir: Path,
    *,
    database: Path,
    workers: int = WORKERS,
    users: int = USERS,
    page_requests: int = PAGE_REQUESTS,
    rotations: int = ROTATIONS,
    engine: str = "db",
) -> SessionsResult:
    """Run the scenario once and return what it saw (it asserts nothing itself).

    ``database`` is a migrated example database holding ``fleet.user_table()``; it is copied.
    ``engine`` is the example site's ``EXAMPLE_SESSION_ENGINE`` (``db`` or ``signed_cookies``).

    Raises:
        TimeoutError: the site did not start, or its workers did not converge in time.
        RuntimeError: a rotation wrote nothing, or a driver thread failed.
    """
    began = time.monotonic()
    workdir.mkdir(parents=True, exist_ok=True)
    home = workdir / "home"
    home.mkdir(exist_ok=True)
    path = f"fleet/sessions-{os.urandom(6).hex()}"
    provider = VaultProvider("secret", path, environ=vault.environ(home))
    fleet.write_first_secret(provider, "keyring", vault.client())
    target_db = workdir / "example.sqlite3"
    shutil.copyfile(database, target_db)
    site = ExampleSite(
        workdir,
        {
            **vault.environ(home),
            "DJANGO_SECRET_KEY_SOURCE": f"vault://secret/{path}",
            "SECRET_KEYRING_TTL": str(TTL),
            "SECRET_KEYRING_MAX_FALLBACKS": str(rotations),
            "EXAMPLE_FAST_PASSWORD_HASHER": "1",
            "EXAMPLE_SESSION_ENGINE": engine,
            "GUNICORN_CMD_ARGS": "--config " + shlex.quote(str(fleet.STAGGER_CONFIG)),
            "FLEET_STAGGER_SECONDS": str(TTL / workers),
        },
        workers=workers,
    )
    site.start(timeout=fleet.START_TIMEOUT)
    stop = threading.Event()
    rotator: Any = None
    browsers: list[PageBrowser] = []
    try:
        seen: dict[int, dict[str, Any]] = {}
        wait_until(
            lambda: fleet.pids_with(site, seen, lambda s: True, workers),
            fleet.START_TIMEOUT,
            "every worker",
        )
        table = list(fleet.user_table().items())[:users]
        browsers = [PageBrowser(site, name, password, page_requests) for name, password in table]
        drivers = [_Driver(browser) for browser in browsers]
        timing: dict[str, float] = {}

        def begin() -> None:  # runs once, as the barrier releases every driver thread
            timing["start"] = time.monotonic()
            # The load goes on one interval past the last rotation, so the last convergence
            # window is seen too.
            timing["end"] = timing["start"] + (rotations + 1) * INTERVAL

        started = threading.Barrier(len(browsers) + 1, action=begin)
        errors: list[BaseException] = []
        threads = [
            threading.Thread(
                target=_drive,
                args=(driver, started, timing, errors),
                name=f"sessions-driver-{driver.browser.name}",
                daemon=True,
            )
            for driver in drivers
        ]
        for thread in threads:
            thread.start()
        try:
            started.wait(timeout=fleet.START_TIMEOUT)
        except threading.BrokenBarrierError:
            raise RuntimeError(f"a driver thread failed at start-up: {errors!r}") from None
        rotator = fleet.Rotator(
            provider, timing["start"], stop, rotations=rotations, interval=INTERVAL
        )
        rotator.start()
        for thread in threads:
            thread.join(timeout=(rotations + 2) * INTERVAL + 30)
        load_seconds = time.monotonic() - timing["start"]
        stop.set()
        rotator.join(timeout=30)
        if errors:
            raise RuntimeError(f"a driver thread failed: {errors[0]!r}") from errors[0]
        if rotator.error is not None:
            raise RuntimeError(f"rotation failed: {rotator.error!r}") from rotator.error
        if any(thread.is_alive() for thread in threads) or rotator.is_alive():
            raise RuntimeError("the load or the rotation did not finish in time")
        session_rows = _session_rows(target_db)
        counts = sum((driver.counts for driver in drivers), collections.Counter[str]())
        final = rotator.final
        converged: dict[int, dict[str, Any]] = {}
        wait_until(
            lambda: fleet.pids_with(
                site,
                converged,
                lambda s: fleet.signing_pair(s) == final and s.get("signing") == final[0],
                workers,
            ),
            fleet.CONVERGE_TIMEOUT,
            "every worker to sign with the final key",
        )
        return SessionsResult(
            engine=engine,
            workers=workers,
            users=len(browsers),
            page_requests=page_requests,
            ttl=TTL,
            interval=INTERVAL,
            responses=[response for driver in drivers for response in driver.out],
            logins=counts["logins"],
            relogins=counts["relogins"],
            rotations=list(rotator.began),
            load_seconds=load_seconds,
            total_seconds=time.monotonic() - began,
            converged_pids=set(converged),
            session_rows=session_rows,
        )
    finally:
        stop.set()
        for browser in browsers:
            browser.close()
        site.stop()
