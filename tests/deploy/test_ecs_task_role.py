"""ECS / Fargate: ``aws-secretsmanager://`` with nothing in the environment but the task role.

ECS gives a task its role's credentials through a container credentials endpoint, not through
variables: the agent sets ``AWS_CONTAINER_CREDENTIALS_RELATIVE_URI`` (relative to
``169.254.170.2``) and serves temporary credentials of the task role there, renewing them before
they expire. This test stands in for that endpoint with a loopback HTTP server reached through
``AWS_CONTAINER_CREDENTIALS_FULL_URI`` (botocore's same provider, which accepts loopback hosts),
serving credentials from a real ``AssumeRole`` on the moto server; moto enforces IAM, so a read
succeeds only when signed with the role's credentials.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import pytest

from devservers.moto import REGION, MotoServer
from devservers.processes import LOOPBACK
from secret_keyring import provider_from_url
from secret_keyring.keygen import new_keyring, rotate
from secret_keyring.payload import keyring_to_json
from tests.integration.test_aws_iam import READ_ONLY, role, user

pytestmark = pytest.mark.aws


class CredentialsEndpoint:
    """Serves a role's temporary credentials as the ECS agent does, and counts the calls."""

    def __init__(self, credentials: dict[str, Any]) -> None:
        self.credentials = credentials
        self.calls = 0
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                endpoint.calls += 1
                # Expiring inside botocore's mandatory refresh window (10 min), as credentials
                # do near the end of their life: every use asks the endpoint again.
                expires = datetime.now(timezone.utc) + timedelta(minutes=5)
                body = json.dumps(
                    {
                        "AccessKeyId": endpoint.credentials["AccessKeyId"],
                        "SecretAccessKey": endpoint.credentials["SecretAccessKey"],
                        "Token": endpoint.credentials["SessionToken"],
                        "Expiration": expires.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    }
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib name
                pass  # the endpoint serves credentials: nothing of it belongs in a log

        self.server = ThreadingHTTPServer((LOOPBACK, 0), Handler)
        self.url = f"http://{LOOPBACK}:{self.server.server_address[1]}/v2/credentials/task"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


@pytest.fixture
def task_role(
    secretsmanager: Any, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[str, CredentialsEndpoint]]:
    """A secret, a task role that may read it, and a container whose only credentials are the
    role's, from the endpoint. Yields the secret's name and the endpoint."""
    name = f"prod/{uuid.uuid4().hex[:12]}/django"
    secretsmanager.create_secret(Name=name, SecretString=keyring_to_json(new_keyring()))
    iam = boto3.client("iam", region_name=REGION)
    user(iam, "ecs-agent", None)
    arn = role(iam, "myapp-web", "ecs-agent", READ_ONLY)
    credentials = boto3.client("sts", region_name=REGION).assume_role(
        RoleArn=arn, RoleSessionName="ecs-task"
    )["Credentials"]
    endpoint = CredentialsEndpoint(credentials)
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    monkeypatch.setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", endpoint.url)
    try:
        yield name, endpoint
    finally:
        endpoint.close()


def test_the_task_role_reads_and_refreshes_the_secret(
    task_role: tuple[str, CredentialsEndpoint], aws_env: MotoServer, secretsmanager: Any
) -> None:
    name, endpoint = task_role
    provider = provider_from_url(f"aws-secretsmanager://{name}?region={REGION}")

    with aws_env.enforce_iam():
        first = provider.fetch()
    calls = endpoint.calls

    # A rotation, written with the admin's client (built before the task's environment), then
    # the task's next refresh: the endpoint is asked again for credentials, as ECS renews them.
    rotated = rotate(first)
    secretsmanager.put_secret_value(SecretId=name, SecretString=keyring_to_json(rotated))
    with aws_env.enforce_iam():
        second = provider.fetch()

    assert second.same_keys(rotated)
    assert first.current in second.fallbacks
    assert calls >= 1
    assert endpoint.calls > calls
