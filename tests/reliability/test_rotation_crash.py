"""Rotation crash safety: the rotation runs in a subprocess that is killed with SIGKILL at each
point of the protocol (:mod:`tests.reliability.crash_harness`), then restarted.

After the kill and again after the restart:

* Secrets Manager: exactly one version is ``AWSCURRENT``; after the restart the rotation is
  finished (``AWSPENDING`` is on no version, ``AWSPREVIOUS`` holds the old value);
* Vault: every KV version is a whole keyring and each follows the rotation rule from the one
  before (check-and-set writes are atomic: there is no half-written version);
* every consumer still verifies what was signed before the rotation: one that reads the secret
  now, and one still holding the keyring from before (it accepts the new signing key, which was
  its ``next``).

Restarting means what the platform does: Secrets Manager invokes the failed step again with the
same token and goes on with the next ones; a person or a scheduler runs ``secret-keyring rotate``
again. The restart runs in this process.

``inflight`` points kill the process while its write is on the wire: a proxy lets the request
reach the server and drops the answer, and the process is killed once the server has acted on it.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from django.core.signing import Signer

from devservers.moto import ACCOUNT_ID, REGION, MotoServer
from devservers.openbao import BaoServer
from secret_keyring import Keyring
from secret_keyring.payload import keyring_to_json, parse_mapping, parse_payload
from secret_keyring.providers.aws import AwsSecretsManagerProvider
from secret_keyring.providers.vault import VaultProvider
from secret_keyring.rotation import aws as rotation_aws
from secret_keyring.rotation.aws import STEPS, lambda_handler
from secret_keyring.rotation.run import rotate_source
from tests.plugins.leakguard import assert_no_key_material, make_key
from tests.reliability.proxy import FaultProxy

HARNESS = Path(__file__).with_name("crash_harness.py")
ROOT = Path(__file__).resolve().parents[2]
LAMBDA_ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:secret-keyring-rotation"
SALT = "crash-test"
ACT_DEADLINE = 30.0

# Every write of the four steps, before it, on the wire, and after it; and each step boundary.
# finishSecret writes twice: it moves AWSCURRENT, then takes AWSPENDING off the new version.
AWS_POINTS = [
    "before:put_secret_value#1",
    "inflight:put_secret_value#1",
    "after:put_secret_value#1",
    "after-step:createSecret",
    "after-step:setSecret",
    "after-step:testSecret",
    "before:update_secret_version_stage#1",
    "inflight:update_secret_version_stage#1",
    "after:update_secret_version_stage#1",
    "before:update_secret_version_stage#2",
    "after:update_secret_version_stage#2",
]
VAULT_POINTS = ["before:read#1", "before:write#1", "inflight:write#1", "after:write#1"]


def sign(keyring: Keyring, value: str) -> str:
    return Signer(key=keyring.current, fallback_keys=keyring.fallbacks, salt=SALT).sign(value)


def verifies(keyring: Keyring, signed: str) -> bool:
    signer = Signer(key=keyring.current, fallback_keys=keyring.fallbacks, salt=SALT)
    return signer.unsign(signed) == "signed before the rotation"


def old_keyring() -> Keyring:
    return Keyring(current=make_key(), next=make_key(), previous=(make_key(),))


def run_harness(
    plan: dict[str, Any], env: dict[str, str], *, inflight: Callable[[], None] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the harness; for an ``inflight`` point, ``inflight()`` runs while the write is on
    the wire (it must return once the server has acted), then the process is killed."""
    process = subprocess.Popen(
        [sys.executable, str(HARNESS)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **env, "CRASH_PLAN": json.dumps(plan)},
        cwd=ROOT,
    )
    try:
        if plan["point"].startswith("inflight:"):
            assert inflight is not None
            assert process.stdout is not None
            assert process.stdin is not None
            line = process.stdout.readline()
            assert line.startswith("INFLIGHT"), line + (
                process.stderr.read() if process.stderr else ""
            )
            process.stdin.write("go\n")
            process.stdin.flush()
            inflight()
            process.send_signal(signal.SIGKILL)
        out, err = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == -signal.SIGKILL, (
        f"the harness was not killed at {plan['point']} (exit {process.returncode}):\n{err[-3000:]}"
    )
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


def poll(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + ACT_DEADLINE
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)  # bounded poll of another process's effect


# -- Secrets Manager ---------------------------------------------------------------------------


