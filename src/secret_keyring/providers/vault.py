"""HashiCorp Vault / OpenBao KV provider (needs the ``vault`` extra: hvac).

How a fetch reads the secret:

* **KV v2** (default): ``GET MOUNT/metadata/PATH`` gives ``current_version`` and the state of each
  version. Versions are immutable, so their parsed payloads are kept by number: a fetch reads
  ``MOUNT/data/PATH?version=N`` only for versions it has not read yet, and an unchanged secret
  costs one metadata read. For a plain key, the earlier live versions (deleted and destroyed ones
  skipped) become the fallbacks, newest first, up to ``max_fallbacks``. A token that may read the
  data but not the metadata still works: the provider then reads the latest data each time.
* **KV v1**: ``GET MOUNT/PATH`` at every fetch; no versions, so no history.

Connection settings come from URL options, then ``VAULT_*``, then ``BAO_*`` variables (see
[resolve_settings][secret_keyring.providers.vault.resolve_settings]). Authentication (``auth=``):
``token`` (``VAULT_TOKEN`` or the CLI's ``~/.vault-token``), ``approle``, ``kubernetes``, ``jwt``,
``cert``, ``aws`` and ``userpass``. A token obtained by a login is renewed once two thirds of its
TTL have passed while it is renewable, and replaced by a new login when it is not; a 403 from a
token that expired or was revoked leads to one new login and one retry.

Every hvac and requests exception goes through
[translate_error][secret_keyring.providers.vault.translate_error] (the only place that maps them):
403 -> [AccessDenied][secret_keyring.errors.AccessDenied], 404 -> ``SecretNotFound``, sealed, 5xx,
refused connections and timeouts -> ``SourceUnavailable`` (retryable). Messages name the address,
mount, path and field and say what to fix; they never contain a token or a key.

With a comma-separated list of addresses (an HA cluster without a load balancer), a refused
connection, a timeout or a sealed node moves on to the next address.

Importing this module does not import hvac: it is imported when a provider is built.
"""

from __future__ import annotations

import collections
import dataclasses
import datetime
import logging
import os
import re
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, TypeVar
from urllib.parse import urlsplit

from secret_keyring.errors import (
    AccessDenied,
    ConfigurationError,
    InvalidSecret,
    SecretKeyringError,
    SecretNotFound,
    SourceError,
    SourceUnavailable,
    clears_locals,
)
from secret_keyring.keyring import (
    Keyring,
    Payload,
    check_max_fallbacks,
    member_names,
    parse_mapping,
)
from secret_keyring.providers.base import BaseProvider, require_extra

if TYPE_CHECKING:
    import hvac

__all__ = [
    "AUTH_METHODS",
    "DEFAULT_ADDR",
    "DEFAULT_TIMEOUT",
    "KUBERNETES_TOKEN_FILE",
    "VaultProvider",
    "VaultSettings",
    "resolve_settings",
    "translate_error",
]

logger = logging.getLogger(__name__)

T = TypeVar("T")

#: The Vault CLI's default address.
DEFAULT_ADDR: Final = "https://127.0.0.1:8200"
#: Seconds each HTTP request may take (connect and read) unless ``timeout`` says otherwise.
DEFAULT_TIMEOUT: Final = 5.0
#: Where Kubernetes mounts the pod's service-account token.
KUBERNETES_TOKEN_FILE: Final = "/var/run/secrets/kubernetes.io/serviceaccount/token"  # noqa: S105 - a path, not a credential
#: ``auth=`` values and the mount each uses by default (``auth_mount=`` overrides it).
AUTH_METHODS: Final[Mapping[str, str]] = {
    "token": "token",
    "approle": "approle",
    "kubernetes": "kubernetes",
    "jwt": "jwt",
    "cert": "cert",
    "aws": "aws",
    "userpass": "userpass",
}
_NEEDS_ROLE: Final = frozenset({"kubernetes", "jwt", "aws"})
#: A login token is renewed once this fraction of its TTL has passed.
RENEW_AFTER: Final = 2.0 / 3.0
_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})
_FALSE = frozenset({"0", "f", "F", "FALSE", "false", "False"})
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m)?$")
_RFC3339 = re.compile(
    r"^(\d{4})-(\d\d)-(\d\d)[Tt ](\d\d):(\d\d):(\d\d)(?:\.\d+)?(?:[Zz]|([+-])(\d\d):(\d\d))$"
)


# -- connection settings -------------------------------------------------------------------------


def _session_for_child(old: Any) -> Any:
    """A copy of a user's ``requests`` session for a forked child: same class, headers, auth,
    hooks, TLS and proxy settings and mounted adapters, but its own connection pools and locks.

    Each ``HTTPAdapter`` is copied with its own attributes (retries, pool sizes, whatever a
    subclass added, such as an SSL context) and rebuilds its pools the way requests does when
    it unpickles one; other adapters hold no pool of ours to replace and are kept.
    """
    requests_module = require_extra("requests", "vault")
    fresh = object.__new__(type(old))
    fresh.__dict__.update(old.__dict__)
    # A new jar (and lock): copying reads the old jar without taking its lock, which a thread
    # of the parent may have held at fork time.
    fresh.cookies = requests_module.cookies.cookiejar_from_dict({})
    fresh.cookies.update(old.cookies)
    fresh.adapters = collections.OrderedDict(
        (prefix, _adapter_for_child(adapter, requests_module))
        for prefix, adapter in old.adapters.items()
    )
    return fresh


def _adapter_for_child(adapter: Any, requests_module: Any) -> Any:
    if not isinstance(adapter, requests_module.adapters.HTTPAdapter):
        return adapter
    fresh = object.__new__(type(adapter))
    fresh.__dict__.update(
        (name, value)
        for name, value in adapter.__dict__.items()
        if name not in ("poolmanager", "proxy_manager")
    )
    # What unpickling does: new pool manager and proxy managers, built by the (sub)class's own
    # init_poolmanager, which finds the attributes copied above.
    fresh.__setstate__(adapter.__getstate__())
    return fresh


