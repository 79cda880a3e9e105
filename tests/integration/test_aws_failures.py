"""How the AWS provider fails: throttling, server errors, an unreachable or hung endpoint, and
the bound on start-up time; and that a forked child builds its own client."""

from __future__ import annotations

import json
import os
import socket
import time
import uuid
import warnings
from collections.abc import Iterator
from typing import Any

import pytest

from devservers.moto import MotoServer
from secret_keyring import CachedKeyring
from secret_keyring.errors import ConfigurationError, SourceUnavailable
from secret_keyring.providers.aws import AwsSecretsManagerProvider
from tests.plugins.leakguard import make_key

pytestmark = pytest.mark.aws

DESCRIBE = "secretsmanager:DescribeSecret"
GET = "secretsmanager:GetSecretValue"


@pytest.fixture
def secret(secretsmanager: Any, aws_env: MotoServer) -> str:
    name = f"test/{uuid.uuid4().hex[:12]}/django"
    secretsmanager.create_secret(Name=name, SecretString=make_key())
    aws_env.reset_counts()
    return name


@pytest.fixture
def refused_port() -> Iterator[int]:
    """A loopback port that refuses connections: bound (so nobody takes it), not listening."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (400, "ThrottlingException"),
        (429, "TooManyRequestsException"),
        (500, "InternalServiceError"),
        (503, "ServiceUnavailable"),
    ],
)
def test_throttling_and_server_errors_are_retried_then_unavailable(
    aws_env: MotoServer, secret: str, status: int, code: str
) -> None:
    # The start-up read is a GetSecretValue by label.
    aws_env.fail_next(GET, status=status, code=code, count=10)

    with pytest.raises(SourceUnavailable) as caught:
        AwsSecretsManagerProvider(secret, max_attempts=2).fetch()

    assert caught.value.retryable
    assert secret in str(caught.value)
    assert aws_env.counts() == {GET: 2}  # standard mode retried once, then gave up


def test_a_failing_refresh_is_retried_then_unavailable(aws_env: MotoServer, secret: str) -> None:
    provider = AwsSecretsManagerProvider(secret, max_attempts=2)
    provider.fetch()
    aws_env.reset_counts()
    aws_env.fail_next(DESCRIBE, status=503, code="ServiceUnavailable", count=10)

    with pytest.raises(SourceUnavailable):
        provider.fetch()
    assert aws_env.counts() == {DESCRIBE: 2}


def test_default_retry_policy_is_three_attempts_and_recovers(
    aws_env: MotoServer, secret: str
) -> None:
    aws_env.fail_next(GET, status=500, count=2)

    AwsSecretsManagerProvider(secret).fetch()

    assert aws_env.counts() == {DESCRIBE: 1, GET: 3}


def test_retry_mode_from_the_environment_is_honoured(
    aws_env: MotoServer, secret: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    aws_env.fail_next(GET, status=500)

    with pytest.raises(SourceUnavailable):
        AwsSecretsManagerProvider(secret).fetch()
    assert aws_env.counts() == {GET: 1}


def test_unreachable_endpoint(aws_env: MotoServer, secret: str, refused_port: int) -> None:
    endpoint = f"http://127.0.0.1:{refused_port}"
    provider = AwsSecretsManagerProvider(secret, endpoint_url=endpoint, max_attempts=1)

    with pytest.raises(SourceUnavailable, match="cannot reach Secrets Manager") as caught:
        provider.fetch()

    assert endpoint in str(caught.value)
    assert caught.value.retryable
    assert aws_env.counts() == {}


def test_endpoint_from_the_environment_is_honoured(
    aws_env: MotoServer, secret: str, refused_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The service-specific variable beats the global one, as boto3 defines it.
    monkeypatch.setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", f"http://127.0.0.1:{refused_port}")
    with pytest.raises(SourceUnavailable):
        AwsSecretsManagerProvider(secret, max_attempts=1).fetch()

    monkeypatch.setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", aws_env.endpoint_url)
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{refused_port}")
    AwsSecretsManagerProvider(secret).fetch()


def test_a_hung_server_fails_within_the_timeouts(aws_env: MotoServer, secret: str) -> None:
    provider = AwsSecretsManagerProvider(
        secret, connect_timeout=0.5, read_timeout=0.3, max_attempts=2
    )
    started = time.monotonic()
    with aws_env.paused(), pytest.raises(SourceUnavailable, match="ReadTimeout"):
        provider.fetch()
    elapsed = time.monotonic() - started

    # 2 attempts x 0.3 s plus at most 1 s of standard-mode backoff; botocore's own default
    # (60 s read timeout, 3 attempts) would take minutes.
    assert elapsed < 5.0


def test_startup_recovers_when_the_server_comes_back(
    aws_env: MotoServer, secretsmanager: Any
) -> None:
    name = f"test/{uuid.uuid4().hex[:12]}/django"
    key = make_key()
    secretsmanager.create_secret(Name=name, SecretString=json.dumps({"current": key}))
    aws_env.fail_next(GET, status=503, code="ServiceUnavailable", count=2)
    provider = AwsSecretsManagerProvider(secret_id=name, max_attempts=1)
    naps: list[float] = []

    keyring = CachedKeyring(provider).prime(timeout=30, sleep=naps.append)

    assert keyring.current == key
    assert len(naps) == 2  # two retryable failures, each followed by a backoff


def test_bad_endpoint_url_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="endpoint_url"):
        AwsSecretsManagerProvider("x", endpoint_url="ftp://example.com")


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")
def test_forked_child_builds_its_own_client_and_keeps_parsed_versions(
    aws_env: MotoServer, secret: str
) -> None:
    provider = AwsSecretsManagerProvider(secret)
    parent_keyring = provider.fetch()
    parent_client = provider.client()  # held, so the child cannot reuse its address
    aws_env.reset_counts()

    read_end, write_end = os.pipe()
    with warnings.catch_warnings():
        # Python 3.12+ warns about fork() in a process with threads; this one has none of ours.
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through the pipe
        code = 1
        try:
            fresh = provider._client is None  # what the fork hook must do
            keyring = provider.fetch()
            report = {
                "fresh": fresh,
                "new_client": provider.client() is not parent_client,
                "same": keyring.same_keys(parent_keyring),
            }
            os.write(write_end, json.dumps(report).encode())
            code = 0
        finally:
            os._exit(code)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        report = json.loads(pipe.read() or b"{}")
    _, status = os.waitpid(pid, 0)

    assert os.waitstatus_to_exitcode(status) == 0
    assert report == {"fresh": True, "new_client": True, "same": True}
    assert aws_env.counts() == {DESCRIBE: 1}  # the child re-read no value
    assert provider.client() is parent_client  # the parent is untouched
