"""Auth methods, token renewal and re-login against a real OpenBao dev server."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import hvac.exceptions
import pytest

from devservers.openbao import BaoServer
from secret_keyring.errors import AccessDenied, ConfigurationError
from secret_keyring.providers.vault import VaultProvider
from secret_keyring.providers.vault import auth as vault_module
from tests.plugins.leakguard import make_key
from tests.plugins.openbao import FakeKubernetesAPI, service_account_jwt

pytestmark = pytest.mark.vault


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def logins(caplog: pytest.LogCaptureFixture) -> int:
    return sum("logged in to" in record.getMessage() for record in caplog.records)


@pytest.fixture
def secret(openbao: BaoServer, kv_path: str) -> tuple[str, str, str]:
    """A secret, and a policy that may read only it: (path, key, policy)."""
    key = make_key()
    openbao.write(kv_path, {"secret_key": key})
    return kv_path, key, openbao.read_policy(kv_path)


def approle_provider(
    openbao: BaoServer, path: str, policy: str, **options: Any
) -> tuple[VaultProvider, str]:
    role = options.pop("role_options", {})
    mount, role_id, secret_id = openbao.approle([policy], **role)
    environ = openbao.environ(VAULT_ROLE_ID=role_id, VAULT_SECRET_ID=secret_id)
    vault = VaultProvider(
        "secret", path, auth="approle", auth_mount=mount, environ=environ, **options
    )
    return vault, mount


# -- token ---------------------------------------------------------------------------------------


def test_token_from_environment(openbao: BaoServer, secret: tuple[str, str, str]) -> None:
    path, key, policy = secret
    token = openbao.token([policy])

    vault = VaultProvider("secret", path, environ=openbao.environ(token))

    assert vault.fetch().current == key


def test_bao_variables_are_accepted(openbao: BaoServer, secret: tuple[str, str, str]) -> None:
    path, key, policy = secret
    environ = {"BAO_ADDR": openbao.addr, "BAO_TOKEN": openbao.token([policy]), "HOME": "/"}

    assert VaultProvider("secret", path, environ=environ).fetch().current == key


def test_token_from_cli_token_file(
    openbao: BaoServer, secret: tuple[str, str, str], tmp_path: Path
) -> None:
    path, key, policy = secret
    (tmp_path / ".vault-token").write_text(openbao.token([policy]) + "\n")
    environ = {"VAULT_ADDR": openbao.addr, "HOME": str(tmp_path)}

    assert VaultProvider("secret", path, environ=environ).fetch().current == key


def test_no_token_is_a_configuration_error(openbao: BaoServer, kv_path: str) -> None:
    vault = VaultProvider("secret", kv_path, environ=openbao.environ())

    with pytest.raises(ConfigurationError, match="VAULT_TOKEN"):
        vault.fetch()


def test_token_outside_its_policy_is_access_denied(
    openbao: BaoServer, secret: tuple[str, str, str]
) -> None:
    _, _, policy = secret
    other = openbao.new_path()
    openbao.write(other, {"secret_key": make_key()})
    token = openbao.token([policy])

    with pytest.raises(AccessDenied) as caught:
        VaultProvider("secret", other, environ=openbao.environ(token)).fetch()

    message = str(caught.value)
    assert openbao.addr in message
    assert f"path {other!r}" in message
    assert f"secret/data/{other}" in message  # what to grant
    assert token not in message
    assert isinstance(caught.value.__cause__, hvac.exceptions.Forbidden)


def test_revoked_static_token_is_access_denied(
    openbao: BaoServer, secret: tuple[str, str, str]
) -> None:
    path, key, policy = secret
    token = openbao.token([policy])
    vault = VaultProvider("secret", path, environ=openbao.environ(token))
    assert vault.fetch().current == key

    openbao.revoke(token)

    with pytest.raises(AccessDenied, match="permission denied") as caught:
        vault.fetch()
    assert token not in str(caught.value)


def test_static_token_replaced_in_the_environment_is_picked_up(
    openbao: BaoServer, secret: tuple[str, str, str], tmp_path: Path
) -> None:
    # A Vault Agent sink rewrites the token file; the provider re-reads it after a 403.
    path, key, policy = secret
    token_file = tmp_path / ".vault-token"
    first = openbao.token([policy])
    token_file.write_text(first)
    vault = VaultProvider(
        "secret", path, environ={"VAULT_ADDR": openbao.addr, "HOME": str(tmp_path)}
    )
    assert vault.fetch().current == key

    openbao.revoke(first)
    token_file.write_text(openbao.token([policy]))

    assert vault.fetch().current == key


# -- approle --------------------------------------------------------------------------------------


def test_approle_reads_with_a_read_only_policy(
    openbao: BaoServer, secret: tuple[str, str, str], caplog: pytest.LogCaptureFixture
) -> None:
    path, key, policy = secret
    vault, mount = approle_provider(openbao, path, policy)

    with caplog.at_level(logging.INFO):
        assert vault.fetch().current == key
        assert vault.fetch().current == key

    assert logins(caplog) == 1
    assert f"auth=approle at auth/{mount}" in caplog.text
    # The token may read, not write.
    with pytest.raises(AccessDenied, match="needs a policy granting write"):
        vault.session.run(
            lambda client: client.secrets.kv.v2.create_or_update_secret(
                path, secret={"secret_key": make_key()}, mount_point="secret"
            ),
            action="write",
        )


def test_approle_outside_policy_does_not_log_in_again(
    openbao: BaoServer, secret: tuple[str, str, str], caplog: pytest.LogCaptureFixture
) -> None:
    _, _, policy = secret
    other = openbao.new_path()
    openbao.write(other, {"secret_key": make_key()})
    vault, _ = approle_provider(openbao, other, policy)

    with caplog.at_level(logging.INFO), pytest.raises(AccessDenied, match="permission denied"):
        vault.fetch()

    assert logins(caplog) == 1


def test_approle_credentials_from_files(
    openbao: BaoServer, secret: tuple[str, str, str], tmp_path: Path
) -> None:
    path, key, policy = secret
    mount, role_id, secret_id = openbao.approle([policy])
    (tmp_path / "role_id").write_text(role_id + "\n")
    (tmp_path / "secret_id").write_text(secret_id + "\n")
    environ = openbao.environ(
        VAULT_ROLE_ID_FILE=str(tmp_path / "role_id"),
        VAULT_SECRET_ID_FILE=str(tmp_path / "secret_id"),
    )

    vault = VaultProvider("secret", path, auth="approle", auth_mount=mount, environ=environ)

    assert vault.fetch().current == key


def test_approle_wrong_secret_id(openbao: BaoServer, secret: tuple[str, str, str]) -> None:
    path, _, policy = secret
    mount, role_id, _ = openbao.approle([policy])
    wrong = "00000000-0000-0000-0000-000000000000"
    environ = openbao.environ(VAULT_ROLE_ID=role_id, VAULT_SECRET_ID=wrong)
    vault = VaultProvider("secret", path, auth="approle", auth_mount=mount, environ=environ)

    with pytest.raises(AccessDenied, match=f"login with auth=approle at auth/{mount}") as caught:
        vault.fetch()
    assert role_id not in str(caught.value)


def test_approle_missing_credentials(openbao: BaoServer, kv_path: str) -> None:
    vault = VaultProvider("secret", kv_path, auth="approle", environ=openbao.environ())

    with pytest.raises(ConfigurationError, match="VAULT_ROLE_ID"):
        vault.fetch()


def test_auth_method_not_enabled(
    openbao: BaoServer, kv_path: str, caplog: pytest.LogCaptureFixture
) -> None:
    # OpenBao answers 403, not 404, for a login on a path where nothing is mounted.
    environ = openbao.environ(VAULT_ROLE_ID="r", VAULT_SECRET_ID="s")
    vault = VaultProvider(
        "secret", kv_path, auth="approle", auth_mount="nothing-here", environ=environ
    )

    with pytest.raises(AccessDenied, match="enabled at auth/nothing-here"):
        vault.fetch()
    assert "/metadata/" not in caplog.text  # no fallback attempt after a failed login


# -- renewal and re-login -------------------------------------------------------------------------


def test_login_token_is_renewed_before_it_expires(
    openbao: BaoServer, secret: tuple[str, str, str], caplog: pytest.LogCaptureFixture
) -> None:
    path, key, policy = secret
    clock = FakeClock()
    vault, _ = approle_provider(
        openbao,
        path,
        policy,
        clock=clock,
        role_options={"token_ttl": "30s", "token_max_ttl": "10m"},
    )
    with caplog.at_level(logging.INFO):
        vault.fetch()
        token = vault.session.client().token
        assert "last_renewal_time" not in openbao.token_info(token) or not openbao.token_info(
            token
        ).get("last_renewal_time")

        clock.now += 19  # less than two thirds of 30 s: nothing to do
        vault.fetch()
        assert not openbao.token_info(token).get("last_renewal_time")

        clock.now += 2  # 21 s: past two thirds
        assert vault.fetch().current == key

    info = openbao.token_info(token)
    assert info.get("last_renewal_time")
    assert vault.session.client().token == token
    assert logins(caplog) == 1


def test_token_that_cannot_be_renewed_is_replaced_by_a_login(
    openbao: BaoServer, secret: tuple[str, str, str], caplog: pytest.LogCaptureFixture
) -> None:
    path, key, policy = secret
    clock = FakeClock()
    vault, _ = approle_provider(
        openbao,
        path,
        policy,
        clock=clock,
        role_options={"token_ttl": "30s", "token_type": "batch"},
    )
    with caplog.at_level(logging.INFO):
        vault.fetch()
        first = vault.session.client().token
        clock.now += 25
        assert vault.fetch().current == key

    assert vault.session.client().token != first
    assert logins(caplog) == 2


def test_login_again_after_the_token_is_revoked(
    openbao: BaoServer, secret: tuple[str, str, str], caplog: pytest.LogCaptureFixture
) -> None:
    path, key, policy = secret
    vault, _ = approle_provider(openbao, path, policy)
    vault.fetch()
    first = vault.session.client().token

    openbao.revoke(first)
    caplog.clear()
    with caplog.at_level(logging.INFO):
        assert vault.fetch().current == key

    assert vault.session.client().token != first
    assert logins(caplog) == 1
    assert "expired or was revoked" in caplog.text


def test_login_again_when_renewing_a_token_the_server_ended_is_refused(
    openbao: BaoServer, secret: tuple[str, str, str], caplog: pytest.LogCaptureFixture
) -> None:
    """A renewable token the server no longer honours, found at renewal time: the refused
    renewal is followed by a login, and the read succeeds.

    Revoking the token stands in for the server expiring it (both answer 403 "permission
    denied"): an expiry on the dev server means waiting its TTL in real time. The client's own
    clock is injected and moved past two thirds of the TTL, so the renewal path runs; the
    revocation test above covers the same 403 met by a read.
    """
    path, key, policy = secret
    clock = FakeClock()
    vault, _ = approle_provider(
        openbao,
        path,
        policy,
        clock=clock,
        role_options={"token_ttl": "30s", "token_max_ttl": "10m"},
    )
    vault.fetch()
    first = vault.session.client().token
    openbao.revoke(first)

    clock.now += 21  # past two thirds of 30 s: the next read renews first
    caplog.clear()
    with caplog.at_level(logging.INFO):
        assert vault.fetch().current == key
    assert vault.session.client().token != first
    assert "token renewal refused (HTTP 403); logging in again" in caplog.text
    assert logins(caplog) == 1


# -- userpass, jwt, kubernetes -------------------------------------------------------------------


def test_userpass(openbao: BaoServer, secret: tuple[str, str, str], tmp_path: Path) -> None:
    path, key, policy = secret
    mount, username, password = openbao.userpass([policy])
    (tmp_path / "password").write_text(password)
    environ = openbao.environ(
        VAULT_USERNAME=username, VAULT_PASSWORD_FILE=str(tmp_path / "password")
    )

    vault = VaultProvider("secret", path, auth="userpass", auth_mount=mount, environ=environ)

    assert vault.fetch().current == key


def test_jwt_with_bound_audience(openbao: BaoServer, secret: tuple[str, str, str]) -> None:
    path, key, policy = secret
    issuer = openbao.jwt_auth([policy], audience="django-app")
    environ = openbao.environ(VAULT_JWT=issuer.token())

    vault = VaultProvider(
        "secret", path, auth="jwt", role=issuer.role, auth_mount=issuer.mount, environ=environ
    )

    assert vault.fetch().current == key


def test_jwt_from_file(openbao: BaoServer, secret: tuple[str, str, str], tmp_path: Path) -> None:
    path, key, policy = secret
    issuer = openbao.jwt_auth([policy])
    (tmp_path / "jwt").write_text(issuer.token())
    environ = openbao.environ(VAULT_JWT_FILE=str(tmp_path / "jwt"))

    vault = VaultProvider(
        "secret", path, auth="jwt", role="web", auth_mount=issuer.mount, environ=environ
    )

    assert vault.fetch().current == key


def test_jwt_with_the_wrong_audience_is_refused(
    openbao: BaoServer, secret: tuple[str, str, str]
) -> None:
    path, _, policy = secret
    issuer = openbao.jwt_auth([policy], audience="django-app")
    token = issuer.token(audience="someone-else")
    environ = openbao.environ(VAULT_JWT=token)
    vault = VaultProvider(
        "secret", path, auth="jwt", role="web", auth_mount=issuer.mount, environ=environ
    )

    with pytest.raises(AccessDenied, match="aud") as caught:
        vault.fetch()
    assert token not in str(caught.value)


def test_jwt_signed_by_another_key_is_refused(
    openbao: BaoServer, secret: tuple[str, str, str]
) -> None:
    path, _, policy = secret
    trusted = openbao.jwt_auth([policy])
    stranger = openbao.jwt_auth([policy])
    environ = openbao.environ(VAULT_JWT=stranger.token())
    vault = VaultProvider(
        "secret", path, auth="jwt", role="web", auth_mount=trusted.mount, environ=environ
    )

    with pytest.raises(AccessDenied):
        vault.fetch()


def test_kubernetes_service_account_token(
    openbao: BaoServer,
    secret: tuple[str, str, str],
    fake_kubernetes_api: FakeKubernetesAPI,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path, key, policy = secret
    mount = openbao.kubernetes_auth(fake_kubernetes_api, [policy])
    token_file = tmp_path / "token"
    first = service_account_jwt()
    fake_kubernetes_api.valid.add(first)
    token_file.write_text(first)
    # The default path is the pod's service-account token.
    monkeypatch.setattr(vault_module, "KUBERNETES_TOKEN_FILE", str(token_file))
    vault = VaultProvider(
        "secret",
        path,
        auth="kubernetes",
        role="web",
        auth_mount=mount,
        environ=openbao.environ(),
    )

    assert vault.fetch().current == key
    assert fake_kubernetes_api.reviews == ["/apis/authentication.k8s.io/v1/tokenreviews"]

    # Kubernetes rotates projected tokens: a later login reads the file again.
    second = service_account_jwt()
    fake_kubernetes_api.valid = {second}
    token_file.write_text(second)
    openbao.revoke(vault.session.client().token)
    assert vault.fetch().current == key
    assert len(fake_kubernetes_api.reviews) == 2


def test_kubernetes_rejected_token(
    openbao: BaoServer,
    secret: tuple[str, str, str],
    fake_kubernetes_api: FakeKubernetesAPI,
    tmp_path: Path,
) -> None:
    path, _, policy = secret
    mount = openbao.kubernetes_auth(fake_kubernetes_api, [policy])
    token_file = tmp_path / "token"
    token_file.write_text(service_account_jwt())  # not in fake_kubernetes_api.valid
    vault = VaultProvider(
        "secret",
        path,
        auth="kubernetes",
        role="web",
        auth_mount=mount,
        jwt_file=str(token_file),
        environ=openbao.environ(),
    )

    with pytest.raises(AccessDenied, match="auth=kubernetes"):
        vault.fetch()


def test_kubernetes_outside_a_pod(
    openbao: BaoServer, kv_path: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = tmp_path / "no-such-token"
    monkeypatch.setattr(vault_module, "KUBERNETES_TOKEN_FILE", str(missing))
    vault = VaultProvider(
        "secret", kv_path, auth="kubernetes", role="web", environ=openbao.environ()
    )

    with pytest.raises(ConfigurationError, match="jwt_file") as caught:
        vault.fetch()
    assert str(missing) in str(caught.value)


# -- metadata not readable ---------------------------------------------------------------------


def test_policy_without_metadata_still_reads_the_data(
    openbao: BaoServer, kv_path: str, caplog: pytest.LogCaptureFixture
) -> None:
    first, second = make_key(), make_key()
    openbao.write(kv_path, {"secret_key": first})
    openbao.write(kv_path, {"secret_key": second})
    token = openbao.token([openbao.read_policy(kv_path, metadata=False)])
    vault = VaultProvider("secret", kv_path, environ=openbao.environ(token))

    with caplog.at_level(logging.WARNING):
        keyring = vault.fetch()
        assert (keyring.current, keyring.previous, keyring.version) == (second, (), "2")
        assert vault.fetch() is keyring
    assert caplog.text.count("but not secret/metadata") == 1

    third = make_key()
    openbao.write(kv_path, {"secret_key": third})
    assert (vault.fetch().current, vault.fetch().version) == (third, "3")


def test_policy_without_data_access_is_denied(openbao: BaoServer, kv_path: str) -> None:
    openbao.write(kv_path, {"secret_key": make_key()})
    policy = openbao.policy(f'path "secret/metadata/{kv_path}" {{ capabilities = ["read"] }}')
    token = openbao.token([policy])

    with pytest.raises(AccessDenied, match=f"secret/data/{kv_path}"):
        VaultProvider("secret", kv_path, environ=openbao.environ(token)).fetch()
