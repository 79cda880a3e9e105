"""vault:// URL options reach VaultProvider; bad ones are named errors; hvac stays unimported."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from secret_keyring import provider_from_url
from secret_keyring.errors import ConfigurationError
from secret_keyring.providers.vault import AUTH_METHODS, VaultProvider
from secret_keyring.urls import SCHEMES


@pytest.fixture(autouse=True)
def _clean_environment(vault_env: pytest.MonkeyPatch, vault_addr: str) -> None:
    """Nothing from the machine; an address, so that providers can be built (nothing is sent)."""


def vault(url: str, **kwargs: int) -> VaultProvider:
    provider = provider_from_url(url, **kwargs)
    assert isinstance(provider, VaultProvider)
    return provider


def test_every_vault_option_is_known() -> None:
    assert SCHEMES["vault"] == {
        "kv_version",
        "auth",
        "role",
        "auth_mount",
        "addr",
        "namespace",
        "cacert",
        "capath",
        "client_cert",
        "client_key",
        "timeout",
        "jwt_file",
        "aws_region",
        "aws_header_value",
    }


def test_connection_options(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("x")
    provider = vault(
        f"vault://secret/app/django?addr=https://a:8200,https://b:8200&namespace=team"
        f"&cacert={ca}&timeout=2.5#django"
    )
    assert provider.settings.addresses == ("https://a:8200", "https://b:8200")
    assert provider.settings.namespace == "team"
    assert provider.settings.verify == str(ca)
    assert provider.settings.timeout == 2.5
    assert (provider.mount, provider.path, provider.field) == ("secret", "app/django", "django")
    assert provider.source == (
        f"vault://secret/app/django?addr=https://a:8200,https://b:8200&namespace=team"
        f"&cacert={ca}&timeout=2.5#django"
    )


def test_auth_options() -> None:
    provider = vault(
        "vault://secret/app?auth=kubernetes&role=web&auth_mount=k8s-prod"
        "&jwt_file=/var/run/secrets/tokens/vault"
    )
    login = provider.session.login_options
    assert (login.method, login.role, login.mount) == ("kubernetes", "web", "k8s-prod")
    assert login.jwt_file == "/var/run/secrets/tokens/vault"

    aws = vault(
        "vault://secret/app?auth=aws&role=web&aws_region=eu-west-1&aws_header_value=vault.example"
    )
    aws_login = aws.session.login_options
    assert (aws_login.aws_region, aws_login.aws_header_value, aws_login.mount) == (
        "eu-west-1",
        "vault.example",
        "aws",
    )
    default = vault("vault://secret/app?auth=aws&role=web")
    assert default.session.login_options.aws_region == "us-east-1"


@pytest.mark.parametrize("auth", sorted(AUTH_METHODS))
def test_default_auth_mounts(auth: str, tmp_path: Path) -> None:
    cert = tmp_path / "client.pem"
    cert.write_text("x")
    url = f"vault://secret/app?auth={auth}&role=web&client_cert={cert}"
    assert vault(url).session.auth_mount == auth


def test_max_fallbacks_is_passed_on() -> None:
    assert vault("vault://secret/app", max_fallbacks=5).max_fallbacks == 5


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("vault://secret/app?auth=oidc&role=web", "interactive browser login"),
        ("vault://secret/app?auth=aws&role=web&aws_region=mars", "not an AWS region"),
        ("vault://secret/app?auth=cert", "needs a client certificate"),
        ("vault://secret/app?addr=ftp://x", "not a Vault address"),
        ("vault://secret/app?jwt=abc", "credential"),
        ("vault://secret/app?cacert=/nonexistent/ca.pem", "does not exist"),
    ],
)
def test_bad_options(url: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        provider_from_url(url)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"kv_version": 3}, "kv_version"),
        ({"auth": "ldap"}, "unknown auth method"),
        ({"auth": "jwt"}, "needs a role"),
        ({"max_fallbacks": -1}, "max_fallbacks"),
        ({"max_fallbacks": 20}, "max_fallbacks"),
        ({"max_fallbacks": True}, "max_fallbacks"),
    ],
)
def test_bad_constructor_arguments(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        VaultProvider("secret", "app", environ={"VAULT_ADDR": "http://127.0.0.1:8200"}, **kwargs)  # type: ignore[arg-type]


def test_empty_mount_or_path() -> None:
    with pytest.raises(ConfigurationError, match="mount and a path"):
        VaultProvider("secret", "/", environ={"VAULT_ADDR": "http://127.0.0.1:8200"})


def run_python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=60
    )


def test_importing_the_package_does_not_import_hvac() -> None:
    result = run_python(
        "import sys\n"
        "import secret_keyring, secret_keyring.providers, secret_keyring.providers.vault\n"
        "from secret_keyring import provider_from_url\n"
        "loaded = [m for m in ('hvac', 'requests', 'boto3', 'botocore', 'django') "
        "if m in sys.modules]\n"
        "print(','.join(loaded))\n"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""


def test_building_a_provider_without_hvac_names_the_extra() -> None:
    result = run_python(
        "import sys\n"
        "sys.modules['hvac'] = None\n"
        "from secret_keyring import provider_from_url\n"
        "try:\n"
        "    provider_from_url('vault://secret/app')\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
    )
    assert result.returncode == 0, result.stderr
    assert "pip install 'django-secret-keyring[vault]'" in result.stdout
