"""The minimum interval between rotations against the real servers: the age of a Vault keyring
is its latest version's ``created_time`` (OpenBao), the age of a Secrets Manager one its
``AWSCURRENT`` version's ``CreatedDate`` (moto, and botocore's Stubber for the exact request).
Time moves with an injected clock, never a sleep."""

from __future__ import annotations

import datetime
import json
import time
from typing import Any

import pytest
from botocore.stub import Stubber

from devservers.moto import REGION, MotoServer
from devservers.openbao import BaoServer
from secret_keyring.keygen import new_keyring
from secret_keyring.keyring import keyring_to_json, parse_payload
from secret_keyring.providers.aws import AwsSecretsManagerProvider, build_client
from secret_keyring.providers.vault import VaultProvider
from secret_keyring.rotation.run import rotate_source

LATER = 16 * 60  # seconds: past the default 15 minutes


def later(seconds: float) -> Any:
    return lambda: time.time() + seconds


# -- Vault / OpenBao -----------------------------------------------------------------------------


def _versions(server: BaoServer, path: str) -> int:
    metadata = server.client().secrets.kv.v2.read_secret_metadata(path, mount_point="secret")
    return int(metadata["data"]["current_version"])


@pytest.mark.vault
def test_vault_age_is_the_latest_versions_created_time(openbao: BaoServer, kv_path: str) -> None:
    old = new_keyring()
    openbao.write(kv_path, json.loads(keyring_to_json(old)))
    vault = VaultProvider("secret", kv_path, environ=openbao.environ(openbao.root_token))

    skipped = rotate_source(vault, clock=later(10 * 60))
    assert skipped.skipped
    assert skipped.how.startswith("skipped: the last rotation is 6")  # about 600 s
    assert skipped.fingerprints == old.fingerprints
    assert skipped.version == "1"
    assert _versions(openbao, kv_path) == 1

    rotated = rotate_source(vault, clock=later(LATER))
    assert (rotated.written, rotated.version) == (True, "2")
    # The new version is the reference now: seconds old again.
    assert rotate_source(vault, clock=later(10 * 60)).skipped
    assert rotate_source(vault, force=True).written
    assert _versions(openbao, kv_path) == 3


@pytest.mark.vault
def test_vault_a_plain_key_has_an_age_too(openbao: BaoServer, kv_path: str) -> None:
    openbao.write(kv_path, {"secret_key": new_keyring().current})
    vault = VaultProvider("secret", kv_path, environ=openbao.environ(openbao.root_token))
    report = rotate_source(vault)
    assert report.skipped
    assert set(report.fingerprints) >= {"current"}
    assert rotate_source(vault, clock=later(LATER)).written


# -- Secrets Manager -----------------------------------------------------------------------------


@pytest.mark.aws
def test_aws_age_is_the_awscurrent_versions_created_date(
    secretsmanager: Any, aws_env: MotoServer
) -> None:
    old = new_keyring()
    name = f"interval/{time.time_ns()}"
    secretsmanager.create_secret(Name=name, SecretString=keyring_to_json(old))
    provider = AwsSecretsManagerProvider(name, region=REGION)

    skipped = rotate_source(provider)
    assert skipped.skipped
    assert skipped.fingerprints == old.fingerprints
    assert len(secretsmanager.list_secret_version_ids(SecretId=name)["Versions"]) == 1

    rotated = rotate_source(provider, clock=later(LATER))
    assert rotated.written
    current = secretsmanager.get_secret_value(SecretId=name, VersionStage="AWSCURRENT")
    assert parse_payload(current["SecretString"]).to_keyring().current == old.next
    # The version the four steps made is AWSCURRENT now, and seconds old.
    again = rotate_source(provider, clock=later(10 * 60))
    assert again.skipped
    assert again.version == current["VersionId"]


def test_aws_reads_the_created_date_of_the_awscurrent_stage() -> None:
    """The exact request: by stage, never the default version (which moto does not move and
    which is not what rotation replaces), and nothing written when it is too young."""
    client = build_client(region=REGION, endpoint_url="http://127.0.0.1:9")  # never contacted
    created = datetime.datetime(2030, 1, 1, 12, 0, tzinfo=datetime.timezone.utc)
    keyring = new_keyring()
    with Stubber(client) as stub:
        stub.add_response(
            "get_secret_value",
            {
                "ARN": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:s-AbCdEf",
                "Name": "s",
                "VersionId": "v" * 32,
                "SecretString": keyring_to_json(keyring),
                "VersionStages": ["AWSCURRENT"],
                "CreatedDate": created,
            },
            {"SecretId": "s", "VersionStage": "AWSCURRENT"},
        )
        provider = AwsSecretsManagerProvider("s", region=REGION, client=client)
        report = rotate_source(provider, clock=lambda: created.timestamp() + 300)
        stub.assert_no_pending_responses()
    assert report.skipped
    assert report.how.startswith("skipped: the last rotation is 300 s old")
    assert report.version == "v" * 32
    assert report.fingerprints == keyring.fingerprints
