"""States of a Secrets Manager rotation that moto does not play, reproduced with botocore's
``Stubber``: each test scripts the exact calls the handler makes and the answers the Secrets
Manager API reference documents for that state.

moto records ``CreatedDate`` in whole seconds, so two versions written within the same second
(every test's timeline) cannot be ordered there; Secrets Manager's dates carry milliseconds.
The tests here give each version the date it has on AWS.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from botocore.stub import Stubber

from secret_keyring import Keyring
from secret_keyring.errors import RotationError
from secret_keyring.payload import keyring_to_json
from secret_keyring.rotation import aws as rotation_aws
from secret_keyring.rotation.aws import SecretsManagerRotation, lambda_handler
from tests.plugins.leakguard import make_key
from tests.unit.aws_stub import ARN, no_value, stubbed

A = "a0000000-0000-4000-8000-00000000000a"  # the AWSCURRENT createSecret rotated from
P = "b0000000-0000-4000-8000-00000000000b"  # the pending version createSecret wrote
E = "c0000000-0000-4000-8000-00000000000c"  # an emergency re-key made after P
T0 = datetime(2026, 3, 1, 4, 0, 0, 123000, tzinfo=timezone.utc)
RECOVERY = (
    f"aws secretsmanager update-secret-version-stage --secret-id '{ARN}' "
    f"--version-stage AWSPENDING --remove-from-version-id {P}"
)


@pytest.fixture
def stub(monkeypatch: pytest.MonkeyPatch) -> Iterator[Stubber]:
    """The Lambda's client, stubbed."""
    monkeypatch.delenv("SECRET_KEYRING_MAX_FALLBACKS", raising=False)
    monkeypatch.delenv("SECRET_KEYRING_FIELD", raising=False)
    with stubbed() as stubber:
        monkeypatch.setattr(rotation_aws, "_client", stubber.client)
        yield stubber


def describe(stub: Stubber, stages: dict[str, list[str]]) -> None:
    stub.add_response(
        "describe_secret",
        {
            "ARN": ARN,
            "Name": "prod/myapp/django",
            "RotationEnabled": True,
            "VersionIdsToStages": stages,
        },
        {"SecretId": ARN},
    )


def get(
    stub: Stubber, version: str, stage: str, value: str, created: datetime, *, by_id: bool = True
) -> None:
    params: dict[str, Any] = {"SecretId": ARN, "VersionStage": stage}
    if by_id:
        params["VersionId"] = version
    stub.add_response(
        "get_secret_value",
        {
            "ARN": ARN,
            "Name": "prod/myapp/django",
            "VersionId": version,
            "SecretString": value,
            "VersionStages": [stage],
            "CreatedDate": created,
        },
        params,
    )


def event(step: str) -> dict[str, str]:
    return {"SecretId": ARN, "ClientRequestToken": P, "Step": step}


RE_KEYED = {A: ["AWSPREVIOUS"], P: ["AWSPENDING"], E: ["AWSCURRENT"]}


@pytest.mark.parametrize("kind", ["plain", "keyring"])
def test_a_pending_version_older_than_current_is_never_promoted(stub: Stubber, kind: str) -> None:
    """createSecret wrote P from AWSCURRENT A; a later step failed; an operator re-keyed after a
    leak (put-secret-value: E becomes AWSCURRENT, A AWSPREVIOUS); Secrets Manager then retries
    the rotation with the same token. Promoting P would make the old-derived key current and
    demote the emergency key: testSecret and finishSecret refuse, on every retry, and say how to
    clear the rotation."""
    a, e = make_key(), make_key()
    if kind == "plain":
        pending, current = make_key(), e
    else:
        old = Keyring(current=a, next=make_key(), previous=())
        pending = keyring_to_json(Keyring(current=old.next or "", next=make_key(), previous=(a,)))
        current = keyring_to_json(Keyring(current=e, next=make_key(), previous=()))
    made, re_keyed = T0, T0 + timedelta(minutes=20)

    for _ in range(2):  # Secrets Manager's retries meet the same refusal
        describe(stub, RE_KEYED)
        get(stub, P, "AWSPENDING", pending, made)
        get(stub, E, "AWSCURRENT", current, re_keyed, by_id=False)
        with pytest.raises(RotationError, match="testSecret") as refused:
            lambda_handler(event("testSecret"), None)
        message = str(refused.value)
        assert "newer than the pending version" in message
        assert RECOVERY in message
        assert "then rotate again" in message

    describe(stub, RE_KEYED)  # preconditions
    describe(stub, RE_KEYED)  # finishSecret
    get(stub, E, "AWSCURRENT", current, re_keyed)
    get(stub, P, "AWSPENDING", pending, made)
    with pytest.raises(RotationError, match="finishSecret") as refused:
        lambda_handler(event("finishSecret"), None)
    assert RECOVERY in str(refused.value)
    # No update_secret_version_stage was scripted: Stubber fails any call not scripted.


