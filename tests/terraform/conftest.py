"""Fixtures of the Terraform tests: the parsed configuration and two servers of their own (from
the shared launchers in devservers/), a moto server with IAM enforcement and an OpenBao one."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from devservers.moto import MotoServer
from devservers.openbao import BaoServer
from tests.plugins import started
from tests.terraform import tfconfig


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


# -- servers of this folder's own ----------------------------------------------------------------


@pytest.fixture(scope="module")
def moto_iam(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    """A moto server of our own that authorises Secrets Manager calls against the secret's ARN
    (``arn_scoped_secrets``): setup calls run unauthenticated until
    ``set_iam_enforced(True)``, after which IAM decides every call. Its own process, because
    moto keeps the IAM switch in module globals and turning it on would affect other users."""
    server = MotoServer(
        tmp_path_factory.mktemp("moto") / "server.log",
        # Explicitly "no enforcement yet", whatever the outer environment says.
        env={"INITIAL_NO_AUTH_ACTION_COUNT": "inf"},
        arn_scoped_secrets=True,
    )
    started(server)
    try:
        yield server
    finally:
        server.stop()


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


@pytest.fixture(scope="module")
def policy_bao(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PolicyBao]:
    """An OpenBao dev server of this folder's own: the policy tests write policies and secrets
    freely, without touching the shared server other suites use. They speak raw HTTP to it."""
    server = started(BaoServer(tmp_path_factory.mktemp("openbao")))
    try:
        yield PolicyBao(server.addr, server.root_token)
    finally:
        server.stop()
