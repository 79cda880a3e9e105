"""The minimum interval between rotations against the real servers: the age of a Vault keyring
runs from its latest version's ``created_time`` (OpenBao), the age of a Secrets Manager one from
its last promotion (moto, and botocore's Stubber for what moto does not play), both to the
``Date`` of the server's answer. Time passes on the server's clock as its client sees it
(tests/integration/server_clock.py), never by a sleep; a local clock set ahead stands in for a
rotating machine whose clock is skewed."""

from __future__ import annotations

import datetime
import email.utils
import json
import re
import time
from typing import Any

import pytest
from botocore.stub import Stubber

from devservers.moto import REGION, MotoServer
from devservers.openbao import BaoServer
from secret_keyring import Keyring
from secret_keyring.keygen import new_keyring
from secret_keyring.payload import keyring_to_json, parse_payload
from secret_keyring.providers.aws import AwsSecretsManagerProvider, build_client
from secret_keyring.providers.vault import VaultProvider
from secret_keyring.rotation import DEFAULT_MIN_INTERVAL
from secret_keyring.rotation.run import rotate_source
from tests.integration.server_clock import ServerClock

LATER = 16 * 60  # seconds: past the default 15 minutes


def later(seconds: float) -> Any:
    return lambda: time.time() + seconds


def age_of(how: str) -> int:
    """The age a skipped run's report gives, in seconds."""
    found = re.match(r"skipped: the last rotation is (\d+) s old", how)
    assert found is not None, how
    return int(found.group(1))


# -- Vault / OpenBao -----------------------------------------------------------------------------


def _versions(server: BaoServer, path: str) -> int:
    metadata = server.client().secrets.kv.v2.read_secret_metadata(path, mount_point="secret")
    return int(metadata["data"]["current_version"])


@pytest.mark.vault
def test_vault_age_is_the_latest_versions_created_time(openbao: BaoServer, kv_path: str) -> None:
    old = new_keyring()
    openbao.write(kv_path, json.loads(keyring_to_json(old)))
    vault = VaultProvider("secret", kv_path, environ=openbao.environ(openbao.root_token))
    server = ServerClock(10 * 60).on_vault(vault)

    skipped = rotate_source(vault)
    assert skipped.skipped
    assert 595 <= age_of(skipped.how) <= 605  # the shifted Date against created_time
    assert skipped.fingerprints == old.fingerprints
    assert skipped.version == "1"
    assert _versions(openbao, kv_path) == 1

    server.offset = LATER
    rotated = rotate_source(vault)
    assert (rotated.written, rotated.version) == (True, "2")
    # The new version is the reference now: seconds old again, so ten minutes on is too soon.
    server.offset = 10 * 60
    assert rotate_source(vault).skipped
    assert rotate_source(vault, force=True).written
    assert _versions(openbao, kv_path) == 3


@pytest.mark.vault
def test_vault_a_plain_key_has_an_age_too(openbao: BaoServer, kv_path: str) -> None:
    openbao.write(kv_path, {"secret_key": new_keyring().current})
    vault = VaultProvider("secret", kv_path, environ=openbao.environ(openbao.root_token))
    report = rotate_source(vault)
    assert report.skipped
    assert set(report.fingerprints) >= {"current"}
    ServerClock(LATER).on_vault(vault)
    assert rotate_source(vault).written


@pytest.mark.vault
def test_vault_now_is_the_servers_date_not_a_skewed_local_clock(
    openbao: BaoServer, kv_path: str
) -> None:
    """The rotating machine's clock runs a whole interval ahead of OpenBao's (the injected
    clock): by its own reckoning the version written just now is already 15 minutes old. The
    age is taken on the server's clock instead (its ``Date`` header), so a retried run right
    after a rotation whose answer was lost still writes nothing."""
    old = new_keyring()
    openbao.write(kv_path, json.loads(keyring_to_json(old)))
    vault = VaultProvider("secret", kv_path, environ=openbao.environ(openbao.root_token))

    report = rotate_source(vault, clock=later(DEFAULT_MIN_INTERVAL + 5))

    assert report.skipped
    assert age_of(report.how) <= 5  # seconds, by the server's clock; not 905
    assert _versions(openbao, kv_path) == 1


# -- Secrets Manager -----------------------------------------------------------------------------


@pytest.mark.aws
def test_aws_age_is_the_awscurrent_versions_created_date(
    secretsmanager: Any, aws_env: MotoServer
) -> None:
    old = new_keyring()
    name = f"interval/{time.time_ns()}"
    secretsmanager.create_secret(Name=name, SecretString=keyring_to_json(old))
    provider = AwsSecretsManagerProvider(name, region=REGION)
    server = ServerClock().on_aws(provider)

    skipped = rotate_source(provider)
    assert skipped.skipped
    assert skipped.fingerprints == old.fingerprints
    assert len(secretsmanager.list_secret_version_ids(SecretId=name)["Versions"]) == 1

    server.offset = LATER
    rotated = rotate_source(provider)
    assert rotated.written
    current = secretsmanager.get_secret_value(SecretId=name, VersionStage="AWSCURRENT")
    assert parse_payload(current["SecretString"]).to_keyring().current == old.next
    # The version the four steps made is AWSCURRENT now, and seconds old.
    server.offset = 10 * 60
    again = rotate_source(provider)
    assert again.skipped
    assert again.version == current["VersionId"]


