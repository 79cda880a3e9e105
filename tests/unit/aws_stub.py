"""A Secrets Manager client scripted with botocore's ``Stubber``, for the states moto does not
play; each test says in its docstring which AWS behaviour it stands in for."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
from botocore.stub import Stubber

REGION = "eu-west-1"
ARN = f"arn:aws:secretsmanager:{REGION}:123456789012:secret:prod/myapp/django-AbCdEf"


@contextmanager
def stubbed() -> Iterator[Stubber]:
    """A stubbed client; every scripted answer must be used, and nothing else called."""
    client: Any = boto3.client(
        "secretsmanager",
        region_name=REGION,
        aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key="not-a-real-secret",
    )
    with Stubber(client) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


def no_value(stub: Stubber, version: str, stage: str = "AWSPENDING") -> None:
    """What GetSecretValue answers for the placeholder RotateSecret stages before createSecret
    has written its value."""
    stub.add_client_error(
        "get_secret_value",
        service_error_code="ResourceNotFoundException",
        service_message="Secrets Manager can't find the specified secret value for VersionId",
        http_status_code=400,
        expected_params={"SecretId": ARN, "VersionId": version, "VersionStage": stage},
    )
