"""Adopting the library on a live site logs nobody out, proven on a real fleet.

The example site starts as a site that has never heard of the library: its ``settings.py`` holds
a hard-coded ``django-insecure-`` key (what ``startproject`` writes) and does not install the
app. It runs under gunicorn with ``WORKERS`` sync workers, and users log in: each holds a
session (a signed cookie: the strictest case), a signed cookie and a password-reset token.

Then, as the "Migrate an existing site" page says:

1. ``secret-keyring init vault://... --adopt-env VAR`` writes ``{"current": <the old key>,
   "next": <a new key>, "previous": []}`` to a real OpenBao;
2. the new ``settings.py`` (the example's own: ``secret_keys()`` and the app) is deployed and the
   workers are restarted one at a time, so for a while workers on the old settings and workers
   on the library serve the same users (every response names its worker's pid);
3. the keyring is rotated twice, each time once every worker has the previous rotation.

Nobody is rejected until the weak key is dropped; after the second rotation (and its settle time)
no worker trusts it.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from devservers import fleet as driver
from devservers.processes import wait_until
from devservers.site import SITE_DIR, Browser, ExampleSite
from secret_keyring.keyring import fingerprint
from secret_keyring.providers.vault import VaultProvider
from secret_keyring.rotation.vault import rotate_keyring
from tests.plugins.leakguard import assert_no_key_material, make_weak_key

pytestmark = [pytest.mark.fleet, pytest.mark.vault, pytest.mark.slow]

WORKERS = 3
USERS = 6
TTL = 1.0
TIMEOUT = 60.0
OLD_KEY_VARIABLE = "LEGACY_SECRET_KEY"

_HELPER_CALL = re.compile(
    r"^SECRET_KEY, SECRET_KEY_FALLBACKS = secret_keys\(\n.*?^\)\n", re.M | re.S
)


def legacy_settings(weak_key: str) -> str:
    """The example's settings.py as it was before the library: a hard-coded key, no app."""
    text = (SITE_DIR / "django_site" / "settings.py").read_text("utf-8")
    text, calls = _HELPER_CALL.subn(f"SECRET_KEY = {weak_key!r}\n", text)
    assert calls == 1, "the example settings no longer call secret_keys() as expected"
    for line in (
        "from secret_keyring.django import secret_keys\n",
        '    "secret_keyring.django",\n',
    ):
        assert line in text
        text = text.replace(line, "")
    return text


class Fleet:
    """The running site seen through ``/status.json``: which pid runs which settings."""

    def __init__(self, site: ExampleSite) -> None:
        self.site = site
        self.kinds: dict[int, str] = {}  # pid -> "legacy" | "library"
        self.last: dict[int, dict[str, Any]] = {}
        self.deadline = time.monotonic() + TIMEOUT

    def poll(self) -> dict[str, Any] | None:
        try:
            status = self.site.status()
        except (OSError, ValueError):
            return None
        pid = int(status["pid"])
        self.kinds[pid] = "library" if status.get("source") else "legacy"
        self.last[pid] = status
        return status

    def alive(self, pid: int) -> bool:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True

    def workers(self) -> set[int]:
        return {pid for pid in self.kinds if self.alive(pid)}

    def until(self, what: str, done: Callable[[], bool]) -> None:
        def ready() -> bool:
            self.poll()
            return done()

        wait_until(ready, TIMEOUT, what, interval=0.02)

    def restart(self, old: int, number: int) -> None:
        """Stop worker ``old`` (one of our gunicorn's workers: its master boots a replacement,
        which reads the settings file as it is now) and wait until ``number`` workers run the
        library."""
        os.kill(old, signal.SIGTERM)

        def replaced() -> bool:
            on_library = [p for p, kind in self.kinds.items() if kind == "library"]
            return not self.alive(old) and sum(map(self.alive, on_library)) == number

        self.until(f"worker {number} to come back on the library", replaced)
        self.deadline = time.monotonic() + TIMEOUT

    def check_deadline(self, what: str) -> None:
        if time.monotonic() > self.deadline:
            raise TimeoutError(f"timed out after {TIMEOUT:.0f}s waiting for {what}")

    def all_sign_with(self, fp: str) -> bool:
        live = self.workers()
        return len(live) == WORKERS and all(
            self.last[pid].get("signing") == fp and self.kinds[pid] == "library" for pid in live
        )


def visit(users: list[driver.User], fleet: Fleet, tally: driver.Tally) -> dict[int, int]:
    """Every user presents everything once; returns requests served per pid."""
    served: dict[int, int] = {}
    for user in users:
        outcomes = driver.check(user, tally)
        assert outcomes == {"whoami": "ok", "signed": "ok", "token": "ok"}, (user.name, outcomes)
        if user.browser.served_by is not None:
            served[user.browser.served_by] = served.get(user.browser.served_by, 0) + 1
    fleet.poll()
    return served


