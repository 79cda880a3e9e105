"""TLS verification and TLS client-certificate auth against an OpenBao ``-dev-tls`` server."""

from __future__ import annotations

import logging
import shutil
import subprocess
from pathlib import Path

import pytest

from devservers.openbao import BaoServer
from secret_keyring.errors import AccessDenied, ConfigurationError, SourceError, SourceUnavailable
from secret_keyring.providers.vault import VaultProvider
from tests.plugins.leakguard import make_key
from tests.plugins.openbao import make_client_certificate

pytestmark = pytest.mark.vault


@pytest.fixture
def tls_secret(openbao_tls: BaoServer) -> tuple[str, str]:
    path = openbao_tls.new_path()
    key = make_key()
    openbao_tls.write(path, {"secret_key": key})
    return path, key


def test_cacert_verifies_the_server(openbao_tls: BaoServer, tls_secret: tuple[str, str]) -> None:
    path, key = tls_secret
    environ = openbao_tls.environ(openbao_tls.root_token)
    assert environ["VAULT_CACERT"] == openbao_tls.ca_cert

    assert VaultProvider("secret", path, environ=environ).fetch().current == key


def test_cacert_url_option(openbao_tls: BaoServer, tls_secret: tuple[str, str]) -> None:
    path, key = tls_secret
    environ = {"VAULT_ADDR": openbao_tls.addr, "VAULT_TOKEN": openbao_tls.root_token}

    vault = VaultProvider("secret", path, cacert=openbao_tls.ca_cert, environ=environ)

    assert vault.fetch().current == key


def test_without_the_ca_verification_fails_clearly(
    openbao_tls: BaoServer, tls_secret: tuple[str, str]
) -> None:
    path, _ = tls_secret
    environ = {"VAULT_ADDR": openbao_tls.addr, "VAULT_TOKEN": openbao_tls.root_token}

    with pytest.raises(SourceError) as caught:
        VaultProvider("secret", path, environ=environ).fetch()

    error = caught.value
    assert not isinstance(error, SourceUnavailable)  # retrying will not fix a missing CA
    assert not error.retryable
    message = str(error)
    assert "TLS" in message
    assert "VAULT_CACERT" in message
    assert openbao_tls.addr in message
    assert error.__cause__ is not None


def test_cacert_that_does_not_exist(openbao_tls: BaoServer, tmp_path: Path) -> None:
    environ = openbao_tls.environ(VAULT_CACERT=str(tmp_path / "missing.pem"))

    with pytest.raises(ConfigurationError, match="VAULT_CACERT"):
        VaultProvider("secret", "a/b", environ=environ)


def test_https_against_a_plain_http_server(openbao: BaoServer) -> None:
    environ = {"VAULT_ADDR": openbao.addr.replace("http://", "https://"), "VAULT_TOKEN": "x"}

    with pytest.raises(SourceError, match="TLS"):
        VaultProvider("secret", "a/b", environ=environ).fetch()


def test_skip_verify_works_and_warns(
    openbao_tls: BaoServer, tls_secret: tuple[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    path, key = tls_secret
    environ = {
        "VAULT_ADDR": openbao_tls.addr,
        "VAULT_TOKEN": openbao_tls.root_token,
        "VAULT_SKIP_VERIFY": "true",
    }

    with caplog.at_level(logging.WARNING):
        vault = VaultProvider("secret", path, environ=environ)
    assert "VAULT_SKIP_VERIFY is set" in caplog.text
    assert vault.settings.verify is False

    with pytest.warns(Warning, match="Unverified HTTPS request"):
        # urllib3 warns on every unverified request, as it should.
        assert vault.fetch().current == key


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl to hash a CA directory")
def test_capath_directory(
    openbao_tls: BaoServer, tls_secret: tuple[str, str], tmp_path: Path
) -> None:
    path, key = tls_secret
    capath = tmp_path / "cas"
    capath.mkdir()
    shutil.copy(str(openbao_tls.ca_cert), capath / "bao-ca.pem")
    subprocess.run(["openssl", "rehash", str(capath)], check=True, capture_output=True)
    environ = {
        "VAULT_ADDR": openbao_tls.addr,
        "VAULT_TOKEN": openbao_tls.root_token,
        "VAULT_CAPATH": str(capath),
    }

    assert VaultProvider("secret", path, environ=environ).fetch().current == key


def test_cert_auth_over_tls(
    openbao_tls: BaoServer, tls_secret: tuple[str, str], tmp_path: Path
) -> None:
    path, key = tls_secret
    certificate = make_client_certificate(tmp_path / "client")
    mount, role = openbao_tls.cert_auth(certificate, [openbao_tls.read_policy(path)])
    environ = openbao_tls.environ(
        VAULT_CLIENT_CERT=str(certificate.cert_file),
        VAULT_CLIENT_KEY=str(certificate.key_file),
    )

    vault = VaultProvider("secret", path, auth="cert", role=role, auth_mount=mount, environ=environ)

    assert vault.fetch().current == key
    assert vault.session.client().token != openbao_tls.root_token


def test_cert_auth_with_an_untrusted_certificate(
    openbao_tls: BaoServer, tls_secret: tuple[str, str], tmp_path: Path
) -> None:
    path, _ = tls_secret
    trusted = make_client_certificate(tmp_path / "trusted")
    stranger = make_client_certificate(tmp_path / "stranger")
    mount, role = openbao_tls.cert_auth(trusted, [openbao_tls.read_policy(path)])
    environ = openbao_tls.environ(
        VAULT_CLIENT_CERT=str(stranger.cert_file), VAULT_CLIENT_KEY=str(stranger.key_file)
    )
    vault = VaultProvider("secret", path, auth="cert", role=role, auth_mount=mount, environ=environ)

    with pytest.raises(AccessDenied, match="auth=cert"):
        vault.fetch()


def test_cert_auth_needs_a_client_certificate(openbao_tls: BaoServer) -> None:
    with pytest.raises(ConfigurationError, match="VAULT_CLIENT_CERT"):
        VaultProvider("secret", "a/b", auth="cert", environ=openbao_tls.environ())
