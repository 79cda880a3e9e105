"""The AWS provider without a server: import hygiene, options, client configuration, the
botocore log redaction and the fork hook."""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap
from pathlib import Path

import boto3
import pytest

from secret_keyring import provider_from_url
from secret_keyring.errors import ConfigurationError
from secret_keyring.providers.aws import (
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_MAX_ATTEMPTS,
    DEFAULT_READ_TIMEOUT,
    AwsSecretsManagerProvider,
    build_client,
)
from tests.plugins.leakguard import assert_no_key_material, make_key

ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/myapp-AbCdEf"


pytestmark = pytest.mark.usefixtures("no_ambient_aws")


def run_python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


# -- imports ----------------------------------------------------------------------------------


def test_importing_the_package_and_providers_imports_no_aws_sdk() -> None:
    result = run_python(
        """
        import sys
        import secret_keyring, secret_keyring.providers, secret_keyring.providers.aws
        loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("boto3", "botocore"))
        print(loaded)
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_a_client_imports_botocore_only() -> None:
    """boto3's resource layer and s3transfer cost a start-up and serve no Secrets Manager call."""
    result = run_python(
        """
        import sys
        from secret_keyring.providers.aws import build_client
        client = build_client(region="eu-west-1")
        print(type(client).__name__, sorted(
            m for m in ("boto3", "s3transfer") if m in sys.modules
        ))
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split(" ", 1) == ["SecretsManager", "[]\n"]


def test_without_boto3_the_error_names_the_extra() -> None:
    result = run_python(
        """
        import sys
        sys.modules["boto3"] = None  # as if not installed
        from secret_keyring.providers import AwsSecretsManagerProvider
        try:
            AwsSecretsManagerProvider("prod/myapp")
        except ImportError as exc:
            print(exc)
        """
    )
    assert result.returncode == 0, result.stderr
    assert "pip install 'django-secret-keyring[aws]'" in result.stdout


# -- options ----------------------------------------------------------------------------------


def test_url_options_reach_the_provider() -> None:
    provider = provider_from_url(
        "aws-secretsmanager://prod/myapp/django?region=eu-west-1&profile=web"
        "&role_arn=arn:aws:iam::123456789012:role/app"
        "&endpoint_url=https://vpce-1.secretsmanager.eu-west-1.vpce.amazonaws.com#SECRET_KEY",
        max_fallbacks=2,
    )

    assert isinstance(provider, AwsSecretsManagerProvider)
    assert provider.secret_id == "prod/myapp/django"
    assert provider.field == "SECRET_KEY"
    assert provider.region == "eu-west-1"
    assert provider.profile == "web"
    assert provider.role_arn == "arn:aws:iam::123456789012:role/app"
    assert provider.endpoint_url == "https://vpce-1.secretsmanager.eu-west-1.vpce.amazonaws.com"
    assert provider.max_fallbacks == 2
    # Messages and status show the URL as it was written (redacted), options included.
    assert provider.source == (
        "aws-secretsmanager://prod/myapp/django?region=eu-west-1&profile=web"
        "&role_arn=arn:aws:iam::123456789012:role/app"
        "&endpoint_url=https://vpce-1.secretsmanager.eu-west-1.vpce.amazonaws.com#SECRET_KEY"
    )


def test_names_with_every_allowed_character() -> None:
    provider = provider_from_url("aws-secretsmanager://a/b+c=d.e@f-g_h")

    assert isinstance(provider, AwsSecretsManagerProvider)
    assert provider.secret_id == "a/b+c=d.e@f-g_h"


def test_arn_gives_the_region() -> None:
    provider = AwsSecretsManagerProvider(ARN, field="SECRET_KEY")

    assert provider.region == "eu-west-1"
    assert provider.client().meta.region_name == "eu-west-1"


def test_region_contradicting_the_arn_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="contradicts the ARN's region eu-west-1"):
        AwsSecretsManagerProvider(ARN, region="us-east-1")


@pytest.mark.parametrize(
    ("options", "says"),
    [
        ({"max_fallbacks": -1}, "max_fallbacks"),
        ({"max_fallbacks": 20}, "max_fallbacks"),
        ({"max_fallbacks": True}, "max_fallbacks"),
        ({"connect_timeout": 0}, "connect_timeout"),
        ({"read_timeout": 1000}, "read_timeout"),
        ({"max_attempts": 0}, "max_attempts"),
        ({"endpoint_url": "secretsmanager.eu-west-1.amazonaws.com"}, "http(s) URL"),
        ({"endpoint_url": "https://user:pw@example.com"}, "credentials"),
        ({"role_session_name": "x"}, "role_session_name"),
    ],
)
def test_bad_options(options: dict[str, object], says: str) -> None:
    with pytest.raises(ConfigurationError, match=says.replace("(", r"\(").replace(")", r"\)")):
        AwsSecretsManagerProvider("prod/myapp", **options)  # type: ignore[arg-type]


def test_bad_role_session_name() -> None:
    with pytest.raises(ConfigurationError, match="role_session_name"):
        build_client(region="eu-west-1", role_session_name="has space")


def test_session_and_profile_together_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="either a boto3 session or a profile"):
        build_client(session=boto3.session.Session(region_name="eu-west-1"), profile="x")


# -- client configuration ---------------------------------------------------------------------


def test_client_defaults() -> None:
    client = build_client(region="eu-west-1")
    config = client.meta.config

    assert client.meta.region_name == "eu-west-1"
    assert (config.connect_timeout, config.read_timeout) == (
        DEFAULT_CONNECT_TIMEOUT,
        DEFAULT_READ_TIMEOUT,
    )
    assert config.retries == {"mode": "standard", "total_max_attempts": DEFAULT_MAX_ATTEMPTS}
    assert "django-secret-keyring" in (config.user_agent_extra or "")
    assert client.meta.endpoint_url == "https://secretsmanager.eu-west-1.amazonaws.com"


def test_region_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_REGION", "ap-southeast-2")

    assert build_client().meta.region_name == "ap-southeast-2"


def test_no_region_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="no AWS region"):
        AwsSecretsManagerProvider("prod/myapp").client()


def test_retry_settings_from_the_environment_win(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_RETRY_MODE", "adaptive")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "7")

    assert build_client(region="eu-west-1").meta.config.retries == {
        "mode": "adaptive",
        "total_max_attempts": 7,
    }


def test_explicit_max_attempts_wins_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "7")

    retries = build_client(region="eu-west-1", max_attempts=2).meta.config.retries
    assert retries == {"mode": "standard", "total_max_attempts": 2}


def test_profile_settings(tmp_path: Path) -> None:
    (tmp_path / "config").write_text(
        "[profile web]\nregion = eu-central-1\nretry_mode = legacy\nmax_attempts = 5\n",
        encoding="utf-8",
    )

    client = AwsSecretsManagerProvider("prod/myapp", profile="web").client()

    assert client.meta.region_name == "eu-central-1"
    assert client.meta.config.retries == {"mode": "legacy", "total_max_attempts": 5}


def test_unknown_profile_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="profile 'missing'"):
        AwsSecretsManagerProvider("prod/myapp", profile="missing").client()


def test_endpoint_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", "https://sm.internal.example")

    assert build_client(region="eu-west-1").meta.endpoint_url == "https://sm.internal.example"


def test_explicit_endpoint_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", "https://sm.internal.example")

    client = build_client(region="eu-west-1", endpoint_url="https://vpce.example")
    assert client.meta.endpoint_url == "https://vpce.example"


def test_profile_from_aws_profile(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "config").write_text(
        "[profile web]\nregion = eu-north-1\nretry_mode = adaptive\n", encoding="utf-8"
    )
    monkeypatch.setenv("AWS_PROFILE", "web")

    client = build_client()

    assert client.meta.region_name == "eu-north-1"
    assert client.meta.config.retries["mode"] == "adaptive"


def test_injected_session_is_used() -> None:
    session = boto3.session.Session(region_name="sa-east-1")

    client = AwsSecretsManagerProvider("prod/myapp", session=session).client()

    assert client.meta.region_name == "sa-east-1"


def test_injected_session_credentials_are_used() -> None:
    session = boto3.session.Session(
        aws_access_key_id="AKIDFROMSESSION",
        aws_secret_access_key="testing",
        region_name="sa-east-1",
    )

    client = AwsSecretsManagerProvider("prod/myapp", session=session).client()

    assert client._request_signer._credentials.access_key == "AKIDFROMSESSION"


def test_role_arn_client_uses_refreshable_assumed_role_credentials() -> None:
    client = build_client(region="eu-west-1", role_arn="arn:aws:iam::123456789012:role/app")

    credentials = client._request_signer._credentials  # what signs requests
    assert type(credentials).__name__ == "DeferredRefreshableCredentials"
    assert credentials.method == "assume-role"


# -- one client per process -------------------------------------------------------------------


def test_client_is_built_once_and_dropped_after_fork() -> None:
    provider = AwsSecretsManagerProvider("prod/myapp", region="eu-west-1")
    first = provider.client()
    assert provider.client() is first

    provider._after_fork()  # os.register_at_fork runs it in a child

    second = provider.client()
    assert second is not first


def test_injected_client_survives_fork() -> None:
    client = build_client(region="eu-west-1")
    provider = AwsSecretsManagerProvider("prod/myapp", client=client)

    provider._after_fork()

    assert provider.client() is client


# -- botocore debug logs ----------------------------------------------------------------------


@pytest.mark.parametrize("logger_name", ["botocore.parsers", "botocore.endpoint"])
def test_botocore_debug_records_with_secret_values_are_redacted(
    logger_name: str, caplog: pytest.LogCaptureFixture
) -> None:
    build_client(region="eu-west-1")  # installs the redaction
    key = make_key()
    body = b'{"ARN": "arn", "SecretString": "' + key.encode() + b'", "VersionId": "v1"}'

    caplog.clear()
    with caplog.at_level(logging.DEBUG, logger=logger_name):
        logging.getLogger(logger_name).debug("Response body:\n%r", body)
        logging.getLogger(logger_name).debug("Response body:\n%r", b'{"Name": "x"}')

    first, second = caplog.records
    assert "redacted" in first.getMessage()
    assert_no_key_material(first.getMessage(), "the botocore record")
    assert second.getMessage() == 'Response body:\nb\'{"Name": "x"}\''  # others untouched


def test_redaction_is_installed_once() -> None:
    build_client(region="eu-west-1")
    build_client(region="eu-west-1")

    filters = logging.getLogger("botocore.parsers").filters
    assert len([f for f in filters if type(f).__name__ == "_RedactSecretValues"]) == 1