@dataclasses.dataclass(frozen=True)
class VaultSettings:
    """Resolved connection settings (no credentials: those are read at each login).

    Attributes:
        addresses: one address, or several for an HA cluster (tried in order on failure).
        namespace: the Vault Enterprise / OpenBao namespace, or ``None``.
        verify: ``True`` (system CAs), a CA bundle file or hashed CA directory, or ``False``
            only when ``VAULT_SKIP_VERIFY`` is set.
        client_cert: ``(certificate, key)`` files for TLS client authentication, or ``None``.
        timeout: seconds per HTTP request.
    """

    addresses: tuple[str, ...]
    namespace: str | None = None
    verify: bool | str = True
    client_cert: tuple[str, str] | None = None
    timeout: float = DEFAULT_TIMEOUT


def _env(environ: Mapping[str, str], name: str) -> tuple[str, str] | None:
    """``VAULT_NAME``, else ``BAO_NAME``: the first one set and non-empty, with its value."""
    for prefix in ("VAULT_", "BAO_"):
        value = environ.get(prefix + name)
        if value:
            return prefix + name, value
    return None


def _parse_addresses(raw: str, origin: str) -> tuple[str, ...]:
    addresses: list[str] = []
    for part in raw.split(","):
        address = part.strip().rstrip("/")
        if not address:
            continue
        if "@" in address:
            # Checked before anything echoes the address: a malformed one with a password
            # (https://user:secret@host:82OO) must not reach the message.
            raise ConfigurationError(
                f"{origin}: the address must not contain credentials (it has an '@'); set "
                "VAULT_TOKEN or choose an auth method with ?auth="
            )
        try:
            parts = urlsplit(address)
            parts.port  # noqa: B018 - raises ValueError for a malformed port
        except ValueError:
            parts = None
        if (
            parts is None
            or parts.scheme not in ("http", "https")
            or not parts.hostname
            or parts.query
            or parts.fragment
        ):
            raise ConfigurationError(
                f"{origin}: {address[:80]!r} is not a Vault address; write "
                "http(s)://HOST[:PORT], several separated by commas"
            )
        addresses.append(address)
    if not addresses:
        raise ConfigurationError(f"{origin} is empty; set it to http(s)://HOST[:PORT]")
    return tuple(addresses)


def _parse_bool(raw: str, origin: str) -> bool:
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise ConfigurationError(f"{origin} must be true or false (1/0), got {raw[:20]!r}")


def _parse_timeout(raw: str, origin: str) -> float:
    match = _DURATION.match(raw.strip())
    value = -1.0
    if match:
        unit = {"ms": 0.001, "s": 1.0, "m": 60.0}.get(match.group(2) or "s", 1.0)
        value = float(match.group(1)) * unit
    if not 0 < value <= 300:
        raise ConfigurationError(
            f"{origin} must be a duration between 0 and 300 seconds (5, 5s, 500ms), got "
            f"{raw[:20]!r}"
        )
    return value


def _existing_file(path: str, origin: str, what: str, *, directory: bool = False) -> str:
    expanded = str(Path(path).expanduser())
    ok = Path(expanded).is_dir() if directory else Path(expanded).is_file()
    if not ok:
        kind = "directory" if directory else "file"
        raise ConfigurationError(
            f"{origin}: {what} {kind} {path!r} does not exist or is not a {kind}; fix the path"
        )
    return expanded


def resolve_settings(
    *,
    addr: str | None = None,
    namespace: str | None = None,
    cacert: str | None = None,
    capath: str | None = None,
    client_cert: str | None = None,
    client_key: str | None = None,
    timeout: float | None = None,
    environ: Mapping[str, str] | None = None,
) -> VaultSettings:
    """Resolve connection settings the way the Vault CLI does.

    Each setting comes from the argument (a URL option), else ``VAULT_<NAME>``, else
    ``BAO_<NAME>``: ``ADDR`` (default ``https://127.0.0.1:8200``; a comma-separated list for HA),
    ``NAMESPACE``, ``CACERT`` (wins over ``CAPATH``), ``CAPATH``, ``CLIENT_CERT``, ``CLIENT_KEY``,
    ``CLIENT_TIMEOUT`` (default 5 seconds) and ``SKIP_VERIFY``, the only way to turn TLS
    verification off, which logs a WARNING.

    Raises:
        ConfigurationError: an address, file, boolean or duration is malformed or missing.
    """
    environ = os.environ if environ is None else environ

    def pick(value: str | None, name: str) -> tuple[str, str] | None:
        if value:
            return f"option {name.lower()}", value
        return _env(environ, name)

    found = pick(addr, "ADDR")
    addresses = _parse_addresses(found[1], found[0]) if found is not None else (DEFAULT_ADDR,)
    found_ns = pick(namespace, "NAMESPACE")
    found_ca = pick(cacert, "CACERT")
    found_capath = pick(capath, "CAPATH")
    verify: bool | str = True
    if found_ca is not None:
        verify = _existing_file(found_ca[1], found_ca[0], "CA certificate")
    elif found_capath is not None:
        verify = _existing_file(found_capath[1], found_capath[0], "CA", directory=True)
    skip = _env(environ, "SKIP_VERIFY")
    if skip is not None and _parse_bool(skip[1], skip[0]):
        logger.warning(
            "secret_keyring: %s is set: TLS certificates of %s are NOT verified; anyone on the "
            "network path can impersonate the server. Set VAULT_CACERT instead.",
            skip[0],
            ", ".join(addresses),
        )
        verify = False
    found_cert = pick(client_cert, "CLIENT_CERT")
    found_key = pick(client_key, "CLIENT_KEY")
    cert: tuple[str, str] | None = None
    if found_key is not None and found_cert is None:
        raise ConfigurationError(
            f"{found_key[0]} is set but no client certificate; set VAULT_CLIENT_CERT too"
        )
    if found_cert is not None:
        cert_file = _existing_file(found_cert[1], found_cert[0], "client certificate")
        key_file = (
            _existing_file(found_key[1], found_key[0], "client key")
            if found_key is not None
            else cert_file
        )
        cert = (cert_file, key_file)
    if timeout is None:
        found_timeout = _env(environ, "CLIENT_TIMEOUT")
        timeout = (
            _parse_timeout(found_timeout[1], found_timeout[0])
            if found_timeout is not None
            else DEFAULT_TIMEOUT
        )
    elif not 0 < timeout <= 300:
        raise ConfigurationError(f"timeout must be between 0 and 300 seconds, got {timeout!r}")
    return VaultSettings(
        addresses=addresses,
        namespace=found_ns[1] if found_ns is not None else None,
        verify=verify,
        client_cert=cert,
        timeout=float(timeout),
    )


