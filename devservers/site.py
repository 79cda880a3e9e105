"""The example Django site (``examples/django_site``) under gunicorn on a free loopback port, and a
browser with a cookie jar to talk to it. Used by ``make demo``, the fleet scenario and the tests.
"""

from __future__ import annotations

import http.cookiejar
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from devservers.processes import (
    LOOPBACK,
    Process,
    ServerStartError,
    bin_path,
    free_port,
    run_checked,
    wait_until,
)

SITE_DIR = Path(__file__).resolve().parent.parent / "examples" / "django_site"


class ExampleSite:
    """The example Django site under gunicorn on a free loopback port."""

    def __init__(
        self,
        workdir: Path,
        env: dict[str, str],
        *,
        workers: int = 2,
        preload: bool = False,
        threads: int = 1,
        max_requests: int = 0,
        site_dir: Path = SITE_DIR,
    ) -> None:
        self.workdir = workdir
        self.site_dir = site_dir
        self.base_env = {
            **os.environ,
            **env,
            "EXAMPLE_DB": str(workdir / "example.sqlite3"),
            "PYTHONPATH": str(site_dir),
            "DJANGO_SETTINGS_MODULE": "django_site.settings",
        }
        self.workers = workers
        self.preload = preload
        self.threads = threads
        #: gunicorn ``--max-requests`` (0: never recycle a worker), with a jitter of a tenth.
        self.max_requests = max_requests
        self.port = 0
        self.process: Process | None = None

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def manage(self, *args: str) -> str:
        return run_checked(
            [sys.executable, str(self.site_dir / "manage.py"), *args],
            what=f"manage.py {' '.join(args)}",
            env=self.base_env,
            cwd=self.site_dir,
            timeout=120,
        )

    def prepare(self, users: dict[str, str]) -> None:
        """Create the database and the users (username -> password)."""
        self.manage("migrate", "--no-input", "-v", "0")
        self.manage("ensure_users", json.dumps(users))

    def start(self, timeout: float = 60.0) -> ExampleSite:
        for _ in range(5):
            self.port = free_port()
            args = [
                bin_path("gunicorn"),
                "--bind",
                f"{LOOPBACK}:{self.port}",
                "--workers",
                str(self.workers),
                "--threads",
                str(self.threads),
                "--graceful-timeout",
                "5",
                "--access-logfile",
                "-",
                "django_site.wsgi:application",
            ]
            if self.preload:
                args.append("--preload")
            if self.max_requests:
                args += [
                    "--max-requests",
                    str(self.max_requests),
                    "--max-requests-jitter",
                    str(self.max_requests // 10),
                ]
            self.process = Process(
                args, self.workdir / "gunicorn.log", self.base_env, self.site_dir
            )
            try:
                wait_until(lambda: self.ready() or not self.process.alive(), timeout, "gunicorn")  # type: ignore[union-attr]
            except TimeoutError:
                self.stop()
                raise
            if self.process.alive():
                return self
        raise ServerStartError(
            "gunicorn did not start:\n" + (self.process.tail() if self.process else "")
        )

    def ready(self) -> bool:
        try:
            return self.status() is not None
        except (OSError, urllib.error.URLError, ValueError):
            return False

    def status(self) -> dict[str, Any]:
        with urllib.request.urlopen(f"{self.url}/status.json", timeout=5) as response:
            return dict(json.loads(response.read()))

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()


class Browser:
    """A user with a cookie jar, talking HTTP to the site."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        #: The pid of the worker that answered the last request (the site's X-Served-By).
        self.served_by: int | None = None
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))

    def get(self, path: str, params: dict[str, str] | None = None) -> tuple[int, str]:
        url = self.base_url + path + ("?" + urllib.parse.urlencode(params) if params else "")
        return self._open(urllib.request.Request(url))

    def post(self, path: str, data: dict[str, str]) -> tuple[int, str]:
        body = urllib.parse.urlencode(data).encode()
        return self._open(urllib.request.Request(self.base_url + path, data=body))

    def _open(self, request: urllib.request.Request) -> tuple[int, str]:
        try:
            with self.opener.open(request, timeout=10) as response:
                self._note_worker(response.headers)
                return int(response.status), response.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as exc:
            self._note_worker(exc.headers)
            return int(exc.code), exc.read().decode("utf-8", "replace")

    def _note_worker(self, headers: Any) -> None:
        pid = headers.get("X-Served-By") if headers is not None else None
        self.served_by = int(pid) if pid and pid.isdigit() else None
