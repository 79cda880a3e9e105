"""The auth-method table: how each ``auth=`` value logs in.

One entry per method: its default mount, whether it needs ``role=``, and a function that reads
the credentials (now: files may have been rotated) and returns the hvac login call. ``token``
has no login call: the session takes the token from ``VAULT_TOKEN`` or ``~/.vault-token``.
Adding a method is one function and one line of ``AUTH_METHODS``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from secret_keyring._record import Record
from secret_keyring.errors import ConfigurationError
from secret_keyring.providers.base import require_extra
from secret_keyring.providers.vault.settings import credential, read_secret_file

if TYPE_CHECKING:
    import hvac

__all__ = ["AUTH_METHODS", "KUBERNETES_TOKEN_FILE", "AuthMethod", "Login", "check_auth"]

#: Where Kubernetes mounts the pod's service-account token.
KUBERNETES_TOKEN_FILE: Final = "/var/run/secrets/kubernetes.io/serviceaccount/token"  # noqa: S105 - a path, not a credential

#: What a login does with the client: one hvac call, whose answer carries ``auth``.
LoginCall = Callable[["hvac.Client"], Any]


class Login(Record):
    """What a login needs besides credentials (those are read at each login)."""

    method: str
    mount: str
    role: str | None
    source: str
    jwt_file: str | None = None
    aws_region: str = "us-east-1"
    aws_header_value: str | None = None


class AuthMethod(Record):
    """One ``auth=`` value.

    Attributes:
        needs_role: ``role=`` is required.
        login: reads the credentials and returns the login call; ``None`` for ``token``.
        needs_client_cert: the TLS client certificate is the credential (``cert``).
    """

    needs_role: bool = False
    login: Callable[[Login, Mapping[str, str]], LoginCall] | None = None
    needs_client_cert: bool = False


def _approle(login: Login, environ: Mapping[str, str]) -> LoginCall:
    role_id = credential(environ, "ROLE_ID")
    if not role_id:
        raise ConfigurationError(
            f"{login.source}: auth=approle needs VAULT_ROLE_ID (or VAULT_ROLE_ID_FILE) and "
            "usually VAULT_SECRET_ID (or VAULT_SECRET_ID_FILE)",
            source=login.source,
        )
    secret_id = credential(environ, "SECRET_ID")
    return lambda c: c.auth.approle.login(role_id, secret_id, mount_point=login.mount)


def _kubernetes(login: Login, environ: Mapping[str, str]) -> LoginCall:
    jwt = _jwt(login, environ)
    return lambda c: c.auth.kubernetes.login(login.role, jwt, mount_point=login.mount)


def _jwt_login(login: Login, environ: Mapping[str, str]) -> LoginCall:
    jwt = _jwt(login, environ)
    return lambda c: c.auth.jwt.jwt_login(login.role, jwt, path=login.mount)


def _cert(login: Login, environ: Mapping[str, str]) -> LoginCall:
    body = {"name": login.role} if login.role else {}
    # The TLS client certificate is the credential; the session already presents it.
    return lambda c: c.adapter.login(f"/v1/auth/{login.mount}/login", json=body)


def _userpass(login: Login, environ: Mapping[str, str]) -> LoginCall:
    username = credential(environ, "USERNAME")
    password = credential(environ, "PASSWORD")
    if not username or not password:
        raise ConfigurationError(
            f"{login.source}: auth=userpass needs VAULT_USERNAME and VAULT_PASSWORD (or "
            "VAULT_PASSWORD_FILE)",
            source=login.source,
        )
    return lambda c: c.auth.userpass.login(username, password, mount_point=login.mount)


def _aws(login: Login, environ: Mapping[str, str]) -> LoginCall:
    """Sign ``sts:GetCallerIdentity`` with the ambient credentials (env, profile, role...)."""
    botocore_session = require_extra("botocore.session", "aws")
    credentials = botocore_session.Session().get_credentials()
    if credentials is None:
        raise ConfigurationError(
            f"{login.source}: auth=aws found no AWS credentials (environment, profile, "
            "container or instance role); configure them as for the AWS CLI",
            source=login.source,
        )
    frozen = credentials.get_frozen_credentials()
    return lambda c: c.auth.aws.iam_login(
        frozen.access_key,
        frozen.secret_key,
        session_token=frozen.token,
        header_value=login.aws_header_value,
        role=login.role,
        region=login.aws_region,
        mount_point=login.mount,
    )


def _jwt(login: Login, environ: Mapping[str, str]) -> str:
    source = login.source
    if login.jwt_file:
        return read_secret_file(login.jwt_file, f"{source}: jwt_file")
    if login.method == "jwt":
        jwt = credential(environ, "JWT")
        if not jwt:
            raise ConfigurationError(
                f"{source}: auth=jwt needs the JWT in VAULT_JWT or a file named by "
                "VAULT_JWT_FILE (or ?jwt_file=)",
                source=source,
            )
        return jwt
    path = KUBERNETES_TOKEN_FILE
    if not Path(path).is_file():
        raise ConfigurationError(
            f"{source}: auth=kubernetes reads the service-account token from {path}, which "
            "does not exist (not running in a pod, or automountServiceAccountToken is off?); "
            "mount a token and point ?jwt_file= at it",
            source=source,
        )
    return read_secret_file(path, f"{source}: service-account token")


#: ``auth=`` values; each is mounted at its own name unless ``auth_mount=`` says otherwise.
AUTH_METHODS: Final[Mapping[str, AuthMethod]] = {
    "token": AuthMethod(),
    "approle": AuthMethod(login=_approle),
    "kubernetes": AuthMethod(needs_role=True, login=_kubernetes),
    "jwt": AuthMethod(needs_role=True, login=_jwt_login),
    "cert": AuthMethod(login=_cert, needs_client_cert=True),
    "aws": AuthMethod(needs_role=True, login=_aws),
    "userpass": AuthMethod(login=_userpass),
}


def check_auth(method: str, role: str | None, source: str) -> AuthMethod:
    """The table entry for ``auth=method``; the one check of ``auth=`` and ``role=``.

    Raises:
        ConfigurationError: an unknown or interactive method, or a missing role.
    """
    if method == "oidc":
        raise ConfigurationError(
            f"{source}: auth=oidc is an interactive browser login; a server process cannot "
            "use it. Use auth=jwt with a JWT from your identity provider (VAULT_JWT_FILE) "
            "and auth_mount=oidc if the role lives on the oidc mount",
            source=source,
        )
    entry = AUTH_METHODS.get(method)
    if entry is None:
        raise ConfigurationError(
            f"{source}: unknown auth method {method[:40]!r}; use one of "
            + ", ".join(sorted(AUTH_METHODS)),
            source=source,
        )
    if entry.needs_role and not role:
        raise ConfigurationError(
            f"{source}: auth={method} needs a role, as in ?auth={method}&role=web", source=source
        )
    return entry