def _credential(environ: Mapping[str, str], name: str) -> str | None:
    """A credential from ``VAULT_NAME``/``BAO_NAME`` or the file named by ``..._FILE``."""
    direct = _env(environ, name)
    if direct is not None:
        return direct[1].strip()
    via_file = _env(environ, name + "_FILE")
    if via_file is None:
        return None
    return _read_secret_file(via_file[1], via_file[0])


def _read_secret_file(path: str, origin: str) -> str:
    try:
        value = Path(path).expanduser().read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigurationError(
            f"{origin}: cannot read {path!r} ({type(exc).__name__}); check the path and the "
            "file's permissions",
        ) from exc
    except UnicodeDecodeError as exc:
        raise ConfigurationError(f"{origin}: {path!r} is not UTF-8 text") from exc
    if not value:
        raise ConfigurationError(f"{origin}: {path!r} is empty")
    return value


def _home(environ: Mapping[str, str]) -> Path:
    home = environ.get("HOME")
    return Path(home) if home else Path.home()


def _cli_token(environ: Mapping[str, str]) -> str | None:
    """``VAULT_TOKEN``/``BAO_TOKEN``, else the token ``vault login``/``bao login`` stored."""
    found = _env(environ, "TOKEN")
    if found is not None:
        return found[1].strip()
    token_file = _home(environ) / ".vault-token"
    try:
        token = token_file.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return token or None


# -- error translation ---------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _Where:
    """What a message names: the address, the KV location, the auth method."""

    address: str
    mount: str
    path: str
    field: str | None
    kv_version: int
    auth: str
    auth_mount: str
    timeout: float
    source: str

    def location(self) -> str:
        text = f"{self.address}: KV v{self.kv_version} mount {self.mount!r}, path {self.path!r}"
        if self.field:
            text += f", field {self.field!r}"
        return text

    def api_paths(self) -> str:
        if self.kv_version == 1:
            return f"{self.mount}/{self.path}"
        return f"{self.mount}/data/{self.path} (and {self.mount}/metadata/{self.path})"


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


def translate_error(  # noqa: PLR0911, PLR0912 - one ordered table, most specific case first
    exc: BaseException, where: _Where, action: str
) -> SecretKeyringError:
    """Map an hvac/requests exception to this library's tree. The one place that does it.

    ``action`` says what was being done: ``"login"``, ``"read"``, ``"read metadata"``,
    ``"write"``, ``"renew token"``... The caller raises the result ``from exc``.
    """
    if isinstance(exc, SecretKeyringError):
        return exc
    hvac_exceptions = require_extra("hvac.exceptions", "vault")
    requests_exceptions = require_extra("requests.exceptions", "vault")
    source = where.source
    loc = where.location()
    login = action == "login"
    who = f"auth={where.auth} at auth/{where.auth_mount}"
    # Transport first: an SSLError is also a ConnectionError, a ConnectTimeout also a Timeout.
    if isinstance(exc, requests_exceptions.SSLError):
        detail = str(exc)
        if "CERTIFICATE_VERIFY_FAILED" in detail or "certificate verify failed" in detail:
            fix = (
                "the server certificate is not signed by a trusted CA; set VAULT_CACERT (or "
                "?cacert=) to the CA bundle that signed it, or VAULT_CAPATH to a hashed CA "
                "directory"
            )
        else:
            fix = (
                "the TLS handshake failed; check that the address uses the right scheme and "
                "port, and the client certificate (VAULT_CLIENT_CERT, VAULT_CLIENT_KEY)"
            )
        return SourceError(f"{loc}: TLS error while trying to {action}: {fix}", source=source)
    if isinstance(exc, requests_exceptions.Timeout):
        return SourceUnavailable(
            f"{loc}: no answer within {where.timeout:g}s while trying to {action}; check that "
            "the server is up and reachable, or raise ?timeout= / VAULT_CLIENT_TIMEOUT",
            source=source,
        )
    if isinstance(exc, (requests_exceptions.InvalidURL, requests_exceptions.MissingSchema)):
        return ConfigurationError(
            f"{loc}: the address is not a valid URL; fix VAULT_ADDR or ?addr=", source=source
        )
    if isinstance(exc, requests_exceptions.ConnectionError):
        return SourceUnavailable(
            f"{loc}: cannot connect while trying to {action} (refused, reset or unknown "
            "host); check VAULT_ADDR (or ?addr=) and that the server is running",
            source=source,
        )
    if isinstance(exc, requests_exceptions.RequestException):
        return SourceUnavailable(
            f"{loc}: HTTP error while trying to {action} ({type(exc).__name__})", source=source
        )
    if isinstance(exc, (hvac_exceptions.Forbidden, hvac_exceptions.Unauthorized)):
        if login:
            return AccessDenied(
                f"{loc}: login with {who} was refused{_reason(exc)}; check the role, the "
                "credentials (for jwt/kubernetes: the bound audience and claims) and that the "
                f"{where.auth} auth method is enabled at auth/{where.auth_mount} (?auth_mount=)",
                source=source,
            )
        verb = "write" if action == "write" else "read"
        return AccessDenied(
            f"{loc}: permission denied trying to {action}{_reason(exc)}; the token (from "
            f"{who}) needs a policy granting {verb} on {where.api_paths()}",
            source=source,
        )
    if isinstance(exc, hvac_exceptions.InvalidRequest):
        if login:
            return AccessDenied(
                f"{loc}: login with {who} was rejected{_reason(exc)}; check the role name and "
                "the credentials",
                source=source,
            )
        if "unavailable for a brief period" in _vault_errors(exc):
            # KV v2 answers 400 while it upgrades its storage: a new or migrated mount, or a
            # standby waiting for the primary to finish. It passes on its own.
            return SourceUnavailable(
                f"{loc}: the KV engine is upgrading its storage{_reason(exc)}; retrying",
                source=source,
            )
        return SourceError(
            f"{loc}: the server rejected the request to {action}{_reason(exc)}", source=source
        )
    if isinstance(exc, hvac_exceptions.InvalidPath):
        if login:
            return ConfigurationError(
                f"{loc}: no {where.auth} auth method is enabled at auth/{where.auth_mount}"
                f"{_reason(exc)}; enable it or set ?auth_mount=",
                source=source,
            )
        return SecretNotFound(
            f"{loc}: nothing found trying to {action}{_reason(exc)}; check the mount and the "
            f"path (KV v{where.kv_version}: {where.api_paths()}), or write the secret with "
            "`secret-keyring init`",
            source=source,
        )
    if isinstance(exc, hvac_exceptions.VaultDown):
        reason = _vault_errors(exc)
        state = "is sealed" if "sealed" in reason.lower() else "is unavailable (503)"
        return SourceUnavailable(
            f"{loc}: the server {state} while trying to {action}{_reason(exc)}; unseal it or "
            "wait for a leader, then retry",
            source=source,
        )
    if isinstance(exc, hvac_exceptions.RateLimitExceeded):
        return SourceUnavailable(
            f"{loc}: throttled (429) while trying to {action}; retry later or raise the "
            "server's rate limit quota",
            source=source,
        )
    if isinstance(
        exc,
        (
            hvac_exceptions.InternalServerError,
            hvac_exceptions.BadGateway,
            hvac_exceptions.VaultNotInitialized,
            hvac_exceptions.UnexpectedError,
        ),
    ):
        return SourceUnavailable(
            f"{loc}: server error while trying to {action}{_reason(exc)}; retry, and check "
            "the server's logs",
            source=source,
        )
    if isinstance(exc, hvac_exceptions.VaultError):
        return SourceError(
            f"{loc}: {type(exc).__name__} while trying to {action}{_reason(exc)}", source=source
        )
    return SourceError(
        f"{loc}: unexpected {type(exc).__name__} while trying to {action}; the server's answer "
        "was not what a Vault/OpenBao KV engine sends",
        source=source,
    )


