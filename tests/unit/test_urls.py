"""Source URL grammar: every URL of the spec parses; everything else is a named error."""

from __future__ import annotations

from pathlib import Path

import pytest

from secret_keyring import CachedKeyring, provider_from_url
from secret_keyring.errors import ConfigurationError
from secret_keyring.keygen import new_keyring
from secret_keyring.payload import keyring_to_json
from secret_keyring.providers import (
    AwsSecretsManagerProvider,
    DevProvider,
    EnvProvider,
    FileProvider,
    VaultProvider,
)
from secret_keyring.urls import parse_source_url

pytestmark = pytest.mark.usefixtures("vault_addr")


def test_vault_kv2_default() -> None:
    p = provider_from_url("vault://secret/myapp/django")
    assert isinstance(p, VaultProvider)
    assert (p.mount, p.path, p.kv_version, p.field, p.auth) == (
        "secret",
        "myapp/django",
        2,
        None,
        "token",
    )


def test_vault_field_and_kv1() -> None:
    p = provider_from_url("vault://secret/myapp/django#secret_key")
    assert isinstance(p, VaultProvider)
    assert p.field == "secret_key"
    p = provider_from_url("vault://kv/myapp?kv_version=1#SECRET_KEY")
    assert isinstance(p, VaultProvider)
    assert (p.mount, p.path, p.kv_version, p.field) == ("kv", "myapp", 1, "SECRET_KEY")


@pytest.mark.parametrize(
    ("url", "auth", "role"),
    [
        ("vault://secret/myapp/django?auth=approle", "approle", None),
        ("vault://secret/myapp/django?auth=kubernetes&role=web", "kubernetes", "web"),
        ("vault://secret/myapp/django?auth=jwt&role=web", "jwt", "web"),
        ("vault://secret/myapp/django?auth=aws&role=web", "aws", "web"),
    ],
)
def test_vault_auth_methods(url: str, auth: str, role: str | None) -> None:
    p = provider_from_url(url)
    assert isinstance(p, VaultProvider)
    assert (p.auth, p.session.login_options.role) == (auth, role)


def test_vault_role_required_for_role_based_auth() -> None:
    with pytest.raises(ConfigurationError, match="needs a role"):
        provider_from_url("vault://secret/myapp?auth=kubernetes")


def test_aws_by_name_with_region() -> None:
    p = provider_from_url("aws-secretsmanager://prod/myapp/django?region=eu-west-1")
    assert isinstance(p, AwsSecretsManagerProvider)
    assert (p.secret_id, p.region, p.field) == ("prod/myapp/django", "eu-west-1", None)


def test_aws_by_arn_with_field() -> None:
    arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/myapp-AbCdEf"
    p = provider_from_url(f"aws-secretsmanager://{arn}#SECRET_KEY")
    assert isinstance(p, AwsSecretsManagerProvider)
    assert (p.secret_id, p.field) == (arn, "SECRET_KEY")


def test_aws_names_may_hold_special_characters() -> None:
    p = provider_from_url("aws-secretsmanager://prod/my+app=x.y@z-1")
    assert isinstance(p, AwsSecretsManagerProvider)
    assert p.secret_id == "prod/my+app=x.y@z-1"


def test_aws_options() -> None:
    p = provider_from_url(
        "aws-secretsmanager://x?profile=ops&role_arn=arn:aws:iam::123456789012:role/reader"
    )
    assert isinstance(p, AwsSecretsManagerProvider)
    assert (p.profile, p.role_arn) == ("ops", "arn:aws:iam::123456789012:role/reader")
    assert p.pending_max_age == 86400.0
    p = provider_from_url("aws-secretsmanager://x?pending_max_age=21600")
    assert isinstance(p, AwsSecretsManagerProvider)
    assert p.pending_max_age == 21600.0


def test_env_and_fallbacks() -> None:
    p = provider_from_url("env://DJANGO_SECRET_KEY?fallbacks=OLD_KEYS")
    assert isinstance(p, EnvProvider)
    assert (p.variable, p.fallbacks_variable) == ("DJANGO_SECRET_KEY", "OLD_KEYS")


def test_file() -> None:
    p = provider_from_url("file:///run/secrets/django_secret_key")
    assert isinstance(p, FileProvider)
    assert str(p.path) == "/run/secrets/django_secret_key"


def test_dev() -> None:
    assert isinstance(provider_from_url("dev://"), DevProvider)
    p = provider_from_url("dev:///tmp/x/dev.json")
    assert isinstance(p, DevProvider)
    assert str(p.path) == "/tmp/x/dev.json"


