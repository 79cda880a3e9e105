"""Vault connection settings and credentials from URL options and VAULT_*/BAO_* variables."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from secret_keyring import provider_from_url
from secret_keyring.errors import ConfigurationError
from secret_keyring.providers.vault import (
    DEFAULT_TIMEOUT,
    VaultProvider,
    VaultSettings,
    resolve_settings,
)
from secret_keyring.providers.vault import settings as vault_settings

#: An address, so that settings resolve; nothing is sent to it.
ADDR = {"VAULT_ADDR": "http://127.0.0.1:8200"}


@pytest.fixture
def pem(tmp_path: Path) -> str:
    path = tmp_path / "ca.pem"
    path.write_text("-----BEGIN CERTIFICATE-----\n")
    return str(path)


def test_defaults_with_only_an_address() -> None:
    assert resolve_settings(environ=ADDR) == VaultSettings(
        addresses=("http://127.0.0.1:8200",),
        namespace=None,
        verify=True,
        client_cert=None,
        timeout=5.0,
    )
    assert DEFAULT_TIMEOUT == 5.0


@pytest.mark.parametrize("environ", [{}, {"VAULT_ADDR": ""}, {"VAULT_ADDR": "", "BAO_ADDR": ""}])
def test_no_address_is_a_configuration_error_at_once(environ: dict[str, str]) -> None:
    """The Vault CLI would silently use https://127.0.0.1:8200: a process meant for another
    server then waits out its whole start-up timeout and blames the network."""
    with pytest.raises(ConfigurationError) as caught:
        resolve_settings(environ=environ)
    message = str(caught.value)
    assert "VAULT_ADDR" in message
    assert "?addr=" in message


def test_an_explicit_local_address_still_works() -> None:
    assert resolve_settings(environ={}, addr="https://127.0.0.1:8200").addresses == (
        "https://127.0.0.1:8200",
    )


def test_vault_variables(pem: str, tmp_path: Path) -> None:
    key = tmp_path / "client.key"
    key.write_text("k")
    settings = resolve_settings(
        environ={
            "VAULT_ADDR": "https://vault.example.com:8200/",
            "VAULT_NAMESPACE": "team-a",
            "VAULT_CACERT": pem,
            "VAULT_CLIENT_CERT": pem,
            "VAULT_CLIENT_KEY": str(key),
            "VAULT_CLIENT_TIMEOUT": "7s",
        }
    )
    assert settings == VaultSettings(
        addresses=("https://vault.example.com:8200",),
        namespace="team-a",
        verify=pem,
        client_cert=(pem, str(key)),
        timeout=7.0,
    )


def test_bao_variables_when_vault_ones_are_absent(pem: str) -> None:
    settings = resolve_settings(
        environ={"BAO_ADDR": "http://bao:8200", "BAO_NAMESPACE": "ns", "BAO_CACERT": pem}
    )
    assert (settings.addresses, settings.namespace, settings.verify) == (
        ("http://bao:8200",),
        "ns",
        pem,
    )


def test_vault_variables_win_over_bao_ones() -> None:
    environ = {"VAULT_ADDR": "http://vault:8200", "BAO_ADDR": "http://bao:8200"}
    assert resolve_settings(environ=environ).addresses == ("http://vault:8200",)


def test_empty_variable_counts_as_unset() -> None:
    environ = {"VAULT_ADDR": "", "BAO_ADDR": "http://bao:8200"}
    assert resolve_settings(environ=environ).addresses == ("http://bao:8200",)


def test_options_override_the_environment(pem: str, tmp_path: Path) -> None:
    other = tmp_path / "other.pem"
    other.write_text("x")
    environ = {
        "VAULT_ADDR": "http://env:8200",
        "VAULT_NAMESPACE": "env",
        "VAULT_CACERT": pem,
        "VAULT_CLIENT_TIMEOUT": "30",
    }
    settings = resolve_settings(
        addr="https://option:8200",
        namespace="option",
        cacert=str(other),
        timeout=2.5,
        environ=environ,
    )
    assert settings.addresses == ("https://option:8200",)
    assert settings.namespace == "option"
    assert settings.verify == str(other)
    assert settings.timeout == 2.5


def test_address_list() -> None:
    settings = resolve_settings(environ={"VAULT_ADDR": "https://a:8200, https://b:8200,"})
    assert settings.addresses == ("https://a:8200", "https://b:8200")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("vault.example.com:8200", "not a Vault address"),
        ("ftp://vault:21", "not a Vault address"),
        ("https://vault:99999", "not a Vault address"),
        ("https://vault:8200?x=1", "not a Vault address"),
        ("https://root:pw@vault:8200", "must not contain credentials"),
        (",", "is empty"),
    ],
)
def test_bad_addresses(value: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message) as caught:
        resolve_settings(environ={"VAULT_ADDR": value})
    assert "VAULT_ADDR" in str(caught.value)
    assert "pw" not in str(caught.value)


def test_cacert_wins_over_capath(pem: str, tmp_path: Path) -> None:
    settings = resolve_settings(
        environ={**ADDR, "VAULT_CACERT": pem, "VAULT_CAPATH": str(tmp_path)}
    )
    assert settings.verify == pem
    assert resolve_settings(environ={**ADDR, "VAULT_CAPATH": str(tmp_path)}).verify == str(tmp_path)


@pytest.mark.parametrize(
    ("name", "kind"),
    [("VAULT_CACERT", "file"), ("VAULT_CAPATH", "directory"), ("VAULT_CLIENT_CERT", "file")],
)
def test_missing_tls_files(name: str, kind: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match=f"{name}: .* {kind}"):
        resolve_settings(environ={**ADDR, name: str(tmp_path / "missing")})


def test_client_key_without_certificate(pem: str) -> None:
    with pytest.raises(ConfigurationError, match="VAULT_CLIENT_CERT"):
        resolve_settings(environ={**ADDR, "VAULT_CLIENT_KEY": pem})


def test_client_certificate_holding_its_key(pem: str) -> None:
    assert resolve_settings(environ={**ADDR, "VAULT_CLIENT_CERT": pem}).client_cert == (pem, pem)


@pytest.mark.parametrize("value", ["1", "t", "true", "TRUE", "True"])
def test_skip_verify_turns_verification_off_with_a_warning(
    value: str, pem: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        settings = resolve_settings(
            environ={**ADDR, "VAULT_SKIP_VERIFY": value, "VAULT_CACERT": pem}
        )
    assert settings.verify is False
    assert "VAULT_SKIP_VERIFY is set" in caplog.text
    assert "NOT verified" in caplog.text


@pytest.mark.parametrize("value", ["0", "false", "F", ""])
def test_skip_verify_false_keeps_verification(value: str, caplog: pytest.LogCaptureFixture) -> None:
    assert resolve_settings(environ={**ADDR, "VAULT_SKIP_VERIFY": value}).verify is True
    assert "NOT verified" not in caplog.text


def test_bao_skip_verify(caplog: pytest.LogCaptureFixture) -> None:
    assert resolve_settings(environ={**ADDR, "BAO_SKIP_VERIFY": "true"}).verify is False
    assert "BAO_SKIP_VERIFY is set" in caplog.text


def test_skip_verify_must_be_a_boolean() -> None:
    with pytest.raises(ConfigurationError, match="VAULT_SKIP_VERIFY must be true or false"):
        resolve_settings(environ={**ADDR, "VAULT_SKIP_VERIFY": "yes please"})


@pytest.mark.parametrize(
    ("value", "seconds"), [("3", 3.0), ("2.5", 2.5), ("10s", 10.0), ("500ms", 0.5), ("1m", 60.0)]
)
def test_client_timeout_durations(value: str, seconds: float) -> None:
    assert resolve_settings(environ={**ADDR, "VAULT_CLIENT_TIMEOUT": value}).timeout == seconds


@pytest.mark.parametrize("value", ["0", "-1", "abc", "10h", "301"])
def test_bad_client_timeout(value: str) -> None:
    with pytest.raises(ConfigurationError, match="VAULT_CLIENT_TIMEOUT"):
        resolve_settings(environ={**ADDR, "VAULT_CLIENT_TIMEOUT": value})


def test_bad_timeout_argument() -> None:
    with pytest.raises(ConfigurationError, match="timeout"):
        resolve_settings(timeout=0, environ=ADDR)


# -- the provider resolves at construction ---------------------------------------------------


def test_provider_settings_come_from_its_environ(pem: str) -> None:
    environ = {"VAULT_ADDR": "https://a:8200,https://b:8200", "VAULT_CACERT": pem}
    vault = VaultProvider("secret", "x", environ=environ)
    assert vault.settings.addresses == ("https://a:8200", "https://b:8200")
    assert vault.address == "https://a:8200"
    assert vault.settings.verify == pem


def test_provider_from_url_reads_os_environ(monkeypatch: pytest.MonkeyPatch, pem: str) -> None:
    monkeypatch.setenv("VAULT_ADDR", "https://from-env:8200")
    monkeypatch.setenv("VAULT_CACERT", pem)
    monkeypatch.delenv("VAULT_NAMESPACE", raising=False)
    vault = provider_from_url("vault://secret/x?namespace=ns&timeout=9")
    assert isinstance(vault, VaultProvider)
    assert vault.settings == VaultSettings(
        addresses=("https://from-env:8200",), namespace="ns", verify=pem, timeout=9.0
    )


def test_malformed_environment_fails_at_construction() -> None:
    with pytest.raises(ConfigurationError, match="VAULT_ADDR"):
        VaultProvider("secret", "x", environ={"VAULT_ADDR": "nonsense"})


def test_fetch_timeout_bounds_a_fetch_by_its_request_timeouts() -> None:
    """The watchdog bound of CachedKeyring: 2 x timeout (connect, then read) x addresses x
    requests one fetch may make (6 + one per fallback version)."""
    one = VaultProvider(
        "secret", "x", environ={**ADDR, "VAULT_CLIENT_TIMEOUT": "5"}, max_fallbacks=3
    )
    assert one.fetch_timeout == 2 * 5 * 1 * 9
    two = VaultProvider(
        "secret", "x", environ={"VAULT_ADDR": "https://a:8200,https://b:8200"}, max_fallbacks=0
    )
    assert two.fetch_timeout == 2 * 5 * 2 * 6


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
