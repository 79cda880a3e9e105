"""The Secrets Manager rotation Lambda against moto in server mode, driven the way Secrets Manager
drives it.

:class:`SecretsManager` plays the service: ``RotateSecret`` with a ``ClientRequestToken`` and a
``RotationLambdaARN`` makes moto record the token's ``AWSPENDING`` placeholder version and turn
rotation on; moto then fails to find the Lambda (there is none), and the driver invokes
``lambda_handler`` itself with the event Secrets Manager sends, once per step, with the same token.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from devservers.moto import ACCOUNT_ID, REGION, MotoServer
from secret_keyring import Keyring
from secret_keyring.cli import main
from secret_keyring.errors import (
    AccessDenied,
    ConfigurationError,
    RotationError,
)
from secret_keyring.keygen import adopt_keyring, new_keyring
from secret_keyring.keygen import rotate as rotate_rule
from secret_keyring.keyring import adoption_marker, fingerprint
from secret_keyring.payload import keyring_to_json, parse_payload
from secret_keyring.providers.aws import AwsSecretsManagerProvider
from secret_keyring.rotation import aws as rotation_aws
from secret_keyring.rotation.aws import (
    STEPS,
    SecretsManagerRotation,
    init_secret,
    lambda_handler,
    rotate_secret,
)
from secret_keyring.rotation.lambda_zip import build_lambda_zip
from secret_keyring.rotation.run import rotate_source
from tests.integration.server_clock import ServerClock
from tests.plugins.leakguard import assert_no_key_material, make_key, make_weak_key, remember

pytestmark = pytest.mark.aws

LAMBDA_ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:secret-keyring-rotation"
DESCRIBE = "secretsmanager:DescribeSecret"
GET = "secretsmanager:GetSecretValue"
PUT = "secretsmanager:PutSecretValue"
UPDATE_STAGE = "secretsmanager:UpdateSecretVersionStage"
ROTATE = "secretsmanager:RotateSecret"


def new_name() -> str:
    return f"test/{uuid.uuid4().hex[:12]}/django"


def keyring_json(current: str, nxt: str | None = None, previous: tuple[str, ...] = ()) -> str:
    return keyring_to_json(Keyring(current=current, next=nxt, previous=previous))


class SecretsManager:
    """Does what Secrets Manager does around a rotation Lambda, for one secret."""

    def __init__(self, client: Any, arn: str) -> None:
        self.client = client
        self.arn = arn

    def start(self, token: str | None = None) -> str:
        """``RotateSecret``: stage the token's ``AWSPENDING`` placeholder, enable rotation."""
        token = token or str(uuid.uuid4())
        with pytest.raises(ClientError) as raised:
            self.client.rotate_secret(
                SecretId=self.arn,
                ClientRequestToken=token,
                RotationLambdaARN=LAMBDA_ARN,
                RotationRules={"AutomaticallyAfterDays": 30},
            )
        # moto cannot run a Lambda: it stops at looking it up, after staging the placeholder.
        assert raised.value.response["Error"]["Code"] == "ResourceNotFoundException"
        assert self.stages()[token] == ["AWSPENDING"]
        return token

    def step(self, token: str, step: str) -> None:
        lambda_handler({"SecretId": self.arn, "ClientRequestToken": token, "Step": step}, None)

    def rotate(self) -> str:
        token = self.start()
        for step in STEPS:
            self.step(token, step)
        return token

    # -- what the tests look at -----------------------------------------------------------------

    def stages(self) -> dict[str, list[str]]:
        described = self.client.describe_secret(SecretId=self.arn)
        return {v: sorted(s) for v, s in described.get("VersionIdsToStages", {}).items()}

    def staged(self, stage: str) -> list[str]:
        return [version for version, labels in self.stages().items() if stage in labels]

    def raw(self, *, stage: str = "AWSCURRENT", version: str | None = None) -> str:
        # moto 5.2 does not move its default version with AWSCURRENT: always name the stage.
        params = {"SecretId": self.arn, "VersionStage": stage}
        if version is not None:
            params["VersionId"] = version
        answer = self.client.get_secret_value(**params)
        if "SecretString" in answer:
            return str(answer["SecretString"])
        return bytes(answer["SecretBinary"]).decode()

    def keyring(self, *, stage: str = "AWSCURRENT", field: str | None = None) -> Keyring:
        return parse_payload(self.raw(stage=stage), field=field).to_keyring()


def create(client: Any, **value: Any) -> SecretsManager:
    arn = client.create_secret(Name=new_name(), **value)["ARN"]
    return SecretsManager(client, str(arn))


@pytest.fixture
def keyring_secret(secretsmanager: Any, lambda_env: MotoServer) -> SecretsManager:
    """A secret holding keyring JSON with one previous key."""
    return create(secretsmanager, SecretString=keyring_json(make_key(), make_key(), (make_key(),)))


def assert_rule(old: Keyring, new: Keyring, max_fallbacks: int = 3) -> None:
    assert new.current == old.next
    assert new.previous[0] == old.current
    assert new.previous == (old.current, *old.previous)[:max_fallbacks]
    assert new.next is not None
    assert new.next not in (old.current, old.next, *old.previous)


