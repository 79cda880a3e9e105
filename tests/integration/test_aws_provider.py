"""AwsSecretsManagerProvider against moto in server mode: payloads, rotation, version-aware
refresh, not-found and deleted secrets, bad payloads. Requests are counted by the server."""

from __future__ import annotations

import json
import logging
import uuid
from datetime import datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from devservers.moto import ACCOUNT_ID, REGION, MotoServer
from secret_keyring import CachedKeyring, provider_from_url
from secret_keyring.errors import (
    AccessDenied,
    ConfigurationError,
    InvalidSecret,
    SecretNotFound,
    SourceUnavailable,
    WeakSecretKey,
)
from secret_keyring.providers.aws import AwsSecretsManagerProvider
from tests.plugins.leakguard import make_key

pytestmark = pytest.mark.aws

DESCRIBE = "secretsmanager:DescribeSecret"
GET = "secretsmanager:GetSecretValue"


def new_name() -> str:
    return f"test/{uuid.uuid4().hex[:12]}/django"


def create(client: Any, name: str, **value: Any) -> str:
    """Create a secret and return its first version id."""
    return str(client.create_secret(Name=name, **value)["VersionId"])


def put(client: Any, name: str, stages: list[str], **value: Any) -> str:
    answer = client.put_secret_value(SecretId=name, VersionStages=stages, **value)
    return str(answer["VersionId"])


def promote(client: Any, name: str, new: str, old: str) -> None:
    """finishSecret's move of AWSCURRENT (moto moves AWSPREVIOUS to ``old`` itself)."""
    client.update_secret_version_stage(
        SecretId=name, VersionStage="AWSCURRENT", MoveToVersionId=new, RemoveFromVersionId=old
    )


def stages(client: Any, name: str) -> dict[str, list[str]]:
    """The labelled versions (moto also lists the ones that lost every label)."""
    described = client.describe_secret(SecretId=name)["VersionIdsToStages"]
    return {version: labels for version, labels in described.items() if labels}


LAMBDA_ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:secret-keyring-rotation"


def enable_rotation(client: Any, name: str) -> str:
    """Turn rotation on as ``RotateSecret`` does, and return the id of the placeholder version
    it stages ``AWSPENDING`` (without a value: moto cannot run the Lambda that would fill it)."""
    token = str(uuid.uuid4())
    with pytest.raises(ClientError):
        client.rotate_secret(
            SecretId=name,
            ClientRequestToken=token,
            RotationLambdaARN=LAMBDA_ARN,
            RotationRules={"AutomaticallyAfterDays": 30},
        )
    assert client.describe_secret(SecretId=name)["RotationEnabled"] is True
    return token


def created(client: Any, name: str, version: str, stage: str) -> datetime:
    answer = client.get_secret_value(SecretId=name, VersionId=version, VersionStage=stage)
    moment: datetime = answer["CreatedDate"]
    return moment


# -- payload kinds ----------------------------------------------------------------------------


def test_keyring_json_is_used_as_written_without_reading_other_versions(
    secretsmanager: Any, aws_env: MotoServer
) -> None:
    name = new_name()
    old = make_key()
    create(secretsmanager, name, SecretString=old)
    current, nxt, prev = make_key(), make_key(), make_key()
    version = put(
        secretsmanager,
        name,
        ["AWSCURRENT"],
        SecretString=json.dumps({"current": current, "next": nxt, "previous": [prev]}),
    )
    aws_env.reset_counts()

    keyring = AwsSecretsManagerProvider(name).fetch()

    assert (keyring.current, keyring.next, keyring.previous) == (current, nxt, (prev,))
    assert keyring.version == version
    assert keyring.source == f"aws-secretsmanager://{name}"
    assert old not in keyring.fallbacks  # AWSPREVIOUS is ignored for keyring JSON...
    assert aws_env.counts() == {GET: 1}  # ...and never read; a start is one round trip