@pytest.mark.aws
def test_aws_now_is_the_servers_date_not_a_skewed_local_clock(
    secretsmanager: Any, aws_env: MotoServer
) -> None:
    """As for Vault: the local clock (injected) runs a whole interval ahead of Secrets
    Manager's; the age is taken on the server's clock (the ``Date`` of its answer), so the
    version written just now is not rotated again."""
    name = f"interval/{time.time_ns()}"
    secretsmanager.create_secret(Name=name, SecretString=keyring_to_json(new_keyring()))
    provider = AwsSecretsManagerProvider(name, region=REGION)

    report = rotate_source(provider, clock=later(DEFAULT_MIN_INTERVAL + 5))

    assert report.skipped
    assert age_of(report.how) <= 5  # seconds, by the server's clock; not 905
    assert len(secretsmanager.list_secret_version_ids(SecretId=name)["Versions"]) == 1


ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:s-AbCdEf"
VERSION = "v" * 32
CREATED = datetime.datetime(2030, 1, 1, 12, 0, tzinfo=datetime.timezone.utc)


def _current_answer(keyring: Keyring, **metadata: Any) -> dict[str, Any]:
    return {
        "ARN": ARN,
        "Name": "s",
        "VersionId": VERSION,
        "SecretString": keyring_to_json(keyring),
        "VersionStages": ["AWSCURRENT"],
        "CreatedDate": CREATED,
        **metadata,
    }


def _described(**fields: Any) -> dict[str, Any]:
    return {
        "ARN": ARN,
        "Name": "s",
        "VersionIdsToStages": {VERSION: ["AWSCURRENT"]},
        "CreatedDate": CREATED - datetime.timedelta(days=30),
        **fields,
    }


def _date_header(moment: datetime.datetime) -> dict[str, Any]:
    return {
        "ResponseMetadata": {
            "HTTPStatusCode": 200,
            "HTTPHeaders": {"date": email.utils.format_datetime(moment, usegmt=True)},
        }
    }


def test_aws_reads_the_awscurrent_stage_then_its_promotion_dates() -> None:
    """The exact requests: ``AWSCURRENT`` by label (never the default version, which moto does
    not move and which is not what rotation replaces), then ``DescribeSecret``; nothing written
    when it is too young. Answers without a ``Date`` header (a stubbed client) fall back on the
    local clock."""
    client = build_client(region=REGION, endpoint_url="http://127.0.0.1:9")  # never contacted
    keyring = new_keyring()
    with Stubber(client) as stub:
        stub.add_response(
            "get_secret_value",
            _current_answer(keyring),
            {"SecretId": "s", "VersionStage": "AWSCURRENT"},
        )
        stub.add_response("describe_secret", _described(), {"SecretId": "s"})
        provider = AwsSecretsManagerProvider("s", region=REGION, client=client)
        report = rotate_source(provider, clock=lambda: CREATED.timestamp() + 300)
        stub.assert_no_pending_responses()
    assert report.skipped
    assert report.how.startswith("skipped: the last rotation is 300 s old")
    assert report.version == VERSION
    assert report.fingerprints == keyring.fingerprints


@pytest.mark.parametrize("field", ["LastRotatedDate", "LastChangedDate"])
def test_aws_age_counts_from_the_last_promotion_not_the_versions_creation(field: str) -> None:
    """Stands in for a rotation that Secrets Manager retried for hours: its ``createSecret``
    stored the version (``CreatedDate``) three hours before ``finishSecret`` promoted it. The
    API reference gives the promotion as ``LastRotatedDate`` (a completed rotation) and
    ``LastChangedDate`` (any change, a label move included); moto sets neither on a label move,
    so the answers are stubbed as the service sends them, ``Date`` header included. Five
    minutes after the promotion, a run is too soon however old the version is."""
    client = build_client(region=REGION, endpoint_url="http://127.0.0.1:9")  # never contacted
    keyring = new_keyring()
    promoted = CREATED + datetime.timedelta(hours=3)
    now = promoted + datetime.timedelta(minutes=5)
    with Stubber(client) as stub:
        stub.add_response(
            "get_secret_value",
            {**_current_answer(keyring), **_date_header(now)},
            {"SecretId": "s", "VersionStage": "AWSCURRENT"},
        )
        stub.add_response(
            "describe_secret",
            {
                **_described(
                    RotationEnabled=True,
                    **{"LastRotatedDate": CREATED, "LastChangedDate": CREATED, field: promoted},
                ),
                **_date_header(now),
            },
            {"SecretId": "s"},
        )
        provider = AwsSecretsManagerProvider("s", region=REGION, client=client)
        # The local clock agrees with the server here: the point is which moment is measured.
        report = rotate_source(provider, clock=now.timestamp)
        stub.assert_no_pending_responses()
    assert report.skipped
    assert report.how.startswith("skipped: the last rotation is 300 s old")
    assert report.version == VERSION
