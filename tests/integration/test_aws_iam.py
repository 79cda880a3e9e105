"""Credentials and IAM against moto with IAM enforcement on: denied reads, unknown and wrong
keys, missing credentials, and the ``?role_arn=`` path through STS with refresh before expiry."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import boto3
import pytest

from devservers.moto import ACCOUNT_ID, REGION, MotoServer
from secret_keyring import provider_from_url
from secret_keyring.errors import AccessDenied, ConfigurationError
from secret_keyring.providers.aws import AwsSecretsManagerProvider, build_client
from tests.plugins.leakguard import make_key

pytestmark = pytest.mark.aws

ASSUME_ROLE = "sts:AssumeRole"
DESCRIBE = "secretsmanager:DescribeSecret"
GET = "secretsmanager:GetSecretValue"
# moto matches policy resources against "*" for Secrets Manager, so grants are on "*" here;
# the docs' policy names the secret's ARN.
READ_ONLY = ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"]


@dataclass(frozen=True)
class Keys:
    access_key_id: str
    secret_access_key: str

    def session(self) -> boto3.session.Session:
        return boto3.session.Session(
            aws_access_key_id=self.access_key_id,
            aws_secret_access_key=self.secret_access_key,
            region_name=REGION,
        )


def policy(actions: list[str], resource: str = "*") -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": actions, "Resource": resource}],
        }
    )


def trust(user: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT_ID}:user/{user}"},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
    )


def user(iam: Any, name: str, actions: list[str] | None) -> Keys:
    iam.create_user(UserName=name)
    if actions is not None:
        iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=policy(actions))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return Keys(key["AccessKeyId"], key["SecretAccessKey"])


def role(iam: Any, name: str, trusted_user: str, actions: list[str]) -> str:
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust(trusted_user))["Role"]
    iam.put_role_policy(RoleName=name, PolicyName="p", PolicyDocument=policy(actions))
    return str(arn["Arn"])


@pytest.fixture
def iam(aws_env: MotoServer) -> Any:
    return boto3.client("iam", region_name=REGION)


@pytest.fixture
def secret(secretsmanager: Any) -> tuple[str, str]:
    name = f"test/{uuid.uuid4().hex[:12]}/django"
    key = make_key()
    secretsmanager.create_secret(Name=name, SecretString=key)
    return name, key


def test_allowed_user_reads_while_iam_is_enforced(
    aws_env: MotoServer, iam: Any, secret: tuple[str, str]
) -> None:
    name, key = secret
    reader = user(iam, "reader", READ_ONLY)

    with aws_env.enforce_iam():
        keyring = AwsSecretsManagerProvider(name, session=reader.session()).fetch()

    assert keyring.current == key


def test_policy_without_get_secret_value(
    aws_env: MotoServer, iam: Any, secret: tuple[str, str]
) -> None:
    name, _ = secret
    describer = user(iam, "describer", ["secretsmanager:DescribeSecret"])
    provider = AwsSecretsManagerProvider(name, session=describer.session())
    aws_env.reset_counts()

    with aws_env.enforce_iam(), pytest.raises(AccessDenied) as caught:
        provider.fetch()

    message = str(caught.value)
    assert "GetSecretValue" in message
    assert "secretsmanager:GetSecretValue and secretsmanager:DescribeSecret" in message
    assert name in message
    assert f"region {REGION}" in message
    assert not caught.value.retryable
    assert aws_env.counts() == {GET: 1}  # the start-up read, denied, is not retried


def test_user_without_any_policy(aws_env: MotoServer, iam: Any, secret: tuple[str, str]) -> None:
    name, _ = secret
    nobody = user(iam, "nobody", None)

    with aws_env.enforce_iam(), pytest.raises(AccessDenied, match="DescribeSecret"):
        AwsSecretsManagerProvider(name, session=nobody.session()).fetch()


def test_unknown_access_key(
    aws_env: MotoServer, secret: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    name, _ = secret
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE")

    with aws_env.enforce_iam(), pytest.raises(AccessDenied, match="does not recognise"):
        AwsSecretsManagerProvider(name).fetch()


def test_wrong_secret_access_key(
    aws_env: MotoServer, iam: Any, secret: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    name, _ = secret
    reader = user(iam, "reader", READ_ONLY)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", reader.access_key_id)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-" + reader.secret_access_key)

    with aws_env.enforce_iam(), pytest.raises(AccessDenied, match="signature was rejected"):
        AwsSecretsManagerProvider(name).fetch()


def test_no_credentials_at_all(
    aws_env: MotoServer, secret: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    name, _ = secret
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    aws_env.reset_counts()

    with pytest.raises(AccessDenied, match="no AWS credentials found") as caught:
        AwsSecretsManagerProvider(name).fetch()

    assert isinstance(caught.value.__cause__, Exception)
    assert aws_env.counts() == {}  # botocore refused to send an unsigned request


def test_no_region(aws_env: MotoServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_DEFAULT_REGION")

    with pytest.raises(ConfigurationError, match=r"no AWS region.*\?region="):
        AwsSecretsManagerProvider("test/x").fetch()


def test_unknown_profile(aws_env: MotoServer) -> None:
    with pytest.raises(ConfigurationError, match="'nope'"):
        provider_from_url("aws-secretsmanager://test/x?profile=nope").fetch()


# -- ?role_arn= -------------------------------------------------------------------------------


def test_role_arn_reads_with_the_roles_permissions(
    aws_env: MotoServer, iam: Any, secret: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    name, key = secret
    deployer = user(iam, "deployer", ["sts:AssumeRole"])
    role_arn = role(iam, "app-secrets", "deployer", READ_ONLY)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", deployer.access_key_id)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", deployer.secret_access_key)
    provider = provider_from_url(f"aws-secretsmanager://{name}?role_arn={role_arn}")
    aws_env.reset_counts()

    with aws_env.enforce_iam():
        # The deployer alone may not read the secret...
        with pytest.raises(AccessDenied):
            AwsSecretsManagerProvider(name).fetch()
        # ...the role may, and its credentials are reused across fetches.
        assert provider.fetch().current == key
        assert provider.fetch().current == key

    # The denied start-up read, then two fetches as the role with one AssumeRole: a start-up
    # read and DescribeSecret (a plain key's fallbacks), then DescribeSecret alone.
    assert aws_env.counts() == {GET: 2, DESCRIBE: 2, ASSUME_ROLE: 1}


def test_assumed_role_credentials_are_refreshed_before_they_expire(
    aws_env: MotoServer, iam: Any, secret: tuple[str, str]
) -> None:
    name, key = secret
    role_arn = role(iam, "app-secrets", "deployer", READ_ONLY)
    now = [datetime.now(timezone.utc)]
    client = build_client(region=REGION, role_arn=role_arn, credentials_clock=lambda: now[0])
    provider = AwsSecretsManagerProvider(name, client=client)
    provider.fetch()
    assert aws_env.counts()[ASSUME_ROLE] == 1

    now[0] += timedelta(minutes=30)  # an hour-long session, half used: no refresh yet
    provider.fetch()
    assert aws_env.counts()[ASSUME_ROLE] == 1

    now[0] += timedelta(minutes=17)  # 13 minutes left: inside botocore's refresh window
    assert provider.fetch().current == key
    assert aws_env.counts()[ASSUME_ROLE] == 2


def test_role_that_does_not_trust_the_caller(
    aws_env: MotoServer, iam: Any, secret: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    name, _ = secret
    deployer = user(iam, "deployer", ["sts:AssumeRole"])
    role_arn = role(iam, "locked", "someone-else", READ_ONLY)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", deployer.access_key_id)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", deployer.secret_access_key)

    with aws_env.enforce_iam(), pytest.raises(AccessDenied) as caught:
        AwsSecretsManagerProvider(name, role_arn=role_arn).fetch()

    message = str(caught.value)
    assert f"cannot assume role {role_arn}" in message
    assert "trust policy" in message
