"""The application read policy of terraform/modules/aws-secret, taken from the parsed HCL with the
ARNs of a real (moto) secret and KMS key substituted, attached to an IAM user of a moto server
that enforces IAM: the user can read that secret and nothing else, and cannot write it.

moto neither calls KMS on behalf of Secrets Manager nor evaluates conditions such as
kms:ViaService, so the KMS statement is checked from the HCL (test_security.py), not here."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from devservers.moto import MotoServer
from tests.plugins.leakguard import make_key
from tests.terraform import tfconfig
from tests.terraform.iam import ADMIN, REGION, client, denied, user

pytestmark = pytest.mark.aws


@pytest.fixture(scope="module", autouse=True)
def _no_wire_logs() -> Iterator[None]:
    """botocore logs request and response bodies at DEBUG, and here they hold the test keyring.
    The library redacts its own clients; these are plain boto3 clients of the test."""
    logger = logging.getLogger("botocore")
    previous = logger.level
    logger.setLevel(logging.INFO)
    yield
    logger.setLevel(previous)


@dataclass(frozen=True)
class Deployment:
    secret_arn: str
    other_secret_arn: str
    kms_key_arn: str
    policy: dict[str, Any]
    app: Any  # Secrets Manager client with the application user's keys
    stranger: Any  # Secrets Manager client of a user without the policy


@pytest.fixture(scope="module")
def deployment(moto_iam: MotoServer, aws_module: tfconfig.Config) -> Deployment:
    """What an apply of the module leaves behind, as far as the application's access goes."""
    kms = client(moto_iam, "kms", ADMIN)
    secretsmanager = client(moto_iam, "secretsmanager", ADMIN)
    iam = client(moto_iam, "iam", ADMIN)

    key_arn = kms.create_key(Description="keyring key")["KeyMetadata"]["Arn"]
    keyring = json.dumps({"current": make_key(), "next": make_key(), "previous": []})
    secret_arn = secretsmanager.create_secret(
        Name="prod/myapp/django", KmsKeyId=key_arn, SecretString=keyring
    )["ARN"]
    other_arn = secretsmanager.create_secret(
        Name="prod/otherapp/django", SecretString=json.dumps({"current": make_key()})
    )["ARN"]

    policy = tfconfig.render_iam_policy(
        aws_module,
        "app_read",
        {
            "local.secret_arn": secret_arn,
            "local.use_cmk": True,
            "local.kms_key_arn": key_arn,
            "data.aws_region.current.region": REGION,
        },
    )
    app_keys = user(iam, "django-app")
    iam.put_user_policy(
        UserName="django-app", PolicyName="read-keyring", PolicyDocument=json.dumps(policy)
    )
    stranger_keys = user(iam, "someone-else")

    moto_iam.set_iam_enforced(True)
    return Deployment(
        secret_arn=secret_arn,
        other_secret_arn=other_arn,
        kms_key_arn=key_arn,
        policy=policy,
        app=client(moto_iam, "secretsmanager", app_keys),
        stranger=client(moto_iam, "secretsmanager", stranger_keys),
    )


def test_the_rendered_policy_is_the_read_only_one(deployment: Deployment) -> None:
    statements = deployment.policy["Statement"]
    assert [s["Resource"] for s in statements] == [
        [deployment.secret_arn],
        [deployment.kms_key_arn],
    ]
    assert sorted(a for s in statements for a in s["Action"]) == [
        "kms:Decrypt",
        "secretsmanager:DescribeSecret",
        "secretsmanager:GetSecretValue",
    ]


def test_app_can_describe_and_read_its_secret(deployment: Deployment) -> None:
    described = deployment.app.describe_secret(SecretId=deployment.secret_arn)
    assert described["ARN"] == deployment.secret_arn
    value = deployment.app.get_secret_value(SecretId=deployment.secret_arn)
    assert set(json.loads(value["SecretString"])) == {"current", "next", "previous"}
    # By name too: IAM still sees the ARN.
    assert deployment.app.describe_secret(SecretId="prod/myapp/django")["ARN"] == (
        deployment.secret_arn
    )


def test_app_can_read_the_previous_version_stage(deployment: Deployment) -> None:
    """Plain payloads fall back to AWSPREVIOUS: GetSecretValue covers every stage."""
    stages = deployment.app.describe_secret(SecretId=deployment.secret_arn)["VersionIdsToStages"]
    version = next(iter(stages))
    value = deployment.app.get_secret_value(SecretId=deployment.secret_arn, VersionId=version)
    assert value["VersionId"] == version


def test_app_cannot_write_its_secret(deployment: Deployment) -> None:
    message = denied(
        lambda: deployment.app.put_secret_value(
            SecretId=deployment.secret_arn, SecretString=json.dumps({"current": make_key()})
        )
    )
    assert "secretsmanager:PutSecretValue" in message


@pytest.mark.parametrize(
    ("action", "call"),
    [
        ("UpdateSecret", lambda c, arn: c.update_secret(SecretId=arn, Description="x")),
        (
            "UpdateSecretVersionStage",
            lambda c, arn: c.update_secret_version_stage(
                SecretId=arn, VersionStage="AWSCURRENT", MoveToVersionId="0" * 32
            ),
        ),
        ("RotateSecret", lambda c, arn: c.rotate_secret(SecretId=arn)),
        ("DeleteSecret", lambda c, arn: c.delete_secret(SecretId=arn)),
        (
            "PutResourcePolicy",
            lambda c, arn: c.put_resource_policy(SecretId=arn, ResourcePolicy="{}"),
        ),
        (
            "TagResource",
            lambda c, arn: c.tag_resource(SecretId=arn, Tags=[{"Key": "a", "Value": "b"}]),
        ),
    ],
)
def test_app_cannot_change_its_secret_in_any_other_way(
    deployment: Deployment, action: str, call: Callable[[Any, str], object]
) -> None:
    message = denied(lambda: call(deployment.app, deployment.secret_arn))
    assert f"secretsmanager:{action}" in message


def test_app_cannot_read_another_secret(deployment: Deployment) -> None:
    denied(lambda: deployment.app.get_secret_value(SecretId=deployment.other_secret_arn))
    denied(lambda: deployment.app.describe_secret(SecretId=deployment.other_secret_arn))


def test_app_cannot_list_secrets(deployment: Deployment) -> None:
    denied(deployment.app.list_secrets)


def test_a_user_without_the_policy_cannot_read(deployment: Deployment) -> None:
    """Control: enforcement is on, so the app user's access really comes from the policy."""
    denied(lambda: deployment.stranger.get_secret_value(SecretId=deployment.secret_arn))