def test_first_fetch_of_a_plain_key_reads_the_current_value_once(
    secretsmanager: Any, aws_env: MotoServer
) -> None:
    """The start-up read by label is kept by version id: the fallbacks need DescribeSecret,
    not a second read of AWSCURRENT."""
    name = new_name()
    k1, k2 = make_key(), make_key()
    create(secretsmanager, name, SecretString=k1)
    v2 = put(secretsmanager, name, ["AWSCURRENT"], SecretString=k2)
    aws_env.reset_counts()

    keyring = AwsSecretsManagerProvider(name).fetch()

    assert (keyring.current, keyring.fallbacks, keyring.version) == (k2, [k1], v2)
    assert aws_env.counts() == {GET: 2, DESCRIBE: 1}  # AWSCURRENT, DescribeSecret, AWSPREVIOUS
    aws_env.reset_counts()
    assert AwsSecretsManagerProvider(name, max_fallbacks=0).fetch().fallbacks == []
    assert aws_env.counts() == {GET: 1}  # no fallbacks wanted: nothing to describe


def test_plain_string(secretsmanager: Any) -> None:
    name = new_name()
    key = make_key()
    version = create(secretsmanager, name, SecretString=key)

    keyring = provider_from_url(f"aws-secretsmanager://{name}?region={REGION}").fetch()

    assert (keyring.current, keyring.fallbacks, keyring.version) == (key, [], version)


def test_json_field(secretsmanager: Any) -> None:
    name = new_name()
    key = make_key()
    create(secretsmanager, name, SecretString=json.dumps({"SECRET_KEY": key, "DB": "x"}))

    keyring = provider_from_url(f"aws-secretsmanager://{name}#SECRET_KEY").fetch()

    assert keyring.current == key
    assert keyring.source == f"aws-secretsmanager://{name}#SECRET_KEY"


def test_json_field_holding_keyring_json(secretsmanager: Any) -> None:
    name = new_name()
    current, nxt = make_key(), make_key()
    inner = json.dumps({"current": current, "next": nxt})
    create(secretsmanager, name, SecretString=json.dumps({"django": inner}))

    keyring = AwsSecretsManagerProvider(name, field="django").fetch()

    assert (keyring.current, keyring.next) == (current, nxt)


def test_secret_binary_utf8(secretsmanager: Any) -> None:
    name = new_name()
    key = make_key()
    create(secretsmanager, name, SecretBinary=key.encode())

    assert AwsSecretsManagerProvider(name).fetch().current == key


def test_secret_binary_keyring_json(secretsmanager: Any) -> None:
    name = new_name()
    current, nxt = make_key(), make_key()
    create(
        secretsmanager, name, SecretBinary=json.dumps({"current": current, "next": nxt}).encode()
    )

    keyring = AwsSecretsManagerProvider(name).fetch()

    assert (keyring.current, keyring.next) == (current, nxt)