class Secret:
    """One Secrets Manager secret holding keyring JSON, seen through an admin client."""

    def __init__(self, client: Any, keyring: Keyring, *, with_lambda: bool) -> None:
        self.client = client
        self.name = f"test/{uuid.uuid4().hex[:12]}/django"
        answer = client.create_secret(Name=self.name, SecretString=keyring_to_json(keyring))
        self.arn = str(answer["ARN"])
        self.first_version = str(answer["VersionId"])
        self.token = ""
        if with_lambda:
            self.token = str(uuid.uuid4())
            # moto stages the token's AWSPENDING placeholder and turns rotation on, then fails
            # to find the Lambda: the harness plays the Lambda.
            with pytest.raises(ClientError, match="ResourceNotFoundException"):
                client.rotate_secret(
                    SecretId=self.arn,
                    ClientRequestToken=self.token,
                    RotationLambdaARN=LAMBDA_ARN,
                    RotationRules={"AutomaticallyAfterDays": 30},
                )

    def stages(self) -> dict[str, list[str]]:
        described = self.client.describe_secret(SecretId=self.arn)
        return {v: sorted(s) for v, s in described.get("VersionIdsToStages", {}).items()}

    def staged(self, stage: str) -> list[str]:
        return [version for version, labels in self.stages().items() if stage in labels]

    def keyring(self, version: str | None = None) -> Keyring:
        params = {"SecretId": self.arn, "VersionStage": "AWSCURRENT"}
        if version is not None:
            params = {"SecretId": self.arn, "VersionId": version}
        raw = self.client.get_secret_value(**params)["SecretString"]
        return parse_payload(raw).to_keyring()

    def versions(self) -> int:
        return len(self.stages())


def assert_consistent(secret: Secret, stale: Keyring, signed: str, endpoint: str) -> Keyring:
    """Exactly one AWSCURRENT; a consumer reading now verifies what was signed before the
    rotation, and one still holding ``stale`` (one rotation behind, at most one TTL old)
    verifies what the current key signs now."""
    current = secret.staged("AWSCURRENT")
    assert len(current) == 1, secret.stages()
    reader = AwsSecretsManagerProvider(secret.arn, endpoint_url=endpoint, max_attempts=1)
    keyring = reader.fetch()
    assert verifies(keyring, signed), "a fresh consumer rejects a signature made before"
    new_signature = Signer(key=keyring.current, salt=SALT).sign("signed before the rotation")
    assert verifies(stale, new_signature), "a consumer one rotation behind rejects the new key"
    return keyring


def crashed_step(point: str) -> str:
    when, _, target = point.partition(":")
    if when == "after-step":
        return target  # it finished but never reported success: Secrets Manager retries it
    return "createSecret" if target.startswith("put_secret_value") else "finishSecret"


@pytest.fixture
def lambda_env(
    aws_env: MotoServer, monkeypatch: pytest.MonkeyPatch
) -> MotoServer:  # the restart runs the handler in this process
    monkeypatch.setattr(rotation_aws, "_client", None)
    monkeypatch.setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", aws_env.endpoint_url)
    monkeypatch.setenv("AWS_REGION", REGION)
    for name in ("SECRET_KEYRING_MAX_FALLBACKS", "SECRET_KEYRING_FIELD"):
        monkeypatch.delenv(name, raising=False)
    return aws_env


def drop_answers_until_applied(secret: Secret, point: str, proxy: FaultProxy) -> Callable[[], None]:
    """For an ``inflight`` point: let the write through, drop its answer, return once applied."""
    versions, stages = secret.versions(), secret.stages()

    def wait() -> None:
        proxy.set_mode("swallow")
        if "put_secret_value" in point:
            poll(lambda: _has_value(secret) or secret.versions() > versions, "the pending value")
        else:
            poll(lambda: secret.stages() != stages, "the stage move")

    return wait


def _has_value(secret: Secret) -> bool:
    if not secret.token:
        return False
    try:
        secret.client.get_secret_value(SecretId=secret.arn, VersionId=secret.token)
    except ClientError:
        return False
    return True


@pytest.mark.parametrize("point", AWS_POINTS)
def test_secrets_manager_lambda_killed_at(
    point: str,
    secretsmanager: Any,
    lambda_env: MotoServer,
    make_proxy: Callable[..., FaultProxy],
) -> None:
    old = old_keyring()
    secret = Secret(secretsmanager, old, with_lambda=True)
    signed = sign(old, "signed before the rotation")
    proxy = make_proxy(lambda_env.port)
    env = {"AWS_ENDPOINT_URL_SECRETS_MANAGER": proxy.url, "AWS_REGION": REGION}
    plan = {"mode": "aws-lambda", "point": point, "secret": secret.arn, "token": secret.token}

    result = run_harness(plan, env, inflight=drop_answers_until_applied(secret, point, proxy))
    assert_no_key_material(result.stdout + result.stderr, "the rotation's output")
    assert_consistent(secret, old, signed, lambda_env.endpoint_url)

    # Secrets Manager retries the failed step with the same token, then runs the rest.
    remaining = STEPS[STEPS.index(crashed_step(point)) :]
    for step in remaining:
        lambda_handler(
            {"SecretId": secret.arn, "ClientRequestToken": secret.token, "Step": step}, None
        )

    new = assert_consistent(secret, old, signed, lambda_env.endpoint_url)
    assert secret.stages()[secret.token] == ["AWSCURRENT"]
    assert secret.stages()[secret.first_version] == ["AWSPREVIOUS"]
    assert secret.staged("AWSPENDING") == []
    assert new.current == old.next  # rotated exactly once
    assert new.previous[0] == old.current