def assert_finished(sm: SecretsManager, token: str, old_version: str) -> None:
    stages = sm.stages()
    assert stages[token] == ["AWSCURRENT"]
    assert stages[old_version] == ["AWSPREVIOUS"]
    assert sm.staged("AWSPENDING") == []


# -- the four steps -----------------------------------------------------------------------------


def test_rotation_promotes_next_and_leaves_no_pending(
    keyring_secret: SecretsManager, lambda_env: MotoServer, caplog: pytest.LogCaptureFixture
) -> None:
    sm = keyring_secret
    (old_version,) = sm.staged("AWSCURRENT")
    old = sm.keyring()

    with caplog.at_level(logging.INFO, logger="secret_keyring.rotation"):
        token = sm.rotate()

    assert_finished(sm, token, old_version)
    new = sm.keyring()
    assert_rule(old, new)
    assert sm.keyring(stage="AWSPREVIOUS").same_keys(old)
    # What the application's provider now reads.
    fetched = AwsSecretsManagerProvider(sm.arn).fetch()
    assert fetched.same_keys(new)
    assert fetched.version == token
    # Every step logged, with fingerprints.
    messages = [r.getMessage() for r in caplog.records if r.name == "secret_keyring.rotation.aws"]
    for step in STEPS:
        assert any(f"{step}:" in m for m in messages), step
    assert any(fingerprint(new.current) in m for m in messages)


def test_each_step_retried_gives_the_same_end_state(
    keyring_secret: SecretsManager, lambda_env: MotoServer
) -> None:
    sm = keyring_secret
    (old_version,) = sm.staged("AWSCURRENT")
    old = sm.keyring()
    token = sm.start()
    lambda_env.reset_counts()

    sm.step(token, "createSecret")
    pending = sm.raw(stage="AWSPENDING", version=token)
    sm.step(token, "createSecret")  # a retry keeps the first pending value
    assert sm.raw(stage="AWSPENDING", version=token) == pending
    assert lambda_env.counts()[PUT] == 1

    for step in ("setSecret", "testSecret"):
        sm.step(token, step)
        sm.step(token, step)
        assert sm.stages()[token] == ["AWSPENDING"]
    sm.step(token, "finishSecret")
    after_first = sm.stages()
    sm.step(token, "finishSecret")

    assert sm.stages() == after_first
    assert_finished(sm, token, old_version)
    assert sm.raw() == pending
    assert_rule(old, sm.keyring())
    assert lambda_env.counts()[PUT] == 1


def test_failure_after_create_then_a_full_retry_completes(
    keyring_secret: SecretsManager, lambda_env: MotoServer
) -> None:
    sm = keyring_secret
    (old_version,) = sm.staged("AWSCURRENT")
    old = sm.keyring()
    token = sm.start()
    sm.step(token, "createSecret")
    pending = sm.raw(stage="AWSPENDING", version=token)

    sm.step(token, "setSecret")
    # testSecret's read is refused (a 4xx: botocore does not retry it); the invocation fails.
    lambda_env.fail_next(GET, status=400, code="AccessDeniedException")
    with pytest.raises(AccessDenied):
        sm.step(token, "testSecret")
    assert sm.stages()[token] == ["AWSPENDING"]
    assert sm.raw() == keyring_json(old.current, old.next, old.previous)

    # Secrets Manager retries the rotation from the start with the same token.
    lambda_env.reset_counts()
    for step in STEPS:
        sm.step(token, step)

    assert_finished(sm, token, old_version)
    assert sm.raw() == pending
    assert_rule(old, sm.keyring())
    assert PUT not in lambda_env.counts()


def test_finish_interrupted_after_moving_current_is_completed_by_its_retry(
    keyring_secret: SecretsManager, lambda_env: MotoServer
) -> None:
    sm = keyring_secret
    (old_version,) = sm.staged("AWSCURRENT")
    token = sm.start()
    for step in STEPS[:3]:
        sm.step(token, step)
    # The first half of finishSecret happened (AWSCURRENT moved), then the invocation died.
    sm.client.update_secret_version_stage(
        SecretId=sm.arn,
        VersionStage="AWSCURRENT",
        MoveToVersionId=token,
        RemoveFromVersionId=old_version,
    )
    assert sm.stages()[token] == ["AWSCURRENT", "AWSPENDING"]

    sm.step(token, "finishSecret")

    assert_finished(sm, token, old_version)


def test_rotation_of_a_new_secret_after_a_finished_one(
    keyring_secret: SecretsManager, lambda_env: MotoServer
) -> None:
    sm = keyring_secret
    first = sm.rotate()
    middle = sm.keyring()
    second = sm.rotate()

    assert_finished(sm, second, first)
    assert_rule(middle, sm.keyring())