def test_by_arn_uses_the_arns_region(secretsmanager: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    name = new_name()
    key = make_key()
    arn = secretsmanager.create_secret(Name=name, SecretString=key)["ARN"]
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")  # the ARN's region must win

    provider = provider_from_url(f"aws-secretsmanager://{arn}")

    assert provider.fetch().current == key
    assert isinstance(provider, AwsSecretsManagerProvider)
    assert provider.client().meta.region_name == REGION


# -- rotation by hand: AWSPENDING and AWSPREVIOUS ---------------------------------------------


def test_pending_and_previous_are_fallbacks_through_a_rotation(
    secretsmanager: Any, aws_env: MotoServer
) -> None:
    name = new_name()
    k1, k2, k3 = make_key(), make_key(), make_key()
    v1 = create(secretsmanager, name, SecretString=k1)
    provider = AwsSecretsManagerProvider(name)
    assert provider.fetch().fallbacks == []
    enable_rotation(secretsmanager, name)

    # createSecret: the new key is staged AWSPENDING; accepted before anyone signs with it.
    v2 = put(secretsmanager, name, ["AWSPENDING"], SecretString=k2)
    keyring = provider.fetch()
    assert (keyring.current, keyring.fallbacks, keyring.version) == (k1, [k2], v1)

    # finishSecret: AWSCURRENT moves to v2, AWSPREVIOUS to v1, AWSPENDING is still on v2.
    promote(secretsmanager, name, v2, v1)
    assert stages(secretsmanager, name) == {v1: ["AWSPREVIOUS"], v2: ["AWSPENDING", "AWSCURRENT"]}
    aws_env.reset_counts()
    keyring = provider.fetch()
    assert (keyring.current, keyring.fallbacks, keyring.version) == (k2, [k1], v2)
    assert aws_env.counts() == {DESCRIBE: 1}  # both versions were read before

    secretsmanager.update_secret_version_stage(
        SecretId=name, VersionStage="AWSPENDING", RemoveFromVersionId=v2
    )
    assert provider.fetch().fallbacks == [k1]

    # The next rotation in flight: pending first (newest), then previous.
    v3 = put(secretsmanager, name, ["AWSPENDING"], SecretString=k3)
    keyring = provider.fetch()
    assert (keyring.current, keyring.fallbacks) == (k2, [k3, k1])
    promote(secretsmanager, name, v3, v2)
    keyring = provider.fetch()
    assert (keyring.current, keyring.fallbacks, keyring.version) == (k3, [k2], v3)
    assert k1 not in keyring.fallbacks  # v1 lost its last label


def test_max_fallbacks_keeps_the_newest(secretsmanager: Any, aws_env: MotoServer) -> None:
    name = new_name()
    k1, k2, k3 = make_key(), make_key(), make_key()
    v1 = create(secretsmanager, name, SecretString=k1)
    enable_rotation(secretsmanager, name)
    v2 = put(secretsmanager, name, ["AWSPENDING"], SecretString=k2)
    promote(secretsmanager, name, v2, v1)
    put(secretsmanager, name, ["AWSPENDING"], SecretString=k3)
    aws_env.reset_counts()

    keyring = AwsSecretsManagerProvider(name, max_fallbacks=1).fetch()
    assert (keyring.current, keyring.fallbacks) == (k2, [k3])
    assert aws_env.counts()[GET] == 2  # AWSPREVIOUS was not even read

    assert AwsSecretsManagerProvider(name, max_fallbacks=0).fetch().fallbacks == []
    assert AwsSecretsManagerProvider(name).fetch().fallbacks == [k3, k1]


# -- version-aware refresh --------------------------------------------------------------------


def test_refresh_without_change_is_one_describe_and_no_get(
    secretsmanager: Any, aws_env: MotoServer
) -> None:
    name = new_name()
    k1, k2, k3 = make_key(), make_key(), make_key()
    v1 = create(secretsmanager, name, SecretString=k1)
    enable_rotation(secretsmanager, name)
    v2 = put(secretsmanager, name, ["AWSPENDING"], SecretString=k2)
    promote(secretsmanager, name, v2, v1)
    put(secretsmanager, name, ["AWSPENDING"], SecretString=k3)
    cache = CachedKeyring(AwsSecretsManagerProvider(name))
    first = cache.prime()
    assert first.fallbacks == [k3, k1]

    aws_env.reset_counts()
    again = cache.refresh()

    assert aws_env.counts() == {DESCRIBE: 1}
    assert again.same_keys(first)
    assert again.version == first.version == v2


def test_refresh_after_a_change_reads_only_the_new_version(
    secretsmanager: Any, aws_env: MotoServer
) -> None:
    name = new_name()
    k1, k2 = make_key(), make_key()
    create(secretsmanager, name, SecretString=k1)
    cache = CachedKeyring(AwsSecretsManagerProvider(name))
    assert cache.prime().current == k1
    seen: list[str] = []
    cache.add_listener(lambda keyring: seen.append(keyring.current))

    # A plain put moves AWSCURRENT to the new version and AWSPREVIOUS to the old one.
    v2 = put(secretsmanager, name, ["AWSCURRENT"], SecretString=k2)
    aws_env.reset_counts()
    keyring = cache.refresh()

    assert (keyring.current, keyring.fallbacks, keyring.version) == (k2, [k1], v2)
    assert aws_env.counts() == {DESCRIBE: 1, GET: 1}  # the old version was already known
    assert seen == [k2]


def test_a_rotation_between_describe_and_get_is_read_again(
    secretsmanager: Any, aws_env: MotoServer
) -> None:
    name = new_name()
    create(secretsmanager, name, SecretString=make_key())
    provider = AwsSecretsManagerProvider(name)
    provider.fetch()  # the start-up read; refreshes describe first
    key = make_key()
    put(secretsmanager, name, ["AWSCURRENT"], SecretString=key)
    aws_env.reset_counts()
    # What Secrets Manager answers when the label moved after DescribeSecret.
    aws_env.fail_next(
        GET,
        status=400,
        code="InvalidRequestException",
        message="You provided a VersionStage that is not associated to the provided VersionId.",
    )

    assert provider.fetch().current == key
    assert aws_env.counts() == {DESCRIBE: 2, GET: 2}


# -- not found, deleted, no value -------------------------------------------------------------


def test_not_found(aws_env: MotoServer) -> None:
    provider = AwsSecretsManagerProvider("test/does-not-exist")

    with pytest.raises(SecretNotFound) as caught:
        CachedKeyring(provider).prime(timeout=5)

    message = str(caught.value)
    assert "aws-secretsmanager://test/does-not-exist" in message
    assert f"region {REGION}" in message
    assert not caught.value.retryable
    assert caught.value.__cause__ is not None  # raised from the boto3 error
    # Not retried (it will not appear by itself); DescribeSecret after the start-up read tells
    # "no such secret" from "no AWSCURRENT version".
    assert aws_env.counts() == {GET: 1, DESCRIBE: 1}


def test_secret_scheduled_for_deletion(secretsmanager: Any, aws_env: MotoServer) -> None:
    name = new_name()
    create(secretsmanager, name, SecretString=make_key())
    provider = AwsSecretsManagerProvider(name)
    provider.fetch()
    secretsmanager.delete_secret(SecretId=name, RecoveryWindowInDays=7)

    with pytest.raises(SecretNotFound, match="scheduled for deletion") as caught:
        provider.fetch()
    assert name in str(caught.value)
    assert "restore-secret" in str(caught.value)

    secretsmanager.restore_secret(SecretId=name)
    provider.fetch()


def test_secret_scheduled_for_deletion_at_start_up(secretsmanager: Any) -> None:
    """The start-up read meets GetSecretValue's own refusal (InvalidRequestException, "marked
    for deletion"), not DescribeSecret's DeletedDate: the same error and fix either way."""
    name = new_name()
    create(secretsmanager, name, SecretString=make_key())
    secretsmanager.delete_secret(SecretId=name, RecoveryWindowInDays=7)

    with pytest.raises(SecretNotFound, match="scheduled for deletion") as caught:
        AwsSecretsManagerProvider(name).fetch()
    assert "restore-secret" in str(caught.value)


def test_deleted_without_recovery_is_not_found(secretsmanager: Any) -> None:
    name = new_name()
    create(secretsmanager, name, SecretString=make_key())
    secretsmanager.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)

    with pytest.raises(SecretNotFound, match=name):
        AwsSecretsManagerProvider(name).fetch()


