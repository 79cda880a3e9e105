"""The hvac/requests -> secret_keyring error table, and the credential look-ups."""

from __future__ import annotations

from pathlib import Path

import hvac.exceptions as hx
import pytest
import requests.exceptions as rx

from secret_keyring.errors import (
    AccessDenied,
    ConfigurationError,
    SecretKeyringError,
    SecretNotFound,
    SourceError,
    SourceUnavailable,
)
from secret_keyring.providers.vault import VaultProvider, translate_error
from secret_keyring.providers.vault import errors as vault_errors
from secret_keyring.providers.vault import settings as vault_settings

TOKEN = "hvs.CAESIJustATestTokenThatMustNeverAppear"
WHERE = vault_errors.Where(
    address="https://vault.example.com:8200",
    kv=vault_errors.KvPath("secret", "myapp/django", "secret_key", 2),
    auth="approle",
    auth_mount="approle",
    timeout=5.0,
    source="vault://secret/myapp/django#secret_key",
)


def hvac_error(cls: type[hx.VaultError], *errors: str) -> hx.VaultError:
    return cls(
        errors=list(errors),
        method="get",
        url="https://vault.example.com:8200/v1/secret/data/myapp/django",
        text=f'{{"token": "{TOKEN}"}}',
        json={"errors": list(errors)},
    )


CASES = [
    # (exception, action, expected class, words in the message)
    (hvac_error(hx.Forbidden, "permission denied"), "read", AccessDenied, ["policy", "read"]),
    (hvac_error(hx.Forbidden, "permission denied"), "write", AccessDenied, ["granting write"]),
    (hvac_error(hx.Forbidden, "permission denied"), "login", AccessDenied, ["auth/approle"]),
    (hvac_error(hx.Unauthorized), "read", AccessDenied, ["permission denied"]),
    (hvac_error(hx.InvalidRequest, "invalid role ID"), "login", AccessDenied, ["invalid role"]),
    (hvac_error(hx.InvalidRequest, "bad"), "read", SourceError, ["rejected"]),
    (hvac_error(hx.InvalidPath), "read", SecretNotFound, ["secret/metadata/myapp/django"]),
    (hvac_error(hx.InvalidPath), "login", ConfigurationError, ["auth/approle"]),
    (hvac_error(hx.VaultDown, "Vault is sealed"), "read", SourceUnavailable, ["is sealed"]),
    (hvac_error(hx.VaultDown, "standby"), "read", SourceUnavailable, ["unavailable (503)"]),
    (hvac_error(hx.RateLimitExceeded), "read", SourceUnavailable, ["throttled"]),
    (hvac_error(hx.InternalServerError, "boom"), "read", SourceUnavailable, ["server error"]),
    (hvac_error(hx.BadGateway), "read", SourceUnavailable, ["server error"]),
    (hvac_error(hx.VaultNotInitialized), "read", SourceUnavailable, ["server error"]),
    (hvac_error(hx.UnexpectedError), "read", SourceUnavailable, ["server error"]),
    (hvac_error(hx.PreconditionFailed), "write", SourceError, ["PreconditionFailed"]),
    (rx.SSLError("[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed"), "read",
     SourceError, ["TLS", "VAULT_CACERT"]),
    (rx.SSLError("wrong version number"), "read", SourceError, ["TLS handshake", "scheme"]),
    (rx.ConnectTimeout("timed out"), "read", SourceUnavailable, ["no answer within 5s"]),
    (rx.ReadTimeout("timed out"), "read", SourceUnavailable, ["no answer within 5s"]),
    (rx.ConnectionError("refused"), "read", SourceUnavailable, ["cannot connect", "VAULT_ADDR"]),
    (rx.InvalidURL("bad"), "read", ConfigurationError, ["VAULT_ADDR"]),
    (rx.ChunkedEncodingError("x"), "read", SourceUnavailable, ["HTTP error"]),
    (KeyError("data"), "read", SourceError, ["unexpected KeyError"]),
]  # fmt: skip


@pytest.mark.parametrize(("exc", "action", "expected", "words"), CASES)
def test_translation_table(
    exc: BaseException, action: str, expected: type[SecretKeyringError], words: list[str]
) -> None:
    error = translate_error(exc, WHERE, action)

    assert type(error) is expected
    message = str(error)
    for word in words:
        assert word in message
    # Every message says where: address, mount, path and field.
    assert "https://vault.example.com:8200" in message
    assert "mount 'secret'" in message
    assert "path 'myapp/django'" in message
    assert "field 'secret_key'" in message
    assert TOKEN not in message
    assert error.source == "vault://secret/myapp/django#secret_key"


def test_retryable_means_source_unavailable() -> None:
    for exc, action, expected, _ in CASES:
        error = translate_error(exc, WHERE, action)
        assert getattr(error, "retryable", False) == (expected is SourceUnavailable), exc


def test_our_own_errors_pass_through() -> None:
    original = SecretNotFound("x")
    assert translate_error(original, WHERE, "read") is original


def test_long_server_messages_are_cut() -> None:
    error = translate_error(hvac_error(hx.InvalidRequest, "x" * 1000), WHERE, "read")
    assert len(str(error)) < 600


def test_provider_raises_from_the_cause() -> None:
    # A provider pointed at nothing: the translated error keeps the transport error as its cause.
    provider = VaultProvider(
        "secret", "x", environ={"VAULT_ADDR": "http://127.0.0.1:9", "VAULT_TOKEN": TOKEN}
    )
    with pytest.raises(SourceUnavailable) as caught:
        provider.fetch()
    assert isinstance(caught.value.__cause__, rx.ConnectionError)
    assert TOKEN not in str(caught.value)


# -- credentials --------------------------------------------------------------------------------


def test_credential_precedence(tmp_path: Path) -> None:
    (tmp_path / "id").write_text(" from-file \n")
    credential = vault_settings.credential
    assert credential({"VAULT_ROLE_ID": "direct", "VAULT_ROLE_ID_FILE": "x"}, "ROLE_ID") == "direct"
    assert credential({"VAULT_ROLE_ID_FILE": str(tmp_path / "id")}, "ROLE_ID") == "from-file"
    assert credential({"BAO_ROLE_ID": "bao"}, "ROLE_ID") == "bao"
    assert credential({"VAULT_ROLE_ID": "v", "BAO_ROLE_ID": "b"}, "ROLE_ID") == "v"
    assert credential({}, "ROLE_ID") is None


@pytest.mark.parametrize("content", [None, ""])
def test_unreadable_or_empty_credential_file(tmp_path: Path, content: str | None) -> None:
    path = tmp_path / "secret_id"
    if content is not None:
        path.write_text(content)
    with pytest.raises(ConfigurationError, match="VAULT_SECRET_ID_FILE"):
        vault_settings.credential({"VAULT_SECRET_ID_FILE": str(path)}, "SECRET_ID")


def test_cli_token_sources(tmp_path: Path) -> None:
    cli_token = vault_settings.cli_token
    assert cli_token({"VAULT_TOKEN": "a", "HOME": str(tmp_path)}) == "a"
    assert cli_token({"BAO_TOKEN": "b", "HOME": str(tmp_path)}) == "b"
    assert cli_token({"HOME": str(tmp_path)}) is None
    (tmp_path / ".vault-token").write_text("from-cli\n")
    assert cli_token({"HOME": str(tmp_path)}) == "from-cli"