@pytest.mark.parametrize(("env", "kept"), [(None, 3), ("2", 2), ("1", 1)])
def test_ten_rotations_keep_previous_trimmed(
    secretsmanager: Any,
    lambda_env: MotoServer,
    monkeypatch: pytest.MonkeyPatch,
    env: str | None,
    kept: int,
) -> None:
    if env is not None:
        monkeypatch.setenv("SECRET_KEYRING_MAX_FALLBACKS", env)
    first = new_keyring()
    sm = create(secretsmanager, SecretString=keyring_to_json(first))
    history = [first]
    for round_ in range(10):
        sm.rotate()
        history.append(sm.keyring())
        assert_rule(history[-2], history[-1], kept)
        assert len(history[-1].previous) == min(round_ + 1, kept)
    assert sm.staged("AWSPENDING") == []
    # The last keys that signed, newest first.
    assert history[-1].previous == tuple(k.current for k in reversed(history[-1 - kept : -1]))


# -- testSecret --------------------------------------------------------------------------------


def _bad_pending_values(old: Keyring) -> dict[str, str]:
    insecure = "django-insecure-" + make_key()
    remember(insecure)
    return {
        "short": "too-short-to-be-a-django-key",
        "insecure-prefix": insecure,
        "few-characters": "ab" * 30,
        "malformed-json": '{"current": "' + make_key() + '", ',
        "no-current": json.dumps({"next": make_key()}),
        "unknown-member": json.dumps({"current": make_key(), "extra": "x"}),
        "weak-next": json.dumps({"current": old.next, "next": "short", "previous": []}),
        # Valid keys, but the current signing key is gone: every session would be lost.
        "drops-current": keyring_json(make_key(), make_key()),
        "empty": " ",
    }


@pytest.mark.parametrize(
    "kind",
    [
        "short",
        "insecure-prefix",
        "few-characters",
        "malformed-json",
        "no-current",
        "unknown-member",
        "weak-next",
        "drops-current",
        "empty",
    ],
)
def test_test_secret_rejects_a_bad_pending_value(
    keyring_secret: SecretsManager, lambda_env: MotoServer, kind: str
) -> None:
    sm = keyring_secret
    old = sm.keyring()
    token = sm.start()
    sm.client.put_secret_value(
        SecretId=sm.arn,
        ClientRequestToken=token,
        SecretString=_bad_pending_values(old)[kind],
        VersionStages=["AWSPENDING"],
    )

    with pytest.raises(RotationError, match="testSecret") as raised:
        sm.step(token, "testSecret")

    assert sm.arn in str(raised.value)
    assert sm.keyring().same_keys(old)  # nothing moved
    assert sm.stages()[token] == ["AWSPENDING"]


def _test_only_start(sm: SecretsManager, *, copy: bool) -> str:
    """Stage the version Secrets Manager tests the configuration with (RotateImmediately=false).

    On AWS it has no value, and Secrets Manager removes it after ``testSecret``. moto runs no
    Lambda and removes nothing: with RotateImmediately=false it copies AWSCURRENT into the
    version (the ``copy`` variant); its immediate-rotation placeholder is the version without a
    value (the other). Either way only ``testSecret`` is invoked, as Secrets Manager does.
    """
    if not copy:
        return sm.start()
    token = str(uuid.uuid4())
    with pytest.raises(ClientError):
        sm.client.rotate_secret(
            SecretId=sm.arn,
            ClientRequestToken=token,
            RotationLambdaARN=LAMBDA_ARN,
            RotationRules={"AutomaticallyAfterDays": 30},
            RotateImmediately=False,
        )
    assert sm.raw(stage="AWSPENDING", version=token) == sm.raw()
    return token


@pytest.mark.parametrize("copy", [False, True], ids=["no-value", "copy-of-current"])
@pytest.mark.parametrize("kind", ["keyring", "plain"])
def test_a_test_only_invocation_succeeds_and_changes_nothing(
    secretsmanager: Any,
    lambda_env: MotoServer,
    caplog: pytest.LogCaptureFixture,
    kind: str,
    copy: bool,
) -> None:
    """rotate_immediately = false, the Terraform module's default: Secrets Manager invokes
    testSecret alone against an AWSPENDING version createSecret never wrote (RotateSecret API
    reference). It must succeed when AWSCURRENT can be read and rotated, and write nothing."""
    value = keyring_json(make_key(), make_key()) if kind == "keyring" else make_key()
    sm = create(secretsmanager, SecretString=value)
    before = sm.stages()
    token = _test_only_start(sm, copy=copy)
    lambda_env.reset_counts()

    with caplog.at_level(logging.INFO, logger="secret_keyring.rotation"):
        sm.step(token, "testSecret")

    assert any("testing the rotation configuration" in r.getMessage() for r in caplog.records)
    assert sm.raw() == value
    assert sm.stages() == {**before, token: ["AWSPENDING"]}
    assert not {PUT, UPDATE_STAGE} & set(lambda_env.counts())


