"""The placeholder ``RotateSecret`` stages before ``createSecret`` fills it, as Secrets Manager
presents it, reproduced with botocore's ``Stubber``.

moto records ``LastChangedDate`` in whole seconds, so a placeholder filled within the second it
was staged (every test's timeline) looks unchanged there; Secrets Manager's dates carry
milliseconds. The answers here carry the dates AWS would send.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pytest
from botocore.stub import Stubber

from secret_keyring.providers.aws import AwsSecretsManagerProvider
from tests.plugins.leakguard import make_key
from tests.unit.aws_stub import ARN, no_value, stubbed

CURRENT = "a0000000-0000-4000-8000-00000000000a"
PLACEHOLDER = "b0000000-0000-4000-8000-00000000000b"
T0 = datetime(2026, 3, 1, 4, 0, 0, 123000, tzinfo=timezone.utc)
STAGES = {CURRENT: ["AWSCURRENT"], PLACEHOLDER: ["AWSPENDING"]}


@pytest.fixture
def stub() -> Iterator[Stubber]:
    with stubbed() as stubber:
        yield stubber


def describe(stub: Stubber, changed: datetime) -> None:
    stub.add_response(
        "describe_secret",
        {
            "ARN": ARN,
            "Name": "prod/myapp/django",
            "RotationEnabled": True,
            "LastChangedDate": changed,
            "VersionIdsToStages": STAGES,
        },
        {"SecretId": ARN},
    )


def get(stub: Stubber, version: str, stage: str, value: str, created: datetime) -> None:
    stub.add_response(
        "get_secret_value",
        {"ARN": ARN, "VersionId": version, "SecretString": value, "CreatedDate": created},
        {"SecretId": ARN, "VersionId": version, "VersionStage": stage},
    )


def test_the_placeholder_is_read_again_once_the_secret_changed(stub: Stubber) -> None:
    """No value: asked once, then remembered while LastChangedDate stays; createSecret's
    PutSecretValue into the placeholder moves LastChangedDate, and the next refresh reads it."""
    current, pending = make_key(), make_key()
    provider = AwsSecretsManagerProvider(
        ARN, client=stub.client, clock=lambda: T0 + timedelta(minutes=1)
    )

    # Start-up reads AWSCURRENT by label first; a plain key then describes the secret for its
    # fallbacks without reading the current value again.
    stub.add_response(
        "get_secret_value",
        {
            "ARN": ARN,
            "VersionId": CURRENT,
            "SecretString": current,
            "CreatedDate": T0 - timedelta(days=30),
        },
        {"SecretId": ARN, "VersionStage": "AWSCURRENT"},
    )
    describe(stub, T0)
    no_value(stub, PLACEHOLDER)
    assert provider.fetch().fallbacks == []

    describe(stub, T0)  # unchanged: nothing else is asked
    describe(stub, T0)
    assert provider.fetch().fallbacks == []
    assert provider.fetch().fallbacks == []

    filled = T0 + timedelta(milliseconds=450)
    describe(stub, filled)
    get(stub, PLACEHOLDER, "AWSPENDING", pending, T0)
    assert provider.fetch().fallbacks == [pending]
