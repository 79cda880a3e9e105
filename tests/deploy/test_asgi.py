"""ASGI: a real uvicorn server applies a rotation to the requests it serves.

Django's ASGI handler sends ``request_started`` as its WSGI handler does, so the app's per-request
check runs there too; this test proves it on a live server instead of assuming it.
"""

from __future__ import annotations

import json
import socket
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from devservers.processes import LOOPBACK, stop_process, wait_until
from secret_keyring.keyring import fingerprint
from tests.deploy.conftest import (
    REPO,
    START_TIMEOUT,
    KeyringFile,
    python_module,
    signed_with,
    site_environ,
    until_signed_with,
)

pytestmark = pytest.mark.slow

pytest.importorskip("uvicorn")


class Server:
    """uvicorn serving the deployment-shape site on a socket this test bound (no port race)."""

    def __init__(self, keyring_file: KeyringFile, log: Path) -> None:
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.bind((LOOPBACK, 0))
        self.listener.listen(64)
        self.base = f"http://{LOOPBACK}:{self.listener.getsockname()[1]}"
        fd = self.listener.fileno()
        self.log = log
        with log.open("wb") as handle:
            self.process = subprocess.Popen(
                python_module(
                    "uvicorn",
                    "--fd",
                    str(fd),
                    "--lifespan",
                    "off",
                    "--no-access-log",
                    "tests.deploy.site.asgi:application",
                ),
                env=site_environ(keyring_file),
                cwd=REPO,
                stdout=handle,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                pass_fds=[fd],
            )

    def get(self, path: str, **params: str) -> tuple[int, str]:
        url = f"{self.base}{path}?{urllib.parse.urlencode(params)}"
        try:
            with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - loopback
                return int(response.status), response.read().decode()
        except urllib.error.HTTPError as exc:
            return int(exc.code), exc.read().decode()

    def sign(self) -> dict[str, str]:
        code, body = self.get("/sign/", value="hello")
        assert code == 200, body
        answer: dict[str, str] = json.loads(body)
        return answer

    def ready(self) -> bool:
        if self.process.poll() is not None:
            raise RuntimeError("uvicorn exited:\n" + self.log.read_text("utf-8", "replace"))
        try:
            return self.get("/status/")[0] == 200
        except OSError:
            return False

    def stop(self) -> None:
        stop_process(self.process)
        self.listener.close()


@pytest.fixture
def server(tmp_path: Path, keyring_file: KeyringFile) -> Iterator[Server]:
    running = Server(keyring_file, tmp_path / "uvicorn.log")
    try:
        wait_until(running.ready, START_TIMEOUT, "uvicorn")
        yield running
    finally:
        running.stop()


def test_uvicorn_applies_a_rotation_to_the_next_requests(
    server: Server, keyring_file: KeyringFile
) -> None:
    old = keyring_file.stored()
    before = server.sign()
    assert signed_with(old, before)

    new = keyring_file.rotate()

    until_signed_with(new, server.sign)
    # What the server signed before the rotation still verifies there (old current = fallback).
    assert server.get("/verify/", token=before["signed"]) == (200, "hello")
    status = json.loads(server.get("/status/")[1])
    assert status["fingerprints"]["current"] == fingerprint(new.current)