def test_secret_without_a_value(secretsmanager: Any) -> None:
    name = new_name()
    secretsmanager.create_secret(Name=name)

    with pytest.raises(SecretNotFound, match="no AWSCURRENT version"):
        AwsSecretsManagerProvider(name).fetch()


def test_missing_field(secretsmanager: Any) -> None:
    name = new_name()
    create(secretsmanager, name, SecretString=json.dumps({"OTHER": make_key()}))

    with pytest.raises(SecretNotFound, match="SECRET_KEY") as caught:
        AwsSecretsManagerProvider(name, field="SECRET_KEY").fetch()
    assert name in str(caught.value)


# -- bad payloads -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "error", "says"),
    [
        pytest.param(
            {"SecretBinary": b"\xff\xfe" + b"k" * 60}, InvalidSecret, "UTF-8", id="binary"
        ),
        pytest.param({"SecretString": "short"}, WeakSecretKey, "at least 50", id="weak"),
        pytest.param(
            {"SecretString": "django-insecure-" + "x1y2z3" * 10},
            WeakSecretKey,
            "django-insecure-",
            id="insecure-prefix",
        ),
        pytest.param({"SecretString": "   "}, InvalidSecret, "empty", id="blank"),
        # Not a JSON object, so a plain key (and a weak one).
        pytest.param({"SecretString": "[1, 2]"}, WeakSecretKey, "at least 50", id="json-list"),
        pytest.param(
            {"SecretString": '{"current": "a", "current": "b"}'},
            InvalidSecret,
            "more than once",
            id="duplicate-name",
        ),
    ],
)
def test_bad_payloads(
    secretsmanager: Any, value: dict[str, Any], error: type[Exception], says: str
) -> None:
    name = new_name()
    create(secretsmanager, name, **value)

    with pytest.raises(error, match=says) as caught:
        AwsSecretsManagerProvider(name).fetch()
    assert f"aws-secretsmanager://{name}" in str(caught.value)


def test_malformed_json_does_not_echo_the_key(secretsmanager: Any) -> None:
    name = new_name()
    key = make_key()  # the leak guard fails the test if this shows up anywhere
    create(secretsmanager, name, SecretString='{"current": "' + key + '",')

    with pytest.raises(InvalidSecret, match="does not parse") as caught:
        AwsSecretsManagerProvider(name).fetch()
    assert key not in str(caught.value)


