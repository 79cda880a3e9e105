"""The AWS module's answer to terraform-aws-modules/terraform-aws-secrets-manager#24 and
hashicorp/terraform-provider-aws#37302, against moto: the version
``aws_secretsmanager_secret_version.initial`` writes carries a staging label of its own, so no
rotation leaves it unlabelled.

AWS deprecates a version without labels and deletes it at the version quota; provider 6.26+ reads a
write-only version back through ``ListSecretVersionIds`` (labelled versions only, without
``IncludeDeprecated``) and reports an unlisted one deleted, so the next apply writes a new keyring.
moto lists deprecated versions too, so the tests check the labels the service reports for the
version, which is what decides whether AWS lists it. The writes are the ones the provider makes:
``CreateSecret`` without a value, then ``PutSecretValue`` with the configured ``version_stages``.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError

from devservers.moto import ACCOUNT_ID, REGION, MotoServer
from secret_keyring import Keyring
from secret_keyring.payload import keyring_to_json, parse_payload
from secret_keyring.providers.aws import AwsSecretsManagerProvider
from secret_keyring.rotation.aws import STEPS, lambda_handler
from secret_keyring.rotation.run import rotate_source
from tests.plugins.leakguard import make_key
from tests.terraform import tfconfig

pytestmark = pytest.mark.aws

LAMBDA_ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:secret-keyring-rotation"


@pytest.fixture
def label() -> str:
    """The module's own staging label, read from its HCL."""
    config = tfconfig.all_configs()["aws-secret"]
    return tfconfig.literal(config.locals["initial_version_stage"])


def provision(client: Any, stages: list[str] | None) -> tuple[str, str, Keyring]:
    """What the module's apply does: the secret, then the first keyring as one version."""
    name = f"test/{uuid.uuid4().hex[:12]}/django"
    client.create_secret(Name=name)
    first = Keyring(current=make_key(), next=make_key())
    params: dict[str, Any] = {"SecretId": name, "SecretString": keyring_to_json(first)}
    if stages is not None:
        params["VersionStages"] = stages
    version = str(client.put_secret_value(**params)["VersionId"])
    return name, version, first


def labels_of(client: Any, name: str, version: str) -> list[str]:
    listed = client.list_secret_version_ids(SecretId=name, IncludeDeprecated=True)["Versions"]
    return sorted(next(v.get("VersionStages", []) for v in listed if v["VersionId"] == version))


def lambda_rotation(client: Any, name: str) -> None:
    """Secrets Manager's rotation: RotateSecret stages the token, the Lambda runs the steps."""
    token = str(uuid.uuid4())
    with pytest.raises(ClientError):  # moto cannot invoke the Lambda: the steps run here
        client.rotate_secret(
            SecretId=name,
            ClientRequestToken=token,
            RotationLambdaARN=LAMBDA_ARN,
            RotationRules={"AutomaticallyAfterDays": 30},
        )
    for step in STEPS:
        lambda_handler({"SecretId": name, "ClientRequestToken": token, "Step": step}, None)


def put_by_hand(client: Any, name: str, value: str) -> None:
    """``aws secretsmanager put-secret-value`` as AWS documents it: AWSCURRENT moves to the new
    version and AWSPREVIOUS to the one it left; no other label moves.

    moto's PutSecretValue instead replaces every label of the version it last made current (its
    "default version", which UpdateSecretVersionStage does not move) with AWSPREVIOUS, dropping
    labels AWS keeps; so the same label moves are made here explicitly.
    """
    staged = client.put_secret_value(SecretId=name, SecretString=value, VersionStages=["INCOMING"])
    stages = client.describe_secret(SecretId=name)["VersionIdsToStages"]
    old = next(version for version, labels in stages.items() if "AWSCURRENT" in labels)
    client.update_secret_version_stage(
        SecretId=name,
        VersionStage="AWSCURRENT",
        MoveToVersionId=staged["VersionId"],
        RemoveFromVersionId=old,
    )
    client.update_secret_version_stage(
        SecretId=name, VersionStage="INCOMING", RemoveFromVersionId=staged["VersionId"]
    )


def current(client: Any, name: str) -> Keyring:
    answer = client.get_secret_value(SecretId=name, VersionStage="AWSCURRENT")
    return parse_payload(answer["SecretString"]).to_keyring()


def test_the_first_version_keeps_its_label_through_every_kind_of_rotation(
    secretsmanager: Any, lambda_env: MotoServer, label: str
) -> None:
    name, version, first = provision(secretsmanager, ["AWSCURRENT", label])
    assert labels_of(secretsmanager, name, version) == sorted(["AWSCURRENT", label])

    # enable_rotation = false: `secret-keyring rotate` runs the four steps itself.
    rotate_source(AwsSecretsManagerProvider(name), max_fallbacks=3)
    rotate_source(AwsSecretsManagerProvider(name), max_fallbacks=3)
    # By hand.
    put_by_hand(secretsmanager, name, keyring_to_json(Keyring(current=make_key(), next=make_key())))
    # The rotation Lambda.
    lambda_rotation(secretsmanager, name)
    lambda_rotation(secretsmanager, name)

    assert labels_of(secretsmanager, name, version) == [label]  # never unlabelled
    # Read back by id, as the provider does: still the keyring Terraform wrote, and no longer
    # what the application signs with.
    kept = secretsmanager.get_secret_value(SecretId=name, VersionId=version)
    assert parse_payload(kept["SecretString"]).to_keyring().same_keys(first)
    assert current(secretsmanager, name).current != first.current


def test_without_its_label_the_first_version_is_deprecated_after_two_rotations(
    secretsmanager: Any, lambda_env: MotoServer
) -> None:
    """Control: the configuration before the label (version_stages left to the default)."""
    name, version, _ = provision(secretsmanager, None)
    lambda_rotation(secretsmanager, name)
    assert labels_of(secretsmanager, name, version) == ["AWSPREVIOUS"]
    lambda_rotation(secretsmanager, name)
    assert labels_of(secretsmanager, name, version) == []  # deprecated: AWS no longer lists it