def _never_sent(exc: BaseException) -> bool:
    """Whether a transport error happened before the request reached a server.

    Only then may a write (a check-and-set) be retried on another address: after a reset or a
    read timeout the first server may have applied it.
    """
    requests_exceptions = require_extra("requests.exceptions", "vault")
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


# -- the provider --------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _Lease:
    """A login token's lifetime, measured on the provider's clock."""

    obtained_at: float
    ttl: float  # seconds; 0 means it does not expire
    renewable: bool


@dataclasses.dataclass(frozen=True, order=True)
class _VersionId:
    """A KV v2 version. The creation time tells apart two version 1s when the secret's metadata
    was deleted and the secret written again."""

    number: int
    created: str = ""


def _version_id(metadata: Mapping[str, Any]) -> _VersionId:
    return _VersionId(int(metadata.get("version") or 0), str(metadata.get("created_time") or ""))


@dataclasses.dataclass(frozen=True)
class _Version:
    """One KV v2 version as read: its payload, or why it cannot be used."""

    payload: Payload | None
    problem: str | None = None


def _parse_time(text: str) -> float | None:
    match = _RFC3339.match(text)
    if not match:
        return None
    year, month, day, hour, minute, second = (int(group) for group in match.groups()[:6])
    stamp = datetime.datetime(
        year, month, day, hour, minute, second, tzinfo=datetime.timezone.utc
    ).timestamp()
    if match.group(7):
        offset = int(match.group(8)) * 3600 + int(match.group(9)) * 60
        stamp -= offset if match.group(7) == "+" else -offset
    return stamp


def _is_live(info: object, now: float) -> bool:
    """Whether a KV v2 metadata version entry is neither destroyed nor deleted."""
    if not isinstance(info, Mapping) or info.get("destroyed"):
        return False
    deletion = info.get("deletion_time") or ""
    if not deletion:
        return True
    when = _parse_time(str(deletion))
    # A deletion time in the future (delete_version_after) has not happened yet.
    return when is not None and when > now