def test_unusable_previous_version_is_left_out_once(
    secretsmanager: Any, aws_env: MotoServer, caplog: pytest.LogCaptureFixture
) -> None:
    name = new_name()
    good = make_key()
    create(secretsmanager, name, SecretString="too short to be a key")
    v2 = put(secretsmanager, name, ["AWSCURRENT"], SecretString=good)
    provider = AwsSecretsManagerProvider(name)

    with caplog.at_level(logging.WARNING, logger="secret_keyring"):
        keyring = provider.fetch()
    assert (keyring.current, keyring.fallbacks, keyring.version) == (good, [], v2)
    warnings = [r for r in caplog.records if "AWSPREVIOUS" in r.getMessage()]
    assert len(warnings) == 1
    assert name in warnings[0].getMessage()

    aws_env.reset_counts()
    provider.fetch()
    assert aws_env.counts() == {DESCRIBE: 1}  # the verdict is cached with the version


def test_bad_current_is_fatal_even_with_a_good_previous(secretsmanager: Any) -> None:
    name = new_name()
    create(secretsmanager, name, SecretString=make_key())
    put(secretsmanager, name, ["AWSCURRENT"], SecretString="not a key")

    with pytest.raises(WeakSecretKey):
        AwsSecretsManagerProvider(name).fetch()


# -- what is remembered about a fallback version ------------------------------------------------


@pytest.mark.parametrize(
    ("code", "error", "says"),
    [
        pytest.param("ExpiredTokenException", AccessDenied, "expired", id="expired-credentials"),
        pytest.param("InvalidSignatureException", AccessDenied, "clock", id="clock-skew"),
        pytest.param("UnrecognizedClientException", AccessDenied, "access key", id="unknown-key"),
        pytest.param("ThrottlingException", SourceUnavailable, "throttling", id="throttled"),
    ],
)
def test_a_transient_error_on_a_fallback_is_not_remembered(
    secretsmanager: Any, aws_env: MotoServer, code: str, error: type[Exception], says: str
) -> None:
    """Credentials that expired or a skewed clock say nothing about the version: the refresh
    fails (the last good keyring stays in use), and the next one reads the version again."""
    name = new_name()
    k1, k2 = make_key(), make_key()
    create(secretsmanager, name, SecretString=k1)
    provider = AwsSecretsManagerProvider(name, max_attempts=1)
    provider.fetch()  # AWSCURRENT read and kept
    enable_rotation(secretsmanager, name)
    v2 = put(secretsmanager, name, ["AWSPENDING"], SecretString=k2)
    aws_env.fail_next(GET, status=400, code=code, message="injected")

    with pytest.raises(error, match=says):
        provider.fetch()

    aws_env.reset_counts()
    keyring = provider.fetch()
    assert keyring.fallbacks == [k2]
    assert aws_env.counts() == {DESCRIBE: 1, GET: 1}  # read again: nothing was remembered
    assert stages(secretsmanager, name)[v2] == ["AWSPENDING"]


def test_a_denied_fallback_is_remembered_until_its_labels_change(
    secretsmanager: Any, aws_env: MotoServer, caplog: pytest.LogCaptureFixture
) -> None:
    """An IAM denial (a policy conditioned on secretsmanager:VersionStage) is a verdict on the
    version: left out with one warning, and not asked again while its labels stay."""
    name = new_name()
    k1, k2 = make_key(), make_key()
    create(secretsmanager, name, SecretString=k1)
    provider = AwsSecretsManagerProvider(name, max_attempts=1)
    provider.fetch()
    enable_rotation(secretsmanager, name)
    put(secretsmanager, name, ["AWSPENDING"], SecretString=k2)
    aws_env.fail_next(GET, status=400, code="AccessDeniedException", message="not for AWSPENDING")

    with caplog.at_level(logging.WARNING, logger="secret_keyring"):
        assert provider.fetch().fallbacks == []
        aws_env.reset_counts()
        assert provider.fetch().fallbacks == []
    assert aws_env.counts() == {DESCRIBE: 1}
    assert len([r for r in caplog.records if "cannot be used as a fallback" in r.getMessage()]) == 1