@pytest.mark.parametrize("copy", [False, True], ids=["no-value", "copy-of-current"])
def test_a_test_only_invocation_fails_when_current_cannot_rotate(
    secretsmanager: Any, lambda_env: MotoServer, monkeypatch: pytest.MonkeyPatch, copy: bool
) -> None:
    """The point of the test invocation: a configuration whose first rotation would fail
    (keyring JSON with SECRET_KEYRING_MAX_FALLBACKS=0, an unparsable value) fails at set-up."""
    sm = create(secretsmanager, SecretString=keyring_json(make_key(), make_key()))
    token = _test_only_start(sm, copy=copy)
    monkeypatch.setenv("SECRET_KEYRING_MAX_FALLBACKS", "0")
    with pytest.raises(RotationError, match="SECRET_KEYRING_MAX_FALLBACKS"):
        sm.step(token, "testSecret")

    monkeypatch.delenv("SECRET_KEYRING_MAX_FALLBACKS")
    broken = create(secretsmanager, SecretString="not a key")
    token = _test_only_start(broken, copy=copy)
    with pytest.raises(RotationError, match="cannot be rotated"):
        broken.step(token, "testSecret")


def test_the_stuck_pending_recipe_lets_the_next_rotation_start_from_current(
    secretsmanager: Any, lambda_env: MotoServer
) -> None:
    """The recovery the refusal prints (docs/operations.md): take AWSPENDING off the stuck
    version, rotate again; the new rotation starts from the re-keyed AWSCURRENT."""
    sm = create(secretsmanager, SecretString=make_key())
    stuck = sm.start()
    sm.step(stuck, "createSecret")
    emergency = make_key()
    sm.client.put_secret_value(SecretId=sm.arn, SecretString=emergency)  # the re-key

    sm.client.update_secret_version_stage(
        SecretId=sm.arn, VersionStage="AWSPENDING", RemoveFromVersionId=stuck
    )
    sm.rotate()

    assert sm.staged("AWSPENDING") == []
    assert sm.raw(stage="AWSPREVIOUS") == emergency
    assert sm.stages().get(stuck, []) == []


def test_test_secret_accepts_a_valid_keyring_written_by_hand(
    keyring_secret: SecretsManager, lambda_env: MotoServer
) -> None:
    sm = keyring_secret
    old = sm.keyring()
    token = sm.start()
    assert old.next is not None
    mine = keyring_json(old.next, make_key(), (old.current,))
    sm.client.put_secret_value(
        SecretId=sm.arn, ClientRequestToken=token, SecretString=mine, VersionStages=["AWSPENDING"]
    )
    for step in STEPS:
        sm.step(token, step)
    assert sm.raw() == mine


# -- plain payloads ----------------------------------------------------------------------------


def test_plain_key_rotates_by_replacement_and_previous_stays_a_fallback(
    secretsmanager: Any, lambda_env: MotoServer
) -> None:
    old_key = make_key()
    sm = create(secretsmanager, SecretString=old_key)
    (old_version,) = sm.staged("AWSCURRENT")
    provider = AwsSecretsManagerProvider(sm.arn)

    token = sm.start()
    sm.step(token, "createSecret")
    pending = sm.raw(stage="AWSPENDING", version=token)
    # In flight, processes already accept the pending key.
    assert provider.fetch().fallbacks == [pending]
    for step in STEPS[1:]:
        sm.step(token, step)

    assert_finished(sm, token, old_version)
    new_key = sm.raw()
    assert new_key == pending
    assert parse_payload(new_key).kind == "plain"  # still a plain key, not keyring JSON
    assert new_key != old_key
    keyring = provider.fetch()
    assert (keyring.current, keyring.fallbacks) == (new_key, [old_key])