@pytest.mark.parametrize("point", AWS_POINTS)
def test_secrets_manager_cli_rotation_killed_at(
    point: str,
    secretsmanager: Any,
    aws_env: MotoServer,
    make_proxy: Callable[..., FaultProxy],
) -> None:
    old = old_keyring()
    secret = Secret(secretsmanager, old, with_lambda=False)
    signed = sign(old, "signed before the rotation")
    proxy = make_proxy(aws_env.port)
    url = f"aws-secretsmanager://{secret.name}?region={REGION}&endpoint_url={proxy.url}"

    acted = drop_answers_until_applied(secret, point, proxy)
    result = run_harness({"mode": "aws-cli", "point": point, "url": url}, {}, inflight=acted)
    assert_no_key_material(result.stdout + result.stderr, "the rotation's output")
    first = assert_consistent(secret, old, signed, aws_env.endpoint_url)

    # Run `secret-keyring rotate` again: a new token, a whole new rotation on top (forced: the
    # secret is seconds old, which the minimum interval would otherwise refuse).
    proxy.restore()
    provider = AwsSecretsManagerProvider(secret.name, region=REGION, endpoint_url=proxy.url)
    rotate_source(provider, max_fallbacks=3, force=True)

    new = assert_consistent(secret, first, signed, aws_env.endpoint_url)
    stages = secret.stages()
    assert [labels for labels in stages.values() if "AWSCURRENT" in labels] == [["AWSCURRENT"]]
    assert secret.staged("AWSPENDING") == []
    assert new.current == first.next  # the restart rotated once more, from what it found
    assert old.current in new.previous


# -- Vault ---------------------------------------------------------------------------------------


def kv_history(server: BaoServer, path: str) -> list[Keyring]:
    client = server.client()
    metadata = client.secrets.kv.v2.read_secret_metadata(path)["data"]
    history = []
    for number in range(1, int(metadata["current_version"]) + 1):
        data = client.secrets.kv.v2.read_secret_version(
            path, version=number, raise_on_deleted_version=True
        )
        history.append(parse_mapping(data["data"]["data"]).to_keyring())
    return history


def assert_rule_holds(history: list[Keyring]) -> None:
    for older, newer in itertools.pairwise(history):
        assert newer.current == older.next
        assert newer.previous[0] == older.current


@pytest.mark.parametrize("point", VAULT_POINTS)
def test_vault_rotation_killed_at(
    point: str, openbao: BaoServer, make_proxy: Callable[..., FaultProxy], tmp_path: Path
) -> None:
    old = old_keyring()
    path = openbao.new_path()
    openbao.write(path, json.loads(keyring_to_json(old)))
    signed = sign(old, "signed before the rotation")
    proxy = make_proxy(openbao.port)
    env = {"VAULT_ADDR": proxy.url, "VAULT_TOKEN": openbao.root_token, "HOME": str(tmp_path)}

    def acted() -> None:
        proxy.set_mode("swallow")
        poll(lambda: len(kv_history(openbao, path)) == 2, "the check-and-set write")

    run_harness(
        {"mode": "vault-cli", "point": point, "url": f"vault://secret/{path}"}, env, inflight=acted
    )
    wrote = point in ("inflight:write#1", "after:write#1")
    history = kv_history(openbao, path)
    assert len(history) == (2 if wrote else 1)
    assert_rule_holds(history)

    proxy.restore()
    reader = VaultProvider(
        "secret", path, environ={"VAULT_ADDR": openbao.addr, "VAULT_TOKEN": openbao.root_token}
    )
    assert verifies(reader.fetch(), signed)
    # With the default minimum interval a restart leaves a keyring this young alone, whether
    # the killed run wrote it or the test did a moment ago (test_rotation_retry.py shows the
    # retry after a landed write); forced, it rotates from what it finds.
    restarted = VaultProvider("secret", path, environ=env)
    assert rotate_source(restarted, max_fallbacks=3).skipped
    assert len(kv_history(openbao, path)) == (2 if wrote else 1)
    rotate_source(restarted, max_fallbacks=3, force=True)

    history = kv_history(openbao, path)
    assert len(history) == (3 if wrote else 2)  # the restart added exactly one version
    assert_rule_holds(history)
    final = reader.fetch()
    assert final.same_keys(history[-1])
    assert verifies(final, signed)
    # A consumer one rotation behind accepts what the new current key signs.
    new_signature = Signer(key=final.current, salt=SALT).sign("signed before the rotation")
    assert verifies(history[-2], new_signature)