def test_adopting_a_live_site_logs_nobody_out(
    tmp_path: Path, fleet_vault: driver.Vault, fleet_database: Path
) -> None:
    weak = make_weak_key()
    site_dir = tmp_path / "site"
    shutil.copytree(SITE_DIR, site_dir, ignore=shutil.ignore_patterns("__pycache__", "*.sqlite3"))
    settings_file = site_dir / "django_site" / "settings.py"
    settings_file.write_text(legacy_settings(weak), "utf-8")
    shutil.copyfile(fleet_database, tmp_path / "example.sqlite3")
    path = f"adoption/{os.urandom(6).hex()}"
    source = f"vault://secret/{path}"
    home = tmp_path / "home"
    home.mkdir()
    site = ExampleSite(
        tmp_path,
        {
            **fleet_vault.environ(home),
            "DJANGO_SECRET_KEY_SOURCE": source,
            "SECRET_KEYRING_TTL": str(TTL),
            "EXAMPLE_FAST_PASSWORD_HASHER": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
        },
        workers=WORKERS,
        site_dir=site_dir,
    )
    site.start(timeout=TIMEOUT)
    fleet = Fleet(site)
    tally = driver.Tally()
    try:
        fleet.until("every legacy worker", lambda: len(fleet.workers()) == WORKERS)
        assert set(fleet.kinds.values()) == {"legacy"}
        assert {s["signing"] for s in fleet.last.values()} == {fingerprint(weak)}
        users = [
            driver.User(name, password, Browser(site.url), steady=True)
            for name, password in list(driver.user_table().items())[:USERS]
        ]
        for user in users:
            driver.renew(user, tally)
        visit(users, fleet, tally)

        # 1. Adopt: the key goes through the environment, never the command line or the output.
        adopted = subprocess.run(
            [
                sys.executable,
                "-m",
                "secret_keyring",
                "init",
                source,
                "--adopt-env",
                OLD_KEY_VARIABLE,
            ],
            env={**os.environ, **fleet_vault.environ(home), OLD_KEY_VARIABLE: weak},
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )
        assert adopted.returncode == 0, adopted.stderr
        assert_no_key_material(adopted.stdout + adopted.stderr, "init --adopt-env output")
        assert f"{fingerprint(weak)} (weak" in adopted.stdout

        # 2. Deploy the library's settings.py and restart the workers one at a time.
        settings_file.write_text(
            (SITE_DIR / "django_site" / "settings.py").read_text("utf-8"), "utf-8"
        )
        served_by_kind: dict[str, int] = {"legacy": 0, "library": 0}
        for number, old in enumerate(sorted(fleet.workers()), start=1):
            fleet.restart(old, number)
            while True:  # bounded: fleet.until() above proved both kinds are up, visits are
                for pid, count in visit(users, fleet, tally).items():
                    served_by_kind[fleet.kinds.get(pid, "legacy")] += count
                if number == WORKERS or min(served_by_kind.values()) > 0:
                    break
                fleet.check_deadline("requests served by old and new workers alike")
        assert served_by_kind["legacy"] > 0
        assert served_by_kind["library"] > 0
        fleet.until(
            "every worker on the adopted keyring", lambda: fleet.all_sign_with(fingerprint(weak))
        )
        assert all(
            s["fingerprints"]["weak"] == [fingerprint(weak)]
            for s in fleet.last.values()
            if s.get("source")
        )

        # 3. Rotate twice, each time once every worker has the keyring.
        vault = VaultProvider("secret", path, environ=fleet_vault.environ(home))
        first = rotate_keyring(vault)
        fleet.until(
            "every worker on rotation 1", lambda: fleet.all_sign_with(first.fingerprints["current"])
        )
        visit(users, fleet, tally)  # still trusted in previous: nobody rejected
        assert all(
            fingerprint(weak) in s["fingerprints"]["previous"]
            for s in fleet.last.values()
            if s.get("source")
        )

        second = rotate_keyring(vault)
        fleet.until(
            "every worker on rotation 2",
            lambda: fleet.all_sign_with(second.fingerprints["current"]),
        )
        # A worker keeps the keys of the keyrings it applied within the settle time in its
        # bridge fallbacks (a reader may hold them); the rotations here are seconds apart.
        fleet.until(
            "every worker past the settle time",
            lambda: all(not fleet.last[pid].get("settling") for pid in fleet.workers()),
        )
        for pid in fleet.workers():
            fps = fleet.last[pid]["fingerprints"]
            assert fingerprint(weak) not in (fps["current"], fps["next"], *fps["previous"]), pid
            assert fps["weak"] == []
        # Sessions were re-signed with the new key on the visit after rotation 1; what only the
        # weak key ever signed (the signed cookie, the reset token) is now refused everywhere.
        for user in users:
            outcomes = driver.check(user, tally)
            assert outcomes == {"whoami": "ok", "signed": "bad_signature", "token": "bad_signature"}
        assert tally.counts[("whoami", "logged_out")] == 0
        assert site.process is not None
        assert site.process.alive()
        assert_no_key_material(site.process.log.read_text("utf-8", "replace"), "gunicorn log")
    finally:
        site.stop()