class VaultProvider(BaseProvider):
    """Reads a keyring from a KV v2 (default) or KV v1 secret in Vault or OpenBao.

    Args:
        mount: the KV engine's mount (``secret``).
        path: the secret's path inside the mount (``myapp/django``).
        field: the member of the KV data holding the key or keyring JSON. Without it, data with
            a ``current`` member is keyring JSON, else the ``secret_key`` member is used.
        kv_version: 2 (default) or 1.
        auth: ``token``, ``approle``, ``kubernetes``, ``jwt``, ``cert``, ``aws`` or ``userpass``.
        role: the role to log in as (required for ``kubernetes``, ``jwt`` and ``aws``; the
            certificate role name for ``cert``).
        auth_mount: where the auth method is mounted (default: its name).
        addr: the server address, or a comma-separated list for HA (``VAULT_ADDR``).
        namespace: the Vault Enterprise / OpenBao namespace (``VAULT_NAMESPACE``).
        cacert: a CA bundle file (``VAULT_CACERT``).
        capath: a hashed CA directory (``VAULT_CAPATH``).
        client_cert: a TLS client certificate file (``VAULT_CLIENT_CERT``).
        client_key: the client certificate's key file (``VAULT_CLIENT_KEY``).
        timeout: seconds per HTTP request (``VAULT_CLIENT_TIMEOUT``). These connection settings
            override the ``VAULT_*``/``BAO_*`` variables (see
            [resolve_settings][secret_keyring.providers.vault.resolve_settings]).
        max_fallbacks: for a plain key on KV v2, how many earlier versions become fallbacks.
        environ: the environment to read (default ``os.environ``).
        client: an hvac client to use instead of building one (its token is used for
            ``auth=token``).
        clock: monotonic clock, in seconds, used for token renewal.
        wall_clock: seconds since the epoch, to judge KV v2 deletion times.
        jwt_file: for ``kubernetes`` and ``jwt``, the file holding the JWT (kubernetes default:
            the service-account token; jwt default: ``VAULT_JWT`` or ``VAULT_JWT_FILE``).
        aws_region: the STS region the ``aws`` login request is signed for.
        aws_header_value: the ``X-Vault-AWS-IAM-Server-ID`` value, if the server requires one.

    Raises:
        ConfigurationError: an option is invalid, or a ``VAULT_*`` variable is malformed.
        ImportError: hvac is not installed (``pip install 'django-secret-keyring[vault]'``).
    """

    @property
    def backend_history(self) -> bool:
        """KV v2 keeps versions; KV v1 does not."""
        return self.kv_version == 2

    def __init__(
        self,
        mount: str,
        path: str,
        *,
        field: str | None = None,
        kv_version: int = 2,
        auth: str = "token",
        role: str | None = None,
        auth_mount: str | None = None,
        addr: str | None = None,
        namespace: str | None = None,
        cacert: str | None = None,
        capath: str | None = None,
        client_cert: str | None = None,
        client_key: str | None = None,
        timeout: float | None = None,
        max_fallbacks: int = 3,
        environ: Mapping[str, str] | None = None,
        client: hvac.Client | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        jwt_file: str | None = None,
        aws_region: str = "us-east-1",
        aws_header_value: str | None = None,
    ) -> None:
        require_extra("hvac", "vault")
        super().__init__(f"vault://{mount}/{path}" + (f"#{field}" if field else ""))
        source = self.source
        mount, path = mount.strip("/"), path.strip("/")
        if not mount or not path:
            raise ConfigurationError(
                f"{source}: expected a mount and a path, as in vault://secret/myapp/django",
                source=source,
            )
        if kv_version not in (1, 2):
            raise ConfigurationError(
                f"{source}: kv_version must be 1 or 2, got {kv_version!r}", source=source
            )
        if auth == "oidc":
            raise ConfigurationError(
                f"{source}: auth=oidc is an interactive browser login; a server process cannot "
                "use it. Use auth=jwt with a JWT from your identity provider (VAULT_JWT_FILE) "
                "and auth_mount=oidc if the role lives on the oidc mount",
                source=source,
            )
        if auth not in AUTH_METHODS:
            raise ConfigurationError(
                f"{source}: unknown auth method {auth[:40]!r}; use one of "
                + ", ".join(sorted(AUTH_METHODS)),
                source=source,
            )
        if auth in _NEEDS_ROLE and not role:
            raise ConfigurationError(
                f"{source}: auth={auth} needs a role, as in ?auth={auth}&role=web", source=source
            )
        check_max_fallbacks(max_fallbacks, source=source)
        self.mount = mount
        self.path = path
        self.field = field
        self.kv_version = kv_version
        self.auth = auth
        self.role = role
        self.auth_mount = (auth_mount or AUTH_METHODS[auth]).strip("/")
        self.max_fallbacks = max_fallbacks
        self.jwt_file = jwt_file
        self.aws_region = aws_region
        self.aws_header_value = aws_header_value
        self._environ = environ
        self._clock = clock
        self._wall_clock = wall_clock
        #: Connection settings, resolved once from the options and the environment.
        self.settings = resolve_settings(
            addr=addr,
            namespace=namespace,
            cacert=cacert,
            capath=capath,
            client_cert=client_cert,
            client_key=client_key,
            timeout=timeout,
            environ=self._env(),
        )
        if auth == "cert" and self.settings.client_cert is None:
            raise ConfigurationError(
                f"{source}: auth=cert needs a client certificate; set VAULT_CLIENT_CERT and "
                "VAULT_CLIENT_KEY (or ?client_cert= and ?client_key=)",
                source=source,
            )
        self._client: hvac.Client | None = client
        self._owns_client = client is None
        self._token: str | None = (client.token or None) if client is not None else None
        self._lease: _Lease | None = None
        self._address_index = 0
        self._metadata_readable = True
        self._versions: dict[_VersionId, _Version] = {}
        self._last: tuple[tuple[_VersionId, ...], Keyring] | None = None

    # -- public ---------------------------------------------------------------------------------

    @property
    def address(self) -> str:
        """The address in use (the first of the list until a failover moves on)."""
        return self.settings.addresses[self._address_index]

    @property
    def fetch_timeout(self) -> float:
        """Every request of one fetch taking its whole connect and read timeout on every
        address: a login, a renewal, the metadata, the current version and each fallback
        version, and one more login and read after a token turned out dead."""
        requests_per_fetch = 6 + self.max_fallbacks
        return 2 * self.settings.timeout * len(self.settings.addresses) * requests_per_fetch

    @clears_locals
    def fetch(self) -> Keyring:
        """Read the keyring; on KV v2, re-read data only for versions not read before.

        Raises:
            AccessDenied: login refused, or the token's policy does not allow the read.
            SecretNotFound: no such mount, path, version or field.
            SourceUnavailable: unreachable, sealed, 5xx or timed out (retryable).
            SourceError: any other failure (a TLS verification error, for one).
            ConfigurationError: credentials are missing from the environment.
            InvalidSecret: the data is not a usable keyring.
        """
        with self._lock:
            if self.kv_version == 1:
                return self._fetch_v1()
            return self._fetch_v2()

    @clears_locals
    def client(self) -> hvac.Client:
        """The authenticated hvac client this provider uses (logging in or renewing if due).

        Use [run][secret_keyring.providers.vault.VaultProvider.run] to call it with re-login,
        failover and error translation.

        Raises:
            SecretKeyringError: the login failed (translated like every other error).
        """
        with self._lock:
            return self._ready_client()

    @clears_locals
    def run(
        self,
        operation: Callable[[hvac.Client], T],
        *,
        action: str = "read",
        idempotent: bool = True,
    ) -> T:
        """Call ``operation(client)`` with this provider's authentication and error handling.

        The client is logged in (or its token renewed) first; a connection failure or a sealed
        node moves on to the next address (a read timeout only when ``idempotent``); a 403 from
        an expired or revoked token logs in again once and retries. Errors come out translated.
        The rotation code uses this to write with the same auth as the reader.

        Args:
            operation: receives the hvac client; its result is returned.
            action: what the operation does, for messages (``"read"``, ``"write"``...).
            idempotent: whether retrying on another address after a read timeout is safe.

        Raises:
            SecretKeyringError: translated by
                [translate_error][secret_keyring.providers.vault.translate_error].
        """
        with self._lock:
            return self._run(operation, action=action, idempotent=idempotent)

    @clears_locals
    def read_secret_data(self, version: int | None = None) -> tuple[dict[str, Any], int | None]:
        """Read the raw KV data (key material inside: never log it) and its version.

        Args:
            version: a KV v2 version (default: the latest). KV v1 has no versions.

        Returns:
            ``(data, version)``; the version is ``None`` on KV v1.

        Raises:
            SecretNotFound: no such secret, or that version is deleted or destroyed.
            SecretKeyringError: as for [fetch][secret_keyring.providers.vault.VaultProvider.fetch].
        """
        data, number, _ = self.read_secret_version(version)
        return data, number

    @clears_locals
    def read_secret_version(
        self, version: int | None = None
    ) -> tuple[dict[str, Any], int | None, float | None]:
        """As [read_secret_data][secret_keyring.providers.vault.VaultProvider.read_secret_data],
        plus when the version was written (the server's ``created_time``, epoch seconds;
        ``None`` on KV v1 or when the server does not say).

        Raises:
            SecretNotFound: no such secret, or that version is deleted or destroyed.
            SecretKeyringError: as for [fetch][secret_keyring.providers.vault.VaultProvider.fetch].
        """
        with self._lock:
            if self.kv_version == 1:
                if version is not None:
                    raise ConfigurationError(
                        f"{self.source}: KV v1 has no versions", source=self.source
                    )
                return self._read_v1(), None, None
            data, found = self._read_v2(version)
            if data is None:
                raise SecretNotFound(
                    f"{self._where().location()}: version {found.number} is deleted or "
                    "destroyed; undelete it or write a new version",
                    source=self.source,
                )
            return data, found.number, _parse_time(found.created)

    # -- fork safety ----------------------------------------------------------------------------

    def _after_fork(self) -> None:
        super()._after_fork()
        client = self._client
        if client is None:
            return
        if self._owns_client:
            # A new client (and connection pool) is built on the next fetch; the token and its
            # lease stay valid in the child, so it does not log in again.
            self._client = None
        else:
            client.session = _session_for_child(client.session)

    # -- KV reads -------------------------------------------------------------------------------

    def _fetch_v1(self) -> Keyring:
        data = self._read_v1()
        return self._payload(data).to_keyring(version=None, source=self.source)

    def _read_v1(self) -> dict[str, Any]:
        response = self._run(
            lambda client: client.secrets.kv.v1.read_secret(self.path, mount_point=self.mount),
            action="read",
        )
        data = response.get("data") if isinstance(response, Mapping) else None
        if not isinstance(data, dict):
            raise self._unexpected("read", "no data object in the KV v1 response")
        return data

    def _read_v2(self, version: int | None) -> tuple[dict[str, Any] | None, _VersionId]:
        """Data and version; data is ``None`` when that version is deleted or destroyed."""
        action = "read" if version is None else f"read version {version}"
        try:
            response = self._run(
                lambda client: client.secrets.kv.v2.read_secret_version(
                    self.path,
                    version=version,
                    mount_point=self.mount,
                    raise_on_deleted_version=True,
                ),
                action=action,
            )
        except SecretNotFound as exc:
            # A deleted or destroyed version answers 404 with its metadata.
            body = getattr(exc.__cause__, "json", None)
            data = body.get("data") if isinstance(body, Mapping) else None
            metadata = data.get("metadata") if isinstance(data, Mapping) else None
            if isinstance(metadata, Mapping) and metadata.get("version"):
                return None, _version_id(metadata)
            raise
        body = response.get("data") if isinstance(response, Mapping) else None
        metadata = body.get("metadata") if isinstance(body, Mapping) else None
        if not isinstance(body, Mapping) or not isinstance(metadata, Mapping):
            raise self._unexpected(action, "no data and metadata in the KV v2 response")
        data = body.get("data")
        if data is not None and not isinstance(data, dict):
            raise self._unexpected(action, "the KV v2 data is not an object")
        return data, _version_id(metadata)

    def _read_metadata(self) -> Mapping[str, Any] | None:
        """The KV v2 metadata, or ``None`` when the token may not read it."""
        if not self._metadata_readable:
            return None
        try:
            response = self._run(
                lambda client: client.secrets.kv.v2.read_secret_metadata(
                    self.path, mount_point=self.mount
                ),
                action="read metadata",
            )
        except AccessDenied as exc:
            if "/metadata/" not in str(getattr(exc.__cause__, "url", "")):
                raise
            return None  # many policies grant only MOUNT/data/PATH: see _fetch_v2
        data = response.get("data") if isinstance(response, Mapping) else None
        if not isinstance(data, Mapping):
            raise self._unexpected("read metadata", "no data object in the metadata response")
        return data

    def _fetch_v2(self) -> Keyring:
        if self._last is None and self._metadata_readable:
            # First fetch: the latest data carries its version, and keyring JSON needs nothing
            # else, so start-up costs one request. Plain keys go on to read the metadata.
            head = self._read_latest()
            if head.payload is not None and head.payload.kind == "keyring":
                return self._assemble(next(iter(self._versions)), [])
        metadata = self._read_metadata()
        if metadata is None:
            self._read_latest()  # AccessDenied naming the data path if that is denied too
            if self._metadata_readable:
                self._metadata_readable = False
                logger.warning(
                    "secret_keyring: %s: the token may read %s/data/%s but not %s/metadata/%s; "
                    "every refresh now reads the data, and plain keys get no fallbacks from "
                    "older versions. Grant read on the metadata path to fix this.",
                    self.source,
                    self.mount,
                    self.path,
                    self.mount,
                    self.path,
                )
            return self._assemble(next(iter(self._versions)), [])
        versions = metadata.get("versions") or {}
        if not isinstance(versions, Mapping):
            raise self._unexpected("read metadata", "'versions' is not an object")
        number = int(metadata.get("current_version") or 0)
        now = self._wall_clock()
        info = versions.get(str(number))
        if number == 0 or not isinstance(info, Mapping):
            raise SecretNotFound(
                f"{self._where().location()}: the secret has no versions; write one "
                "(`secret-keyring init`)",
                source=self.source,
            )
        if not _is_live(info, now):
            raise self._deleted(number)
        older = sorted(
            (
                _VersionId(int(key), str(entry.get("created_time") or ""))
                for key, entry in versions.items()
                if str(key).isdigit()
                and int(key) < number
                and isinstance(entry, Mapping)
                and _is_live(entry, now)
            ),
            reverse=True,
        )
        return self._assemble(_VersionId(number, str(info.get("created_time") or "")), older)

    def _read_latest(self) -> _Version:
        """Read the latest version's data and make it the only cached version."""
        data, current = self._read_v2(None)
        if data is None:
            raise self._deleted(current.number)
        entry = self._versions.get(current) or _Version(self._payload(data))
        self._versions = {current: entry}
        return entry

    def _deleted(self, number: int) -> SecretNotFound:
        return SecretNotFound(
            f"{self._where().location()}: the latest version ({number}) is deleted or destroyed; "
            "undelete it or write a new version",
            source=self.source,
        )

    def _version(self, version: _VersionId) -> _Version:
        """A version's payload, read once: versions never change."""
        known = self._versions.get(version)
        if known is not None:
            return known
        data, _ = self._read_v2(version.number)
        if data is None:
            entry = _Version(None, "deleted or destroyed")
        else:
            try:
                entry = _Version(self._payload(data, number=version.number))
            except (InvalidSecret, SecretNotFound) as exc:
                entry = _Version(None, f"{type(exc).__name__}: {exc}")
        self._versions[version] = entry
        return entry

    def _assemble(self, current: _VersionId, older: list[_VersionId]) -> Keyring:
        """The keyring of ``current`` plus, for a plain key, the live ``older`` versions."""
        head = self._versions.get(current)
        if head is None or head.payload is None:
            data, _ = self._read_v2(current.number)
            if data is None:
                raise self._deleted(current.number)
            head = _Version(self._payload(data))
            self._versions[current] = head
        payload = head.payload
        if payload is None:  # pragma: no cover - assigned just above
            raise self._deleted(current.number)
        used = [current]
        examined = [current]
        history: list[str] = []
        if payload.kind == "plain":
            for version in older:
                if len(history) >= self.max_fallbacks:
                    break
                entry = self._version(version)
                examined.append(version)
                if entry.payload is None:
                    if entry.problem != "deleted or destroyed":
                        logger.warning(
                            "secret_keyring: %s: version %d is not used as a fallback (%s)",
                            self.source,
                            version.number,
                            entry.problem,
                        )
                    continue
                used.append(version)
                history.append(entry.payload.current)
        self._versions = {key: value for key, value in self._versions.items() if key in examined}
        window = tuple(used)
        if self._last is not None and self._last[0] == window:
            return self._last[1]
        keyring = payload.to_keyring(
            version=str(current.number), source=self.source, history=history
        )
        self._last = (window, keyring)
        return keyring

    def _payload(self, data: Mapping[str, Any], *, number: int | None = None) -> Payload:
        if self.field is not None and self.field not in data:
            names = member_names(data) or "none"
            version = f" version {number}" if number is not None else ""
            raise SecretNotFound(
                f"{self._where().location()}: the secret{version} has no field {self.field!r} "
                f"(it has {names}); fix the '#field' part of the source URL",
                source=self.source,
            )
        return parse_mapping(data, source=self.source, field=self.field, default_field="secret_key")

    # -- requests with auth, failover and translation -------------------------------------------

    def _env(self) -> Mapping[str, str]:
        return os.environ if self._environ is None else self._environ

    def _where(self) -> _Where:
        return _Where(
            address=self.address,
            mount=self.mount,
            path=self.path,
            field=self.field,
            kv_version=self.kv_version,
            auth=self.auth,
            auth_mount=self.auth_mount,
            timeout=self.settings.timeout,
            source=self.source,
        )

    def _translate(self, exc: BaseException, action: str) -> SecretKeyringError:
        return translate_error(exc, self._where(), action)

    def _unexpected(self, action: str, what: str) -> SourceError:
        return SourceError(
            f"{self._where().location()}: unexpected answer to {action}: {what}; is this a KV "
            f"v{self.kv_version} mount?",
            source=self.source,
        )

    def _run(
        self,
        operation: Callable[[hvac.Client], T],
        *,
        action: str,
        idempotent: bool = True,
    ) -> T:
        hvac_exceptions = require_extra("hvac.exceptions", "vault")
        retried = False
        while True:
            client = self._ready_client()
            try:
                return self._on_any_address(client, operation, idempotent=idempotent)
            except hvac_exceptions.Forbidden as exc:
                if not retried and self._token_is_dead(client):
                    retried = True
                    logger.info(
                        "secret_keyring: %s: the Vault token expired or was revoked; "
                        "logging in again (auth=%s)",
                        self.source,
                        self.auth,
                    )
                    self._login(client, replacing=True)
                    continue
                raise self._translate(exc, action) from exc
            except SecretKeyringError:
                raise  # an operation may raise ours; it needs no translation
            except Exception as exc:
                raise self._translate(exc, action) from exc

    def _on_any_address(
        self, client: hvac.Client, operation: Callable[[hvac.Client], T], *, idempotent: bool
    ) -> T:
        """Run ``operation``, moving to the next address on a connection failure or 503."""
        hvac_exceptions = require_extra("hvac.exceptions", "vault")
        requests_exceptions = require_extra("requests.exceptions", "vault")
        addresses = self.settings.addresses
        for attempt in range(len(addresses)):
            try:
                return operation(client)
            except Exception as exc:
                failover = isinstance(exc, hvac_exceptions.VaultDown) or (
                    _never_sent(exc)
                    if not idempotent
                    else isinstance(
                        exc, (requests_exceptions.ConnectionError, requests_exceptions.Timeout)
                    )
                    and not isinstance(exc, requests_exceptions.SSLError)
                )
                if not failover or attempt == len(addresses) - 1:
                    raise
                failed = self.address
                self._address_index = (self._address_index + 1) % len(addresses)
                client.url = self.address
                logger.warning(
                    "secret_keyring: %s: %s failed (%s); trying %s",
                    self.source,
                    failed,
                    type(exc).__name__,
                    self.address,
                )
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises

    def _ready_client(self) -> hvac.Client:
        client = self._client
        if client is None:
            client = self._client = self._build_client()
        if not self._token:
            self._login(client)
        else:
            self._renew_if_due(client)
        return client

    def _build_client(self) -> hvac.Client:
        hvac_module = require_extra("hvac", "vault")
        settings = self.settings
        options: dict[str, Any] = {
            "url": self.address,
            # Explicit values everywhere: hvac would otherwise read VAULT_* from os.environ
            # and ~/.vault-token on its own, bypassing ``environ`` and our checks.
            "token": self._token or "",
            "cert": settings.client_cert or (),
            "verify": settings.verify,
            "timeout": settings.timeout,
            "namespace": settings.namespace,
        }
        client: hvac.Client = hvac_module.Client(**options)
        return client

    # -- authentication -------------------------------------------------------------------------

    def _token_is_dead(self, client: hvac.Client) -> bool:
        """After a 403: is the token itself expired or revoked (not merely lacking a policy)?"""
        if self.auth == "token":
            fresh = _cli_token(self._env())
            return fresh is not None and fresh != self._token
        hvac_exceptions = require_extra("hvac.exceptions", "vault")
        requests_exceptions = require_extra("requests.exceptions", "vault")
        try:
            self._on_any_address(client, lambda c: c.auth.token.lookup_self(), idempotent=True)
        except (hvac_exceptions.Forbidden, hvac_exceptions.Unauthorized):
            return True
        except (hvac_exceptions.VaultError, requests_exceptions.RequestException):
            return False  # unknown: report the original 403
        return False

    def _renew_if_due(self, client: hvac.Client) -> None:
        lease = self._lease
        if lease is None or lease.ttl <= 0:
            return  # a token from the environment, or one that never expires
        age = self._clock() - lease.obtained_at
        if age < lease.ttl * RENEW_AFTER:
            return
        if lease.renewable and age < lease.ttl:
            hvac_exceptions = require_extra("hvac.exceptions", "vault")
            try:
                response = self._on_any_address(
                    client, lambda c: c.auth.token.renew_self(), idempotent=True
                )
            except (
                hvac_exceptions.Forbidden,
                hvac_exceptions.InvalidRequest,
                hvac_exceptions.Unauthorized,
            ) as exc:
                logger.info(
                    "secret_keyring: %s: token renewal refused (%s); logging in again",
                    self.source,
                    type(exc).__name__,
                )
            except Exception as exc:
                raise self._translate(exc, "renew token") from exc
            else:
                auth = response.get("auth") if isinstance(response, Mapping) else None
                ttl = float((auth or {}).get("lease_duration") or 0)
                # Renewing is worth it only while it still buys time (max TTL not reached).
                if ttl > lease.ttl * (1.0 - RENEW_AFTER):
                    self._lease = _Lease(self._clock(), ttl, bool((auth or {}).get("renewable")))
                    logger.debug("secret_keyring: %s: token renewed for %.0fs", self.source, ttl)
                    return
        self._login(client, replacing=True)

    def _login(self, client: hvac.Client, *, replacing: bool = False) -> None:
        """Obtain a token for ``client`` with the configured auth method."""
        if self.auth == "token":
            token = self._token if self._token and not replacing else None
            token = token or _cli_token(self._env())
            if not token:
                raise ConfigurationError(
                    f"{self.source}: no Vault token; set VAULT_TOKEN (or BAO_TOKEN), log in with "
                    "the CLI (~/.vault-token), or choose an auth method with ?auth=",
                    source=self.source,
                )
            client.token = token
            self._token = token
            self._lease = None
            return
        login = self._login_call()
        try:
            response = self._on_any_address(client, login, idempotent=True)
        except Exception as exc:
            raise self._translate(exc, "login") from exc
        auth = response.get("auth") if isinstance(response, Mapping) else None
        token = (auth or {}).get("client_token")
        if not isinstance(auth, Mapping) or not isinstance(token, str) or not token:
            raise self._unexpected("login", "no client token in the login response")
        client.token = token
        self._token = token
        ttl = float(auth.get("lease_duration") or 0)
        renewable = bool(auth.get("renewable"))
        self._lease = _Lease(self._clock(), ttl, renewable)
        logger.info(
            "secret_keyring: %s: logged in to %s with auth=%s at auth/%s (token TTL %s, %s)",
            self.source,
            self.address,
            self.auth,
            self.auth_mount,
            f"{ttl:.0f}s" if ttl else "none",
            "renewable" if renewable else "not renewable",
        )

    def _login_call(self) -> Callable[[hvac.Client], Any]:
        """Read the credentials now (files may have been rotated) and return the login call."""
        environ = self._env()
        mount = self.auth_mount
        source = self.source
        if self.auth == "approle":
            role_id = _credential(environ, "ROLE_ID")
            if not role_id:
                raise ConfigurationError(
                    f"{source}: auth=approle needs VAULT_ROLE_ID (or VAULT_ROLE_ID_FILE) and "
                    "usually VAULT_SECRET_ID (or VAULT_SECRET_ID_FILE)",
                    source=source,
                )
            secret_id = _credential(environ, "SECRET_ID")
            return lambda c: c.auth.approle.login(role_id, secret_id, mount_point=mount)
        if self.auth in ("kubernetes", "jwt"):
            jwt = self._jwt()
            role = self.role
            if self.auth == "kubernetes":
                return lambda c: c.auth.kubernetes.login(role, jwt, mount_point=mount)
            return lambda c: c.auth.jwt.jwt_login(role, jwt, path=mount)
        if self.auth == "cert":
            body = {"name": self.role} if self.role else {}
            # The TLS client certificate is the credential; the session already presents it.
            return lambda c: c.adapter.login(f"/v1/auth/{mount}/login", json=body)
        if self.auth == "userpass":
            username = _credential(environ, "USERNAME")
            password = _credential(environ, "PASSWORD")
            if not username or not password:
                raise ConfigurationError(
                    f"{source}: auth=userpass needs VAULT_USERNAME and VAULT_PASSWORD (or "
                    "VAULT_PASSWORD_FILE)",
                    source=source,
                )
            return lambda c: c.auth.userpass.login(username, password, mount_point=mount)
        # aws: sign sts:GetCallerIdentity with the ambient credentials (env, profile, role...).
        return self._aws_login()

    def _jwt(self) -> str:
        source = self.source
        if self.jwt_file:
            return _read_secret_file(self.jwt_file, f"{source}: jwt_file")
        if self.auth == "jwt":
            jwt = _credential(self._env(), "JWT")
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
        return _read_secret_file(path, f"{source}: service-account token")

    def _aws_login(self) -> Callable[[hvac.Client], Any]:
        botocore_session = require_extra("botocore.session", "aws")
        credentials = botocore_session.Session().get_credentials()
        if credentials is None:
            raise ConfigurationError(
                f"{self.source}: auth=aws found no AWS credentials (environment, profile, "
                "container or instance role); configure them as for the AWS CLI",
                source=self.source,
            )
        frozen = credentials.get_frozen_credentials()
        role, region, header, mount = (
            self.role,
            self.aws_region,
            self.aws_header_value,
            self.auth_mount,
        )
        return lambda c: c.auth.aws.iam_login(
            frozen.access_key,
            frozen.secret_key,
            session_token=frozen.token,
            header_value=header,
            role=role,
            region=region,
            mount_point=mount,
        )
