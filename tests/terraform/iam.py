"""What the IAM-enforcement tests share: clients with given keys, users with a policy, and the
check that IAM refused a call, against the ``moto_iam`` server (moto with IAM enforced)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from devservers.moto import MotoServer

REGION = "eu-west-1"
ADMIN = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


def client(moto_iam: MotoServer, service: str, credentials: dict[str, str]) -> Any:
    """A boto3 client of ``service`` with ``credentials``, pointed at ``moto_iam``."""
    return boto3.client(
        service,
        region_name=REGION,
        endpoint_url=moto_iam.endpoint_url,
        aws_access_key_id=credentials["aws_access_key_id"],
        aws_secret_access_key=credentials["aws_secret_access_key"],
    )


def user(iam: Any, name: str, policy: dict[str, Any] | None = None) -> dict[str, str]:
    """A new IAM user, with ``policy`` inline if given; returns its access keys."""
    iam.create_user(UserName=name)
    if policy is not None:
        iam.put_user_policy(UserName=name, PolicyName=name, PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return {
        "aws_access_key_id": key["AccessKeyId"],
        "aws_secret_access_key": key["SecretAccessKey"],
    }


def denied(call: Callable[[], object]) -> str:
    """Run ``call``, which must be refused by IAM; return the refusal message."""
    with pytest.raises(ClientError) as caught:
        call()
    error = caught.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 403, error
    # moto answers IAM refusals with an XML body that botocore's JSON parser does not map,
    # so the code is found in the message rather than in Error.Code.
    assert "AccessDenied" in str(caught.value), error
    return str(caught.value)