def test_an_empty_placeholder_costs_no_read_per_refresh(
    secretsmanager: Any, aws_env: MotoServer
) -> None:
    """RotateSecret stages AWSPENDING on a version with no value until createSecret fills it;
    "no value" is remembered for that version id instead of asked on every refresh."""
    name = new_name()
    k1 = make_key()
    create(secretsmanager, name, SecretString=k1)
    provider = AwsSecretsManagerProvider(name)
    provider.fetch()
    placeholder = enable_rotation(secretsmanager, name)
    assert stages(secretsmanager, name)[placeholder] == ["AWSPENDING"]

    aws_env.reset_counts()
    assert provider.fetch().fallbacks == []
    assert aws_env.counts() == {DESCRIBE: 1, GET: 1}  # asked once: no value

    aws_env.reset_counts()
    for _ in range(3):
        assert provider.fetch().fallbacks == []
    assert aws_env.counts() == {DESCRIBE: 3}


# -- the pending trust window ---------------------------------------------------------------------


def test_pending_is_not_trusted_while_rotation_is_disabled(
    secretsmanager: Any, aws_env: MotoServer, caplog: pytest.LogCaptureFixture
) -> None:
    """An AWSPENDING label with rotation off (set by hand, or left by cancel-rotate-secret) will
    never be promoted: left out without even being read, one warning, shown in status()."""
    name = new_name()
    k1, k2 = make_key(), make_key()
    create(secretsmanager, name, SecretString=k1)
    v2 = put(secretsmanager, name, ["AWSPENDING"], SecretString=k2)
    cache = CachedKeyring(AwsSecretsManagerProvider(name))

    with caplog.at_level(logging.WARNING, logger="secret_keyring"):
        aws_env.reset_counts()
        assert cache.prime().fallbacks == []
        assert aws_env.counts() == {DESCRIBE: 1, GET: 1}  # AWSCURRENT only
        cache.refresh()
    warnings = [
        r.getMessage()
        for r in caplog.records
        if r.name == "secret_keyring.providers.aws.secrets_manager" and r.levelno == logging.WARNING
    ]
    assert len(warnings) == 1
    assert v2 in warnings[0]
    assert "rotation is not enabled" in warnings[0]
    ignored = cache.status()["provider"]["ignored_pending"]
    assert ignored["version"] == v2
    assert "rotation is not enabled" in ignored["reason"]

    enable_rotation(secretsmanager, name)  # a rotation in flight again: accepted
    put(secretsmanager, name, ["AWSPENDING"], SecretString=k2)
    assert cache.refresh().fallbacks == [k2]
    assert cache.status()["provider"] == {}


def test_pending_older_than_pending_max_age_is_left_out(
    secretsmanager: Any, aws_env: MotoServer, caplog: pytest.LogCaptureFixture
) -> None:
    """A rotation that Secrets Manager stopped retrying leaves AWSPENDING behind with rotation
    still enabled: trusted for pending_max_age after the version was created, then not."""
    name = new_name()
    k1, k2 = make_key(), make_key()
    create(secretsmanager, name, SecretString=k1)
    enable_rotation(secretsmanager, name)
    v2 = put(secretsmanager, name, ["AWSPENDING"], SecretString=k2)
    made = created(secretsmanager, name, v2, "AWSPENDING")
    now = [made + timedelta(hours=1)]
    provider = AwsSecretsManagerProvider(name, pending_max_age=6 * 3600, clock=lambda: now[0])
    cache = CachedKeyring(provider)
    assert cache.prime().fallbacks == [k2]

    now[0] = made + timedelta(hours=6, seconds=1)
    with caplog.at_level(logging.WARNING, logger="secret_keyring"):
        aws_env.reset_counts()
        assert cache.refresh().fallbacks == []
        now[0] += timedelta(hours=1)
        assert cache.refresh().fallbacks == []
    assert aws_env.counts() == {DESCRIBE: 2}  # judged from the date read with the value
    warnings = [
        r.getMessage()
        for r in caplog.records
        if r.name == "secret_keyring.providers.aws.secrets_manager" and r.levelno == logging.WARNING
    ]
    assert len(warnings) == 1, warnings
    assert "pending_max_age" in warnings[0]
    assert cache.status()["provider"]["ignored_pending"]["version"] == v2


@pytest.mark.parametrize("value", [-1, float("nan"), float("inf"), True, "86400"])
def test_pending_max_age_must_be_seconds(value: Any) -> None:
    with pytest.raises(ConfigurationError, match="pending_max_age"):
        AwsSecretsManagerProvider("test/x", region=REGION, pending_max_age=value)
