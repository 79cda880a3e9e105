"""The hvac/requests -> secret_keyring error table, and what it records for the rotation."""

from __future__ import annotations

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


# -- what the mapper records for the rotation -----------------------------------------------

#: A rotation's source: no field, no pinned version, a token.
ROTATION_WHERE = vault_errors.Where(
    address="https://vault.example.com:8200",
    kv=vault_errors.KvPath("secret", "myapp/django"),
    auth="token",
    auth_mount="token",
    timeout=5.0,
    source="vault://secret/myapp/django",
)


def test_vault_check_and_set_loss_is_a_conflict_with_its_status() -> None:
    exc = hx.InvalidRequest(
        errors=["check-and-set parameter did not match the current version"], method="post"
    )
    error = vault_errors.translate_error(exc, ROTATION_WHERE, "write")
    assert isinstance(error, SourceError)
    assert (error.status, error.conflict, error.action) == (400, True, "write")


def test_vault_denial_records_status_and_action() -> None:
    error = vault_errors.translate_error(
        hx.Forbidden(errors=["denied"]), ROTATION_WHERE, "read metadata"
    )
    assert isinstance(error, SourceError)
    assert (error.status, error.conflict, error.action) == (403, False, "read metadata")


def test_vault_refused_connection_was_never_sent() -> None:
    from urllib3.exceptions import MaxRetryError, NewConnectionError

    refused = rx.ConnectionError(
        MaxRetryError(None, "/v1/secret/data/x", NewConnectionError(None, "refused"))  # type: ignore[arg-type]
    )
    error = vault_errors.translate_error(refused, ROTATION_WHERE, "write")
    assert isinstance(error, SourceError)
    assert (error.status, error.never_sent, error.retryable) == (None, True, True)
    reset = vault_errors.translate_error(
        rx.ConnectionError("reset by peer"), ROTATION_WHERE, "write"
    )
    assert isinstance(reset, SourceError)
    assert not reset.never_sent


def test_vault_deleted_version_carries_its_metadata() -> None:
    exc = hx.InvalidPath(
        errors=[],
        json={"data": {"metadata": {"version": 3, "created_time": "2026-01-02T03:04:05Z"}}},
    )
    error = vault_errors.translate_error(exc, ROTATION_WHERE, "read version 3")
    assert isinstance(error, vault_errors.VersionGone)
    assert (error.version, error.created_time, error.status) == (3, "2026-01-02T03:04:05Z", 404)