BAD_URLS = [
    ("unknown scheme", "redis://x", "unknown scheme 'redis'"),
    ("not a url", "just-a-key-value", "not a URL"),
    ("unknown vault option", "vault://secret/x?colour=red", "unknown option 'colour'"),
    ("unknown env option", "env://X?region=eu-west-1", "unknown option 'region'"),
    ("file takes no options", "file:///x?fallbacks=Y", "unknown option 'fallbacks'"),
    ("repeated option", "vault://secret/x?auth=approle&auth=jwt", "given twice"),
    ("empty option value", "vault://secret/x?role=", "needs a value"),
    ("token in query", "vault://secret/x?token=s.abcdef", "credential"),
    ("secret_id in query", "vault://secret/x?auth=approle&secret_id=abc", "credential"),
    ("userinfo", "vault://root:hunter2@secret/x", "credentials"),
    ("vault traversal", "vault://secret/../sys/x", "traversal"),
    ("vault empty segment", "vault://secret//x", "traversal"),
    ("vault no path", "vault://secret", "MOUNT/PATH"),
    ("bad kv version", "vault://secret/x?kv_version=3", "kv_version"),
    ("bad auth", "vault://secret/x?auth=ldap2", "unknown auth method"),
    ("bad timeout", "vault://secret/x?timeout=-1", "timeout"),
    ("file relative", "file://relative/path", "absolute path"),
    ("file traversal", "file:///run/secrets/../../etc/passwd", "traversal"),
    ("env bad name", "env://1BAD", "not an environment variable"),
    ("aws bad chars", "aws-secretsmanager://a:b@c", "may hold only"),
    ("aws bad arn", "aws-secretsmanager://arn:aws:s3:::bucket", "ARN"),
    ("aws bad region", "aws-secretsmanager://x?region=mars", "region"),
    ("aws bad role", "aws-secretsmanager://x?role_arn=admin", "role_arn"),
    ("aws pending age text", "aws-secretsmanager://x?pending_max_age=1d", "pending_max_age"),
    ("aws pending age negative", "aws-secretsmanager://x?pending_max_age=-5", "pending_max_age"),
    ("whitespace", "vault://secret/x y", "whitespace"),
    ("newline", "env://X\n", "whitespace"),
    ("empty fragment", "vault://secret/x#", "empty '#'"),
    ("dev with field", "dev://#x", "no '#field'"),
    ("too long", "env://" + "A" * 5000, "longer than"),
]


@pytest.mark.parametrize(("name", "url", "fragment"), BAD_URLS, ids=[b[0] for b in BAD_URLS])
def test_bad_urls(name: str, url: str, fragment: str) -> None:
    with pytest.raises(ConfigurationError, match=fragment) as info:
        provider_from_url(url)
    message = str(info.value)
    for secret in ("hunter2", "s.abcdef", "secret_id=abc"):
        assert secret not in message


def test_non_string_source() -> None:
    with pytest.raises(ConfigurationError, match="URL string"):
        parse_source_url(42)  # type: ignore[arg-type]


def test_percent_decoding_keeps_plus() -> None:
    parsed = parse_source_url("aws-secretsmanager://a+b%2Fc?region=eu-west-1#F%20X")
    assert parsed.location == "a+b/c"
    assert parsed.field == "F X"


# -- the source as shown: the redacted URL the user passed ------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "vault://secret/myapp/django?auth=approle&kv_version=2#secret_key",
        "vault://kv/myapp?kv_version=1#SECRET_KEY",
        "aws-secretsmanager://prod/myapp/django?region=eu-west-1#SECRET_KEY",
        "env://DJANGO_SECRET_KEY?fallbacks=OLD_KEYS#django",
        "file:///run/secrets/django#key",
        "dev:///tmp/dev-keyring.json",
        "dev://",
    ],
)
def test_every_provider_shows_the_url_as_written(url: str) -> None:
    assert provider_from_url(url).source == url


def test_status_source_is_the_url_as_written(tmp_path: Path) -> None:
    path = tmp_path / "kr.json"
    path.write_text(keyring_to_json(new_keyring()))
    url = f"file://{path}"
    cache = CachedKeyring(provider_from_url(url))
    cache.refresh()
    assert cache.status()["source"] == url


@pytest.mark.parametrize(
    ("url", "hidden", "shown"),
    [
        (
            "vault://secret/x?addr=https://user:hunter22@vault:8200",
            "hunter22",
            "addr=https://***@vault:8200",
        ),
        ("vault://secret/x?token=hvs.secret-token-value", "secret-token-value", "token=***"),
        ("vault://secret/x?Secret_Id=abc-secret-id-123", "abc-secret-id-123", "Secret_Id=***"),
        (
            "aws-secretsmanager://n?endpoint_url=http://AKIA:pw-in-url@localhost:5000",
            "pw-in-url",
            "endpoint_url=http://***@localhost:5000",
        ),
    ],
)
def test_credentials_in_options_are_redacted(url: str, hidden: str, shown: str) -> None:
    redacted = parse_redacted(url)
    assert hidden not in redacted
    assert shown in redacted


def parse_redacted(url: str) -> str:
    try:
        return parse_source_url(url).redacted
    except ConfigurationError as exc:  # refused options: the message must not quote them either
        return str(exc)
