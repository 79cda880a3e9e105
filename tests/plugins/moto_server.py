"""moto fixtures for every test folder. The server is :class:`devservers.moto.MotoServer` (moto in
server mode in its own process, with request counts and injected faults), shared with the
benchmarks.

* ``moto_server`` (session): the running :class:`MotoServer`.
* ``aws_env`` (function): resets moto, the counts, the faults and IAM enforcement, points boto3 at
  the server through the environment (fake credentials, region ``us-east-1``, no config files, no
  instance metadata) and yields the :class:`MotoServer`.
* ``secretsmanager`` (function): an admin Secrets Manager client for the server (uses ``aws_env``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from devservers.moto import REGION, MotoServer
from tests.plugins import started

# Variables that would make boto3 look beyond the fake credentials and the server.
_AWS_VARIABLES = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_REGION",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_ROLE_ARN",
    "AWS_ROLE_SESSION_NAME",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN",
    "AWS_ENDPOINT_URL_SECRETS_MANAGER",
    "AWS_ENDPOINT_URL_STS",
    "AWS_RETRY_MODE",
    "AWS_MAX_ATTEMPTS",
    "AWS_CA_BUNDLE",
    "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
)


@pytest.fixture(scope="session")
def moto_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    """One moto server for the session (started on first use)."""
    server = started(MotoServer(tmp_path_factory.mktemp("moto-server") / "moto-server.log"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def aws_env(moto_server: MotoServer, monkeypatch: pytest.MonkeyPatch) -> MotoServer:
    """A clean moto and an environment where boto3 talks to it with fake credentials."""
    if not moto_server.running:  # a previous test stopped it and failed before restarting
        moto_server.start()
    moto_server.reset()
    for name in _AWS_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    for name, value in moto_server.client_env().items():
        monkeypatch.setenv(name, value)
    return moto_server


@pytest.fixture
def secretsmanager(aws_env: MotoServer) -> Any:
    """An admin Secrets Manager client for the moto server (boto3, standard retries)."""
    from secret_keyring.providers.aws import build_client

    return build_client(region=REGION, endpoint_url=aws_env.endpoint_url)
