"""Fork safety under gunicorn ``--preload`` with 4 workers and a rotation.

With ``--preload`` the master imports the site, so ``secret_keys()`` fetches the keyring there and
the master holds an hvac client with a pooled keep-alive connection to OpenBao, and the locks of
the cache and the provider. Each forked worker must drop all of that (the library's at-fork hooks)
and refresh on its own: after a rotation every worker picks up the new version through its own
client, on its own TCP connection. ``/__fork__.json`` (:mod:`tests.reliability.forksite`) reports
what each worker holds.

What would fail without the hooks: a worker would still hold the master's client, session and
locks, and its refresh would reuse the master's pooled socket (same local port in every worker,
so four processes write requests into, and read answers from, one TCP stream). The negative
control runs the same site with the hooks neutralised and shows the checks catch exactly that.
"""

from __future__ import annotations

import json
import os
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devservers.openbao import BaoServer
from devservers.processes import Process, free_port, wait_until
from devservers.site import SITE_DIR
from secret_keyring.keygen import new_keyring, rotate
from secret_keyring.payload import keyring_to_json
from tests.plugins.leakguard import assert_no_key_material
from tests.reliability.conftest import record

pytestmark = [pytest.mark.vault, pytest.mark.fleet]

WORKERS = 4
ROOT = Path(__file__).resolve().parents[2]
DEADLINE = 90.0


class PreloadedSite:
    """``gunicorn --preload --workers 4 tests.reliability.forksite:application``."""

    def __init__(self, workdir: Path, env: dict[str, str]) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        gunicorn = Path(sys.executable).parent / "gunicorn"
        self.process = Process(
            [
                str(gunicorn),
                "--preload",
                "--workers",
                str(WORKERS),
                "--bind",
                f"127.0.0.1:{self.port}",
                "--graceful-timeout",
                "5",
                "tests.reliability.forksite:application",
            ],
            workdir / "gunicorn.log",
            env,
            ROOT,
        )
        wait_until(self._answers, 60, "the preloaded site")

    def _answers(self) -> bool:
        if not self.process.alive():
            raise RuntimeError("gunicorn exited:\n" + self.process.tail())
        try:
            self.fork_report()
        except (OSError, ValueError):
            return False
        return True

    def get(self, path: str) -> bytes:
        # A new connection per request, so the kernel hands requests to different workers.
        request = urllib.request.Request(self.url + path, headers={"Connection": "close"})  # noqa: S310 - loopback
        with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310 - loopback
            return bytes(answer.read())

    def fork_report(self) -> dict[str, Any]:
        return dict(json.loads(self.get("/__fork__.json")))

    def reports_until(self, done: Any) -> dict[int, dict[str, Any]]:
        """Drive requests (each runs the live-refresh hook) and collect the workers' reports
        until ``done(report)`` holds for ``WORKERS`` distinct pids."""
        latest: dict[int, dict[str, Any]] = {}
        deadline = time.monotonic() + DEADLINE
        while sum(1 for report in latest.values() if done(report)) < WORKERS:
            assert self.process.alive(), self.process.tail()
            assert time.monotonic() < deadline, f"workers never converged: {latest}"
            self.get("/status.json")
            report = self.fork_report()
            latest[int(report["pid"])] = report
            time.sleep(0.02)  # bounded poll of other processes
        return latest

    def stop(self) -> None:
        self.process.stop()


@pytest.fixture
def keyring_path(openbao: BaoServer) -> tuple[str, Any]:
    path = openbao.new_path()
    keyring = new_keyring()
    openbao.write(path, {"current": keyring.current, "next": keyring.next, "previous": []})
    return path, keyring


def site_env(openbao: BaoServer, path: str, workdir: Path, **extra: str) -> dict[str, str]:
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("VAULT_", "BAO_", "DJANGO_"))
    }
    env.update(
        {
            "DJANGO_SECRET_KEY_SOURCE": f"vault://secret/{path}",
            "DJANGO_SETTINGS_MODULE": "django_site.settings",
            "VAULT_ADDR": openbao.addr,
            "VAULT_TOKEN": openbao.root_token,
            "HOME": str(workdir),
            "SECRET_KEYRING_TTL": "1",
            "EXAMPLE_DB": str(workdir / "example.sqlite3"),
            "PYTHONPATH": os.pathsep.join([str(SITE_DIR), str(ROOT)]),
        }
    )
    env.update(extra)
    return env


@pytest.fixture
def run_site(tmp_path: Path) -> Iterator[Any]:
    sites: list[PreloadedSite] = []

    def start(env: dict[str, str]) -> PreloadedSite:
        site = PreloadedSite(tmp_path, env)
        sites.append(site)
        return site

    try:
        yield start
    finally:
        for site in sites:
            site.stop()
            assert_no_key_material(site.process.tail(200_000), "gunicorn's output")


def test_preloaded_workers_share_nothing_with_the_master_and_refresh_on_their_own(
    openbao: BaoServer, keyring_path: tuple[str, Any], tmp_path: Path, run_site: Any
) -> None:
    path, keyring = keyring_path
    site = run_site(site_env(openbao, path, tmp_path))
    first = site.fork_report()
    assert first["master_pid"] == site.process.popen.pid  # the keyring was fetched in the master
    assert first["master_ports"], "the master left a pooled connection behind"

    rotated = rotate(keyring)
    version = openbao.write(path, json.loads(keyring_to_json(rotated)))
    workers = site.reports_until(lambda report: report["version"] == str(version))

    assert len(workers) == WORKERS
    master_ports = set(first["master_ports"])
    seen_ports: dict[int, int] = {}
    for pid, report in workers.items():
        assert pid != report["master_pid"]
        assert report["current"] == rotated.fingerprints["current"]
        for shared in (
            "client_is_masters",
            "session_is_masters",
            "provider_lock_is_masters",
            "cache_lock_is_masters",
            "cache_cond_is_masters",
        ):
            assert report[shared] is False, f"worker {pid}: {shared}"
        assert report["ports"], f"worker {pid} has no connection of its own"
        assert not master_ports & set(report["ports"]), f"worker {pid} uses the master's socket"
        for port in report["ports"]:
            assert seen_ports.setdefault(port, pid) == pid, f"workers share local port {port}"
    record(
        "fork safety (--preload, 4 workers)",
        f"master port {sorted(master_ports)}, worker ports "
        + ", ".join(str(sorted(r["ports"])) for r in workers.values()),
    )


def test_negative_control_without_the_fork_hooks_the_checks_see_sharing(
    openbao: BaoServer, keyring_path: tuple[str, Any], tmp_path: Path, run_site: Any
) -> None:
    path, _ = keyring_path
    site = run_site(site_env(openbao, path, tmp_path, FORK_TEST_DISABLE_HOOKS="1"))
    first = site.fork_report()
    master_ports = set(first["master_ports"])

    # Wait for every worker to have refreshed at least once (TTL 1 s) after the fork.
    workers = site.reports_until(lambda report: report["fetched_at"] != first["fetched_at"])

    for report in workers.values():
        assert report["client_is_masters"] is True
        assert report["provider_lock_is_masters"] is True
        assert report["cache_lock_is_masters"] is True
    reused = [pid for pid, report in workers.items() if master_ports & set(report["ports"])]
    assert reused, "without the hooks, workers reuse the master's pooled socket"
