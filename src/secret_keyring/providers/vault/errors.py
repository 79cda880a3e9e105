"""The one place that maps hvac and requests exceptions to this library's errors.

Most specific first: transport errors (TLS, timeouts, refused connections), then Vault's answers
by status (403 -> [AccessDenied][secret_keyring.errors.AccessDenied], 404 ->
``SecretNotFound``, sealed, 429 and 5xx -> ``SourceUnavailable``). The result records what
callers act on (``status``, ``action``, ``never_sent``, ``conflict``: see
[SourceError][secret_keyring.errors.SourceError]), so nobody else looks at an hvac exception.
Messages name the address, mount, path and field and say what to fix; never a token or a key.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from secret_keyring._record import Record
from secret_keyring.errors import (
    AccessDenied,
    ConfigurationError,
    SecretKeyringError,
    SecretNotFound,
    SourceError,
    SourceUnavailable,
)
from secret_keyring.providers.base import require_extra

__all__ = ["KvPath", "VersionGone", "Where", "is_failover", "never_sent", "translate_error"]


class VersionGone(SecretNotFound):
    """A KV v2 version that is deleted or destroyed: Vault answers 404 with its metadata.

    Attributes:
        version: the version number.
        created_time: when it was written (RFC 3339), or ``""``.
    """

    def __init__(self, message: str, *, source: str, version: int, created_time: str) -> None:
        super().__init__(message, source=source, status=404)
        self.version = version
        self.created_time = created_time


class KvPath(Record):
    """A secret in a KV engine: what a session reads and writes, for messages."""

    mount: str
    path: str
    field: str | None = None
    kv_version: int = 2

    def api_paths(self) -> str:
        if self.kv_version == 1:
            return f"{self.mount}/{self.path}"
        return f"{self.mount}/data/{self.path} (and {self.mount}/metadata/{self.path})"


class Where(Record):
    """What a message names: the address, the KV location, the auth method."""

    address: str
    kv: KvPath
    auth: str
    auth_mount: str
    timeout: float
    source: str

    def location(self) -> str:
        kv = self.kv
        text = f"{self.address}: KV v{kv.kv_version} mount {kv.mount!r}, path {kv.path!r}"
        if kv.field:
            text += f", field {kv.field!r}"
        return text


def _hvac_exceptions() -> Any:
    return require_extra("hvac.exceptions", "vault")


def _requests_exceptions() -> Any:
    return require_extra("requests.exceptions", "vault")


#: HTTP status of each hvac exception class (hvac keeps the class, not the status).
_STATUS: dict[str, int] = {
    "InvalidRequest": 400,
    "Unauthorized": 401,
    "Forbidden": 403,
    "InvalidPath": 404,
    "PreconditionFailed": 412,
    "RateLimitExceeded": 429,
    "InternalServerError": 500,
    "VaultNotInitialized": 501,
    "BadGateway": 502,
    "VaultDown": 503,
}


def translate_error(exc: BaseException, where: Where, action: str) -> SecretKeyringError:
    """Map an hvac/requests exception to this library's tree. The one place that does it.

    ``action`` says what was being done: ``"login"``, ``"read"``, ``"read metadata"``,
    ``"write"``, ``"renew token"``... The caller raises the result ``from exc``.
    """
    if isinstance(exc, SecretKeyringError):
        return exc
    error = _classify(exc, where, action)
    if isinstance(error, SourceError):
        status = next(
            (_STATUS[cls.__name__] for cls in type(exc).__mro__ if cls.__name__ in _STATUS),
            None,
        )
        error.status = status
        error.action = action
        error.never_sent = status is None and never_sent(exc)
        error.conflict = status == 400 and "check-and-set" in _vault_errors(exc)
    return error


def _vault_errors(exc: BaseException) -> str:
    errors = getattr(exc, "errors", None)
    if isinstance(errors, str):
        errors = [errors]
    text = "; ".join(str(error) for error in errors or () if error)
    text = " ".join(text.split())
    return (text[:200] + "...") if len(text) > 200 else text


def _reason(exc: BaseException) -> str:
    errors = _vault_errors(exc)
    return f" ({errors})" if errors else ""


class _Rule(Record):
    """One row of the mapping table.

    Attributes:
        names: the exception classes it takes (``module.Class``, module ``requests`` or
            ``hvac``).
        error: what it makes of them.
        message: a ``str.format`` template after ``"{loc}: "``; placeholders ``{action}``,
            ``{reason}`` (the server's errors), ``{who}``, ``{auth}``, ``{auth_mount}``,
            ``{timeout}``, ``{api_paths}``, ``{kv_version}``, ``{verb}``, ``{name}``.
        login: only during a login (True), only outside one (False), or both (None).
        when: a further condition on the exception.
    """

    names: tuple[str, ...]
    error: type[SecretKeyringError]
    message: str
    login: bool | None = None
    when: Callable[[BaseException], bool] | None = None


_CERTIFICATE = ("CERTIFICATE_VERIFY_FAILED", "certificate verify failed")
_TRANSIENT = ("hvac.InternalServerError", "hvac.BadGateway", "hvac.VaultNotInitialized")

#: Most specific first; the first matching row wins. Transport first: an ``SSLError`` is also a
#: ``ConnectionError``, a ``ConnectTimeout`` also a ``Timeout``.
_RULES: tuple[_Rule, ...] = (
    _Rule(
        ("requests.SSLError",),
        SourceError,
        "TLS error while trying to {action}: the server certificate is not signed by a trusted "
        "CA; set VAULT_CACERT (or ?cacert=) to the CA bundle that signed it, or VAULT_CAPATH to "
        "a hashed CA directory",
        when=lambda exc: any(marker in str(exc) for marker in _CERTIFICATE),
    ),
    _Rule(
        ("requests.SSLError",),
        SourceError,
        "TLS error while trying to {action}: the TLS handshake failed; check that the address "
        "uses the right scheme and port, and the client certificate (VAULT_CLIENT_CERT, "
        "VAULT_CLIENT_KEY)",
    ),
    _Rule(
        ("requests.Timeout",),
        SourceUnavailable,
        "no answer within {timeout:g}s while trying to {action}; check that the server is up "
        "and reachable, or raise ?timeout= / VAULT_CLIENT_TIMEOUT",
    ),
    _Rule(
        ("requests.InvalidURL", "requests.MissingSchema"),
        ConfigurationError,
        "the address is not a valid URL; fix VAULT_ADDR or ?addr=",
    ),
    _Rule(
        ("requests.ConnectionError",),
        SourceUnavailable,
        "cannot connect while trying to {action} (refused, reset or unknown host); check "
        "VAULT_ADDR (or ?addr=) and that the server is running",
    ),
    _Rule(
        ("requests.RequestException",),
        SourceUnavailable,
        "HTTP error while trying to {action} ({name})",
    ),
    _Rule(
        ("hvac.Forbidden", "hvac.Unauthorized"),
        AccessDenied,
        "login with {who} was refused{reason}; check the role, the credentials (for "
        "jwt/kubernetes: the bound audience and claims) and that the {auth} auth method is "
        "enabled at auth/{auth_mount} (?auth_mount=)",
        login=True,
    ),
    _Rule(
        ("hvac.Forbidden", "hvac.Unauthorized"),
        AccessDenied,
        "permission denied trying to {action}{reason}; the token (from {who}) needs a policy "
        "granting {verb} on {api_paths}",
    ),
    _Rule(
        ("hvac.InvalidRequest",),
        AccessDenied,
        "login with {who} was rejected{reason}; check the role name and the credentials",
        login=True,
    ),
    # KV v2 answers 400 while it upgrades its storage: a new or migrated mount, or a standby
    # waiting for the primary to finish. It passes on its own.
    _Rule(
        ("hvac.InvalidRequest",),
        SourceUnavailable,
        "the KV engine is upgrading its storage{reason}; retrying",
        when=lambda exc: "unavailable for a brief period" in _vault_errors(exc),
    ),
    _Rule(
        ("hvac.InvalidRequest",),
        SourceError,
        "the server rejected the request to {action}{reason}",
    ),
    _Rule(
        ("hvac.InvalidPath",),
        ConfigurationError,
        "no {auth} auth method is enabled at auth/{auth_mount}{reason}; enable it or set "
        "?auth_mount=",
        login=True,
    ),
    _Rule(
        ("hvac.InvalidPath",),
        SecretNotFound,
        "nothing found trying to {action}{reason}; check the mount and the path (KV "
        "v{kv_version}: {api_paths}), or write the secret with `secret-keyring init`",
    ),
    _Rule(
        ("hvac.VaultDown",),
        SourceUnavailable,
        "the server is sealed while trying to {action}{reason}; unseal it or wait for a "
        "leader, then retry",
        when=lambda exc: "sealed" in _vault_errors(exc).lower(),
    ),
    _Rule(
        ("hvac.VaultDown",),
        SourceUnavailable,
        "the server is unavailable (503) while trying to {action}{reason}; unseal it or wait "
        "for a leader, then retry",
    ),
    _Rule(
        ("hvac.RateLimitExceeded",),
        SourceUnavailable,
        "throttled (429) while trying to {action}; retry later or raise the server's rate "
        "limit quota",
    ),
    _Rule(
        (*_TRANSIENT, "hvac.UnexpectedError"),
        SourceUnavailable,
        "server error while trying to {action}{reason}; retry, and check the server's logs",
    ),
    _Rule(("hvac.VaultError",), SourceError, "{name} while trying to {action}{reason}"),
)


def _classify(exc: BaseException, where: Where, action: str) -> SecretKeyringError:
    login = action == "login"
    if not login and isinstance(exc, _hvac_exceptions().InvalidPath):
        gone = _gone_version(exc)
        if gone is not None:
            return VersionGone(
                f"{where.location()}: version {gone[0]} is deleted or destroyed; undelete it or "
                "write a new version",
                source=where.source,
                version=gone[0],
                created_time=gone[1],
            )
    modules = {"requests": _requests_exceptions(), "hvac": _hvac_exceptions()}
    for rule in _RULES:
        classes = tuple(
            getattr(modules[module], name)
            for module, _, name in (entry.partition(".") for entry in rule.names)
        )
        if (
            isinstance(exc, classes)
            and rule.login in (None, login)
            and (rule.when is None or rule.when(exc))
        ):
            message = rule.message.format(
                action=action,
                reason=_reason(exc),
                who=f"auth={where.auth} at auth/{where.auth_mount}",
                auth=where.auth,
                auth_mount=where.auth_mount,
                timeout=where.timeout,
                api_paths=where.kv.api_paths(),
                kv_version=where.kv.kv_version,
                verb="write" if action == "write" else "read",
                name=type(exc).__name__,
            )
            return rule.error(f"{where.location()}: {message}", source=where.source)
    return SourceError(
        f"{where.location()}: unexpected {type(exc).__name__} while trying to {action}; the "
        "server's answer was not what a Vault/OpenBao KV engine sends",
        source=where.source,
    )


def _gone_version(exc: BaseException) -> tuple[int, str] | None:
    """The version number and creation time a KV v2 404 carries for a deleted or destroyed
    version (a 404 for a path that does not exist has no metadata)."""
    body = getattr(exc, "json", None)
    data = body.get("data") if isinstance(body, Mapping) else None
    metadata = data.get("metadata") if isinstance(data, Mapping) else None
    if not isinstance(metadata, Mapping) or not metadata.get("version"):
        return None
    try:
        return int(metadata["version"]), str(metadata.get("created_time") or "")
    except (TypeError, ValueError):
        return None


def never_sent(exc: BaseException) -> bool:
    """Whether a transport error happened before the request reached a server.

    Only then may a write (a check-and-set) be retried on another address: after a reset or a
    read timeout the first server may have applied it.
    """
    requests_exceptions = _requests_exceptions()
    urllib3_exceptions = require_extra("urllib3.exceptions", "vault")
    if isinstance(exc, requests_exceptions.ConnectTimeout):
        return True
    if isinstance(exc, requests_exceptions.SSLError) or not isinstance(
        exc, requests_exceptions.ConnectionError
    ):
        return False
    reason = exc.args[0] if exc.args else None
    reason = getattr(reason, "reason", reason)  # urllib3's MaxRetryError wraps the cause
    return isinstance(reason, urllib3_exceptions.NewConnectionError)


def is_failover(exc: BaseException, *, idempotent: bool) -> bool:
    """Whether ``exc`` should move a request on to the next address of an HA list: a sealed or
    unavailable node, or a transport failure (for a write, only one that never reached a
    server: after a reset or a read timeout the first server may have applied it)."""
    if isinstance(exc, _hvac_exceptions().VaultDown):
        return True
    if not idempotent:
        return never_sent(exc)
    requests_exceptions = _requests_exceptions()
    return isinstance(
        exc, (requests_exceptions.ConnectionError, requests_exceptions.Timeout)
    ) and not isinstance(exc, requests_exceptions.SSLError)