def test_a_retry_after_an_unrelated_failure_still_finishes(stub: Stubber) -> None:
    """Control: the usual retry, AWSCURRENT still the version P was made from (older than P),
    is promoted as before."""
    a, pending = make_key(), make_key()
    stages = {A: ["AWSCURRENT"], P: ["AWSPENDING"]}
    describe(stub, stages)
    describe(stub, stages)
    get(stub, A, "AWSCURRENT", a, T0)
    get(stub, P, "AWSPENDING", pending, T0 + timedelta(milliseconds=300))
    stub.add_response(
        "update_secret_version_stage",
        {"ARN": ARN, "Name": "prod/myapp/django"},
        {
            "SecretId": ARN,
            "VersionStage": "AWSCURRENT",
            "MoveToVersionId": P,
            "RemoveFromVersionId": A,
        },
    )
    describe(stub, {A: ["AWSPREVIOUS"], P: ["AWSCURRENT", "AWSPENDING"]})
    stub.add_response(
        "update_secret_version_stage",
        {"ARN": ARN, "Name": "prod/myapp/django"},
        {"SecretId": ARN, "VersionStage": "AWSPENDING", "RemoveFromVersionId": P},
    )

    lambda_handler(event("finishSecret"), None)


def test_a_test_only_invocation_as_aws_makes_it(
    stub: Stubber, caplog: pytest.LogCaptureFixture
) -> None:
    """RotateImmediately=false on AWS: Secrets Manager stages AWSPENDING on a version without a
    value (GetSecretValue answers ResourceNotFoundException for it) and invokes testSecret
    alone. The handler reads AWSCURRENT, checks that it would rotate, and calls nothing that
    writes."""
    current = keyring_to_json(Keyring(current=make_key(), next=make_key(), previous=()))
    describe(stub, {A: ["AWSCURRENT"], P: ["AWSPENDING"]})
    no_value(stub, P)
    get(stub, A, "AWSCURRENT", current, T0, by_id=False)

    with caplog.at_level("INFO", logger="secret_keyring.rotation"):
        lambda_handler(event("testSecret"), None)
    assert any("testing the rotation configuration" in r.getMessage() for r in caplog.records)


def test_a_local_finish_keeps_its_pin_when_awscurrent_moves_at_the_last_moment() -> None:
    """A local run (``secret-keyring rotate``) pinned to A, the version its interval check
    judged. Another rotation promotes E between finishSecret's DescribeSecret and its
    UpdateSecretVersionStage. Secrets Manager refuses to move a label whose
    ``RemoveFromVersionId`` no longer holds it (an ``InvalidParameterException``), which makes
    the pin atomic: the run asks which version is current now, promotes nothing and says that
    AWSCURRENT moved."""
    a, pending = make_key(), make_key()
    with stubbed() as stub:
        describe(stub, {A: ["AWSCURRENT"], P: ["AWSPENDING"]})
        get(stub, A, "AWSCURRENT", a, T0)
        get(stub, P, "AWSPENDING", pending, T0 + timedelta(milliseconds=300))
        stub.add_client_error(
            "update_secret_version_stage",
            service_error_code="InvalidParameterException",
            service_message=f"The staging label AWSCURRENT is not attached to version {A}",
            http_status_code=400,
            expected_params={
                "SecretId": ARN,
                "VersionStage": "AWSCURRENT",
                "MoveToVersionId": P,
                "RemoveFromVersionId": A,
            },
        )
        describe(stub, {A: ["AWSPREVIOUS"], E: ["AWSCURRENT"], P: ["AWSPENDING"]})
        rotation = SecretsManagerRotation(stub.client, ARN, P, pinned=A)
        with pytest.raises(RotationError, match=rf"AWSCURRENT moved from version {A} \(now "):
            rotation.run("finishSecret")


def test_a_local_finish_refuses_when_awscurrent_is_no_longer_the_pinned_version() -> None:
    """The same move seen by finishSecret's DescribeSecret: nothing is even attempted."""
    with stubbed() as stub:
        describe(stub, {A: ["AWSPREVIOUS"], E: ["AWSCURRENT"], P: ["AWSPENDING"]})
        rotation = SecretsManagerRotation(stub.client, ARN, P, pinned=A)
        with pytest.raises(RotationError, match=rf"moved from version {A} \(now version {E}\)"):
            rotation.run("finishSecret")