def test_plain_key_in_a_json_field_keeps_the_other_members(
    secretsmanager: Any, lambda_env: MotoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SECRET_KEYRING_FIELD", "SECRET_KEY")
    old_key = make_key()
    sm = create(
        secretsmanager, SecretString=json.dumps({"SECRET_KEY": old_key, "DATABASE": "db-url"})
    )

    sm.rotate()

    document = json.loads(sm.raw())
    assert document["DATABASE"] == "db-url"
    assert document["SECRET_KEY"] not in (old_key, "")
    keyring = AwsSecretsManagerProvider(sm.arn, field="SECRET_KEY").fetch()
    assert keyring.current == document["SECRET_KEY"]
    assert keyring.fallbacks == [old_key]


def test_keyring_json_in_a_json_field(
    secretsmanager: Any, lambda_env: MotoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SECRET_KEYRING_FIELD", "django")
    old = new_keyring()
    sm = create(
        secretsmanager, SecretString=json.dumps({"django": keyring_to_json(old), "other": 1})
    )

    sm.rotate()

    document = json.loads(sm.raw())
    assert document["other"] == 1
    assert_rule(old, sm.keyring(field="django"))


def test_secret_binary_stays_binary(secretsmanager: Any, lambda_env: MotoServer) -> None:
    old = new_keyring()
    sm = create(secretsmanager, SecretBinary=keyring_to_json(old).encode())

    sm.rotate()

    answer = sm.client.get_secret_value(SecretId=sm.arn, VersionStage="AWSCURRENT")
    assert "SecretString" not in answer
    assert_rule(old, parse_payload(answer["SecretBinary"]).to_keyring())


# -- the template's checks ---------------------------------------------------------------------


def test_rotation_not_enabled_is_refused(secretsmanager: Any, lambda_env: MotoServer) -> None:
    sm = create(secretsmanager, SecretString=keyring_to_json(new_keyring()))
    token = str(uuid.uuid4())
    sm.client.put_secret_value(
        SecretId=sm.arn,
        ClientRequestToken=token,
        SecretString=keyring_to_json(new_keyring()),
        VersionStages=["AWSPENDING"],
    )
    for step in STEPS:
        with pytest.raises(RotationError, match="rotation is not enabled"):
            sm.step(token, step)
    assert sm.stages()[token] == ["AWSPENDING"]


def test_unknown_token_is_refused(keyring_secret: SecretsManager, lambda_env: MotoServer) -> None:
    sm = keyring_secret
    sm.start()
    lambda_env.reset_counts()
    stranger = str(uuid.uuid4())
    with pytest.raises(RotationError, match="not a version of the secret"):
        sm.step(stranger, "createSecret")
    assert PUT not in lambda_env.counts()


def test_token_no_longer_pending_is_refused(
    keyring_secret: SecretsManager, lambda_env: MotoServer
) -> None:
    sm = keyring_secret
    (old_version,) = sm.staged("AWSCURRENT")
    sm.rotate()  # the old version is now AWSPREVIOUS
    with pytest.raises(RotationError, match="not staged AWSPENDING"):
        sm.step(old_version, "createSecret")


def test_already_current_is_a_no_op(keyring_secret: SecretsManager, lambda_env: MotoServer) -> None:
    sm = keyring_secret
    token = sm.rotate()
    stages, value = sm.stages(), sm.raw()
    lambda_env.reset_counts()

    for step in STEPS:
        sm.step(token, step)

    assert set(lambda_env.counts()) == {DESCRIBE}  # the checks only
    assert (sm.stages(), sm.raw()) == (stages, value)


@pytest.mark.parametrize(
    ("event", "named"),
    [
        ({}, ["SecretId", "ClientRequestToken", "Step"]),
        ({"SecretId": "x", "Step": "createSecret"}, ["ClientRequestToken"]),
        ({"SecretId": "x", "ClientRequestToken": "", "Step": None}, ["ClientRequestToken", "Step"]),
    ],
)
def test_event_missing_fields(
    lambda_env: MotoServer, event: dict[str, Any], named: list[str]
) -> None:
    with pytest.raises(RotationError) as raised:
        lambda_handler(event, None)
    message = str(raised.value)
    for name in named:
        assert name in message
    for name in {"SecretId", "ClientRequestToken", "Step"} - set(named):
        assert name not in message
    assert lambda_env.counts() == {}


def test_unknown_step(keyring_secret: SecretsManager, lambda_env: MotoServer) -> None:
    sm = keyring_secret
    token = sm.start()
    with pytest.raises(RotationError, match="unknown rotation step"):
        sm.step(token, "deleteSecret")


@pytest.mark.parametrize("value", ["abc", "-1", "19", "2.5", "1e3"])
def test_bad_max_fallbacks_setting(
    lambda_env: MotoServer, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("SECRET_KEYRING_MAX_FALLBACKS", value)
    event = {"SecretId": "x", "ClientRequestToken": "t", "Step": "createSecret"}
    with pytest.raises(ConfigurationError, match="SECRET_KEYRING_MAX_FALLBACKS"):
        lambda_handler(event, None)
    assert lambda_env.counts() == {}


def test_zero_fallbacks_refuses_a_keyring_rotation_before_writing(
    keyring_secret: SecretsManager, lambda_env: MotoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SECRET_KEYRING_MAX_FALLBACKS", "0")
    sm = keyring_secret
    token = sm.start()
    lambda_env.reset_counts()
    with pytest.raises(RotationError, match="SECRET_KEYRING_MAX_FALLBACKS"):
        sm.step(token, "createSecret")
    assert PUT not in lambda_env.counts()


def test_zero_fallbacks_is_fine_for_a_plain_key(
    secretsmanager: Any, lambda_env: MotoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SECRET_KEYRING_MAX_FALLBACKS", "0")
    sm = create(secretsmanager, SecretString=make_key())
    (old_version,) = sm.staged("AWSCURRENT")
    token = sm.rotate()
    assert_finished(sm, token, old_version)


def test_unset_options_are_not_a_key_error(
    keyring_secret: SecretsManager, lambda_env: MotoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SECRET_KEYRING_MAX_FALLBACKS", "")
    monkeypatch.setenv("SECRET_KEYRING_FIELD", "  ")
    keyring_secret.rotate()
    assert len(keyring_secret.keyring().previous) == 2


# -- rotate_secret: the commands' path ---------------------------------------------------------


def test_rotate_secret_runs_the_four_steps_locally_without_a_lambda(
    secretsmanager: Any, lambda_env: MotoServer
) -> None:
    old = new_keyring()
    sm = create(secretsmanager, SecretString=keyring_to_json(old))
    (old_version,) = sm.staged("AWSCURRENT")
    provider = AwsSecretsManagerProvider(sm.arn)

    report = rotate_secret(provider)

    assert report.written
    assert report.version is not None
    assert_finished(sm, report.version, old_version)
    new = sm.keyring()
    assert_rule(old, new)
    assert report.fingerprints == new.fingerprints
    assert ROTATE not in lambda_env.counts()


def test_rotate_source_by_name(secretsmanager: Any, lambda_env: MotoServer) -> None:
    old_key = make_key()
    name = new_name()
    secretsmanager.create_secret(Name=name, SecretString=old_key)

    # The secret is seconds old: no minimum interval here (tests/integration/
    # test_rotation_interval.py covers it).
    report = rotate_source(AwsSecretsManagerProvider(name), max_fallbacks=3, min_interval=0)

    keyring = AwsSecretsManagerProvider(name).fetch()
    assert report.fingerprints["current"] == fingerprint(keyring.current)
    assert keyring.fallbacks == [old_key]


def test_rotate_secret_asks_secrets_manager_when_a_lambda_is_configured(
    keyring_secret: SecretsManager, lambda_env: MotoServer
) -> None:
    sm = keyring_secret
    sm.rotate()  # rotation is now configured with a Lambda
    lambda_env.reset_counts()

    report = rotate_secret(AwsSecretsManagerProvider(sm.arn))

    assert report.written
    assert "RotateSecret" in report.how
    assert report.version in sm.stages()  # the request carried the report's token
    counts = lambda_env.counts()
    assert counts[ROTATE] == 1
    # The steps are the Lambda's job, not this process's. (moto, having no Lambda to run,
    # stages the token's empty version AWSCURRENT itself; real Secrets Manager invokes it.)
    assert PUT not in counts
    assert UPDATE_STAGE not in counts


def test_rotate_secret_failing_test_secret_removes_its_pending_label(
    secretsmanager: Any, lambda_env: MotoServer
) -> None:
    old = new_keyring()
    sm = create(secretsmanager, SecretString=keyring_to_json(old))
    provider = AwsSecretsManagerProvider(sm.arn)
    (old_version,) = sm.staged("AWSCURRENT")

    real_test = rotation_aws.SecretsManagerRotation.test_secret

    def failing_test(self: rotation_aws.SecretsManagerRotation) -> None:
        real_test(self)
        raise RotationError("testSecret: refused by the test", source=self.source)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(rotation_aws.SecretsManagerRotation, "test_secret", failing_test)
        with pytest.raises(RotationError, match="refused by the test"):
            rotate_secret(provider)

    assert sm.staged("AWSPENDING") == []
    assert sm.staged("AWSCURRENT") == [old_version]
    assert sm.keyring().same_keys(old)
    # A later rotation is not blocked by the failed one.
    report = rotate_secret(provider)
    assert_finished(sm, str(report.version), old_version)


def test_rotate_secret_refuses_when_awscurrent_moved_after_the_interval_check(
    secretsmanager: Any, lambda_env: MotoServer
) -> None:
    """Another rotation promotes a new value right after this run's interval check judged the
    old one (the hook runs it between this run's DescribeSecret and its first step). Rotating
    from whatever is current then would promote a ``next`` the fleet has not read: the run is
    pinned to the version it judged, reads it by id and stage (which moto, like Secrets
    Manager, refuses once the label has moved) and promotes nothing."""
    old = new_keyring()
    sm = create(secretsmanager, SecretString=keyring_to_json(old))
    provider = AwsSecretsManagerProvider(sm.arn)
    ServerClock(16 * 60).on_aws(provider)  # the judged version is old enough by then
    elsewhere = rotate_rule(old, 3)
    promoted: list[str] = []

    def promote_elsewhere(**kwargs: Any) -> None:
        if not promoted:
            answer = secretsmanager.put_secret_value(
                SecretId=sm.arn, SecretString=keyring_to_json(elsewhere)
            )
            promoted.append(answer["VersionId"])

    provider.client().meta.events.register(
        "after-call.secrets-manager.DescribeSecret", promote_elsewhere
    )

    with pytest.raises(RotationError, match="AWSCURRENT moved from version"):
        # The local clock agrees, so that the code before the pin passed this check too.
        rotate_source(provider, clock=lambda: time.time() + 16 * 60)

    assert sm.staged("AWSCURRENT") == promoted
    assert sm.staged("AWSPENDING") == []
    assert sm.keyring().same_keys(elsewhere)


def test_an_overlapping_run_that_sees_awscurrent_move_while_judging_is_skipped(
    secretsmanager: Any, lambda_env: MotoServer
) -> None:
    """Two runs overlap (a cron that fires twice, a scheduler's retry): the other one promotes
    a value between this run's read of ``AWSCURRENT`` and its DescribeSecret. This run judges
    the value now current, as it would have a moment later: seconds old, so it is skipped
    (exit 0), not a RotationError an operator is paged for."""
    old = new_keyring()
    sm = create(secretsmanager, SecretString=keyring_to_json(old))
    provider = AwsSecretsManagerProvider(sm.arn)
    elsewhere = rotate_rule(old, 3)
    promoted: list[str] = []

    def promote_elsewhere(**kwargs: Any) -> None:
        if not promoted:
            answer = secretsmanager.put_secret_value(
                SecretId=sm.arn, SecretString=keyring_to_json(elsewhere)
            )
            promoted.append(answer["VersionId"])

    provider.client().meta.events.register(
        "after-call.secrets-manager.GetSecretValue", promote_elsewhere
    )

    report = rotate_source(provider)

    assert report.skipped
    assert sm.staged("AWSCURRENT") == promoted
    assert sm.keyring().same_keys(elsewhere)


def test_finish_refuses_a_token_that_is_no_longer_pending(
    keyring_secret: SecretsManager, lambda_env: MotoServer
) -> None:
    """A local run holds its token through the four steps; meanwhile an operator cleared its
    ``AWSPENDING`` (the stuck-rotation recipe). Secrets Manager, and moto with it, moves
    ``AWSCURRENT`` to any version it is named, pending or not: ``finishSecret`` checks the label
    itself instead of counting on an error, and promotes nothing."""
    sm = keyring_secret
    (current,) = sm.staged("AWSCURRENT")
    before = sm.keyring()
    token = str(uuid.uuid4())
    rotation = SecretsManagerRotation(sm.client, sm.arn, token)
    for step in STEPS[:3]:
        rotation.run(step)
    sm.client.update_secret_version_stage(
        SecretId=sm.arn, VersionStage="AWSPENDING", RemoveFromVersionId=token
    )

    with pytest.raises(RotationError, match="no longer staged AWSPENDING"):
        rotation.run("finishSecret")

    assert sm.staged("AWSCURRENT") == [current]
    assert sm.keyring().same_keys(before)


# -- init_secret -------------------------------------------------------------------------------


def test_init_creates_a_secret_with_a_first_keyring(
    secretsmanager: Any, lambda_env: MotoServer
) -> None:
    name = new_name()
    provider = AwsSecretsManagerProvider(name)

    report = init_secret(provider)

    assert report.written
    keyring = provider.fetch()
    assert keyring.next is not None
    assert keyring.previous == ()
    assert report.fingerprints == keyring.fingerprints
    assert report.version == keyring.version


def test_init_leaves_an_existing_secret_alone(
    keyring_secret: SecretsManager, lambda_env: MotoServer
) -> None:
    sm = keyring_secret
    before = (sm.stages(), sm.raw())
    lambda_env.reset_counts()

    report = init_secret(AwsSecretsManagerProvider(sm.arn))

    assert not report.written
    assert (sm.stages(), sm.raw()) == before
    assert report.fingerprints == sm.keyring().fingerprints
    assert PUT not in lambda_env.counts()


def test_init_adopt_env_then_two_rotations_retire_the_weak_key(
    secretsmanager: Any,
    lambda_env: MotoServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    weak = make_weak_key()
    monkeypatch.setenv("OLD_SECRET_KEY", weak)
    name = new_name()
    url = f"aws-secretsmanager://{name}"

    assert main(["init", url, "--adopt-env", "OLD_SECRET_KEY"]) == 0
    provider = AwsSecretsManagerProvider(name)
    adopted = provider.fetch()
    assert (adopted.current, adopted.previous) == (weak, ())
    assert adopted.next is not None
    # Create-only: adopting another key into the existing secret is refused.
    monkeypatch.setenv("OLD_SECRET_KEY", make_weak_key())
    assert main(["init", url, "--adopt-env", "OLD_SECRET_KEY"]) == 1
    assert provider.fetch().same_keys(adopted)

    # The four steps, testSecret included, accept the adopted keyring and retire the key (the
    # rotation itself, without a minimum interval to wait out between the two).
    assert rotate_secret(AwsSecretsManagerProvider(name)).written
    first = AwsSecretsManagerProvider(name).fetch()
    assert (first.current, first.previous) == (adopted.next, (weak,))
    # The marker that lets the weak key be trusted goes with the key, not before it.
    assert adopted.adopted == first.adopted == adoption_marker(weak)
    assert rotate_secret(AwsSecretsManagerProvider(name)).written
    second = AwsSecretsManagerProvider(name).fetch()
    assert weak not in (second.current, second.next, *second.previous)
    assert second.adopted is None
    out = capsys.readouterr()
    assert_no_key_material(out.out + out.err, "CLI output")


def test_the_lambda_keeps_the_adopted_marker_one_rotation_and_drops_it_with_the_key(
    secretsmanager: Any, lambda_env: MotoServer
) -> None:
    """The rotation Lambda, driven step by step as Secrets Manager drives it: what createSecret
    writes as AWSPENDING (and testSecret accepts) keeps ``adopted`` while the weak key is in
    ``previous``; the next rotation drops both, and the stored JSON has no marker left."""
    weak = make_weak_key()
    sm = create(secretsmanager, SecretString=keyring_to_json(adopt_keyring(weak)))

    sm.rotate()
    first = json.loads(sm.raw())
    assert first["previous"] == [weak]
    assert first["adopted"] == adoption_marker(weak)
    assert json.loads(sm.raw(stage="AWSPREVIOUS"))["adopted"] == adoption_marker(weak)

    sm.rotate()
    second = json.loads(sm.raw())
    assert weak not in (second["current"], second["next"], *second["previous"])
    assert "adopted" not in second
    assert AwsSecretsManagerProvider(sm.arn).fetch().weak == ()


def test_init_leaves_an_existing_plain_key_alone(
    secretsmanager: Any, lambda_env: MotoServer
) -> None:
    key = make_key()
    sm = create(secretsmanager, SecretString=key)
    report = init_secret(AwsSecretsManagerProvider(sm.arn))
    assert not report.written
    assert sm.raw() == key


def test_init_gives_a_valueless_secret_its_first_value(
    secretsmanager: Any, lambda_env: MotoServer
) -> None:
    name = new_name()
    secretsmanager.create_secret(Name=name)
    provider = AwsSecretsManagerProvider(name)

    report = init_secret(provider)

    assert report.written
    assert provider.fetch().fingerprints == report.fingerprints


def test_init_with_a_field(secretsmanager: Any, lambda_env: MotoServer) -> None:
    name = new_name()
    provider = AwsSecretsManagerProvider(name, field="django")
    init_secret(provider)
    assert provider.fetch().next is not None
    document = secretsmanager.get_secret_value(SecretId=name, VersionStage="AWSCURRENT")
    assert list(json.loads(document["SecretString"])) == ["django"]


def test_init_racing_another_init_leaves_theirs_alone(
    secretsmanager: Any, lambda_env: MotoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = new_name()
    theirs = json.dumps({"current": make_key(), "next": make_key(), "previous": []})
    original = SecretsManagerRotation.call

    def call(self: SecretsManagerRotation, operation: str, **params: Any) -> Any:
        if operation == "create_secret":  # the other init wins between describe and create
            secretsmanager.create_secret(Name=name, SecretString=theirs)
        return original(self, operation, **params)

    monkeypatch.setattr(SecretsManagerRotation, "call", call)
    provider = AwsSecretsManagerProvider(name)

    report = init_secret(provider)

    assert not report.written
    assert "another init" in report.how
    stored = secretsmanager.get_secret_value(SecretId=name, VersionStage="AWSCURRENT")
    assert stored["SecretString"] == theirs
    assert report.fingerprints == provider.fetch().fingerprints


def test_init_of_a_missing_arn_is_refused(lambda_env: MotoServer) -> None:
    arn = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT_ID}:secret:missing/django-AbCdEf"
    with pytest.raises(RotationError, match="cannot be created by ARN"):
        init_secret(AwsSecretsManagerProvider(arn))
    assert "secretsmanager:CreateSecret" not in lambda_env.counts()


def test_a_first_keyring_rotates(secretsmanager: Any, lambda_env: MotoServer) -> None:
    name = new_name()
    provider = AwsSecretsManagerProvider(name)
    init_secret(provider)
    first = provider.fetch()

    rotate_secret(provider)

    assert_rule(first, provider.fetch())


# -- the deployment zip ------------------------------------------------------------------------

_RUN_FROM_ZIP = """
import importlib.abc, json, sys

zip_path, arn, token = sys.argv[1:4]
# The zip goes first so its copy of the package wins, whether the project is installed
# editable (src/ on the path) or as a wheel (site-packages, which must stay for boto3).
sys.path = [zip_path] + sys.path

class Forbid(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {"django", "hvac"}:
            raise ImportError(name)
        return None

sys.meta_path.insert(0, Forbid())
from secret_keyring.rotation.aws import STEPS, lambda_handler
import secret_keyring

for step in STEPS:
    lambda_handler({"SecretId": arn, "ClientRequestToken": token, "Step": step}, None)
print(json.dumps({"package": secret_keyring.__file__}))
"""


def test_the_deployment_zip_rotates_with_boto3_alone(
    keyring_secret: SecretsManager, lambda_env: MotoServer, tmp_path: Path
) -> None:
    sm = keyring_secret
    (old_version,) = sm.staged("AWSCURRENT")
    old = sm.keyring()
    zip_path = tmp_path / "rotation.zip"
    build_lambda_zip(zip_path)
    token = sm.start()
    environ = {
        **lambda_env.client_env(),
        "AWS_ENDPOINT_URL_SECRETS_MANAGER": lambda_env.endpoint_url,
        "AWS_REGION": REGION,
    }

    result = subprocess.run(
        [sys.executable, "-I", "-c", _RUN_FROM_ZIP, str(zip_path), sm.arn, token],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        env=environ,
    )

    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads(result.stdout)["package"].startswith(str(zip_path))
    assert_finished(sm, token, old_version)
    assert_rule(old, sm.keyring())
