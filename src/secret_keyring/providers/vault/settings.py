"""Vault/OpenBao connection settings and credentials, resolved the way the Vault CLI does.

Each setting comes from a URL option, else ``VAULT_<NAME>``, else ``BAO_<NAME>``. Credentials
(tokens, role and secret ids, JWTs, passwords) are never settings: the session reads them from
the environment or their files at each login, so a rotated file is picked up.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Final, TypedDict
from urllib.parse import urlsplit

from secret_keyring._config import MAX_REQUEST_TIMEOUT, is_seconds
from secret_keyring._record import Record
from secret_keyring.errors import ConfigurationError

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = [
    "CONNECTION_OPTIONS",
    "DEFAULT_TIMEOUT",
    "ConnectionOptions",
    "VaultSettings",
    "cli_token",
    "credential",
    "env_value",
    "parse_timeout",
    "read_secret_file",
    "resolve_settings",
]

logger = logging.getLogger(__name__)

#: Seconds each HTTP request may take (connect and read) unless ``timeout`` says otherwise.
DEFAULT_TIMEOUT: Final = 5.0
_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})
_FALSE = frozenset({"0", "f", "F", "FALSE", "false", "False"})
#: A duration; compiled on first use (by ``re``'s cache), not by every import.
_DURATION = r"^(\d+(?:\.\d+)?)(ms|s|m)?$"


class VaultSettings(Record):
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


def env_value(environ: Mapping[str, str], name: str) -> tuple[str, str] | None:
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


def parse_timeout(raw: str, origin: str) -> float:
    """A duration (``5``, ``5s``, ``500ms``, ``1m``) as seconds: the one check of ``timeout``,
    whether it comes from ``?timeout=``, ``VAULT_CLIENT_TIMEOUT`` or an argument.

    Raises:
        ConfigurationError: not a duration, or outside (0, 300] seconds.
    """
    match = re.match(_DURATION, raw.strip())
    value = -1.0
    if match:
        unit = {"ms": 0.001, "s": 1.0, "m": 60.0}.get(match.group(2) or "s", 1.0)
        value = float(match.group(1)) * unit
    if not is_seconds(value, minimum=0.0, exclusive=True, maximum=MAX_REQUEST_TIMEOUT):
        raise ConfigurationError(
            f"{origin} must be a duration between 0 and {MAX_REQUEST_TIMEOUT:.0f} seconds (5, 5s, "
            f"500ms), got {raw[:20]!r}"
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


class ConnectionOptions(TypedDict, total=False):
    """Connection settings given as URL options or arguments (``?addr=``, ``addr=``); each
    one overrides ``VAULT_<NAME>`` and ``BAO_<NAME>``.

    Attributes:
        addr: the server address, or a comma-separated list for HA (``VAULT_ADDR``).
        namespace: the Vault Enterprise / OpenBao namespace (``VAULT_NAMESPACE``).
        cacert: a CA bundle file (``VAULT_CACERT``).
        capath: a hashed CA directory (``VAULT_CAPATH``).
        client_cert: a TLS client certificate file (``VAULT_CLIENT_CERT``).
        client_key: the client certificate's key file (``VAULT_CLIENT_KEY``).
        timeout: seconds per HTTP request (``VAULT_CLIENT_TIMEOUT``).
    """

    addr: str | None
    namespace: str | None
    cacert: str | None
    capath: str | None
    client_cert: str | None
    client_key: str | None
    timeout: float | None


#: The names of [ConnectionOptions][secret_keyring.providers.vault.settings.ConnectionOptions].
CONNECTION_OPTIONS: Final = tuple(ConnectionOptions.__annotations__)


def resolve_settings(
    *,
    environ: Mapping[str, str] | None = None,
    **options: Unpack[ConnectionOptions],
) -> VaultSettings:
    """Resolve connection settings the way the Vault CLI does, but with no default address.

    Each setting comes from ``options`` (URL options or arguments), else ``VAULT_<NAME>``,
    else ``BAO_<NAME>``: ``ADDR`` (required; a comma-separated list for HA), ``NAMESPACE``,
    ``CACERT`` (wins over ``CAPATH``), ``CAPATH``, ``CLIENT_CERT``, ``CLIENT_KEY``,
    ``CLIENT_TIMEOUT`` (default 5 seconds; option ``timeout``) and ``SKIP_VERIFY``, the only way
    to turn TLS verification off, which logs a WARNING.

    Raises:
        ConfigurationError: no address is given, or an address, file, boolean or duration is
            malformed or missing.
    """
    environ = os.environ if environ is None else environ
    given: Mapping[str, object] = options

    def pick(name: str) -> tuple[str, str] | None:
        value = given.get(name.lower())
        if value:
            return f"option {name.lower()}", str(value)
        return env_value(environ, name)

    found = pick("ADDR")
    if found is None:
        # The Vault CLI falls back to https://127.0.0.1:8200; a process that meant another
        # server would wait out its whole start-up timeout against a closed local port and
        # then blame the network. A local server is one `?addr=` or VAULT_ADDR away.
        raise ConfigurationError(
            "no Vault address: VAULT_ADDR (or BAO_ADDR) is not set and the source URL has no "
            "?addr= option; export VAULT_ADDR=https://vault.example.com:8200 (for a local dev "
            "server, VAULT_ADDR=http://127.0.0.1:8200) or add ?addr=... to the URL"
        )
    addresses = _parse_addresses(found[1], found[0])
    found_ns = pick("NAMESPACE")
    found_ca = pick("CACERT")
    found_capath = pick("CAPATH")
    verify: bool | str = True
    if found_ca is not None:
        verify = _existing_file(found_ca[1], found_ca[0], "CA certificate")
    elif found_capath is not None:
        verify = _existing_file(found_capath[1], found_capath[0], "CA", directory=True)
    skip = env_value(environ, "SKIP_VERIFY")
    if skip is not None and _parse_bool(skip[1], skip[0]):
        logger.warning(
            "secret_keyring: %s is set: TLS certificates of %s are NOT verified; anyone on the "
            "network path can impersonate the server. Set VAULT_CACERT instead.",
            skip[0],
            ", ".join(addresses),
        )
        verify = False
    found_cert = pick("CLIENT_CERT")
    found_key = pick("CLIENT_KEY")
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
    timeout = options.get("timeout")
    if timeout is None:
        found_timeout = env_value(environ, "CLIENT_TIMEOUT")
        timeout = (
            parse_timeout(found_timeout[1], found_timeout[0])
            if found_timeout is not None
            else DEFAULT_TIMEOUT
        )
    elif not is_seconds(timeout, minimum=0.0, exclusive=True, maximum=MAX_REQUEST_TIMEOUT):
        raise ConfigurationError(
            f"timeout must be between 0 and {MAX_REQUEST_TIMEOUT:.0f} seconds, got {timeout!r}"
        )
    return VaultSettings(
        addresses=addresses,
        namespace=found_ns[1] if found_ns is not None else None,
        verify=verify,
        client_cert=cert,
        timeout=float(timeout),
    )


def credential(environ: Mapping[str, str], name: str) -> str | None:
    """A credential from ``VAULT_NAME``/``BAO_NAME`` or the file named by ``..._FILE``."""
    direct = env_value(environ, name)
    if direct is not None:
        return direct[1].strip()
    via_file = env_value(environ, name + "_FILE")
    if via_file is None:
        return None
    return read_secret_file(via_file[1], via_file[0])


def read_secret_file(path: str, origin: str) -> str:
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


def cli_token(environ: Mapping[str, str]) -> str | None:
    """``VAULT_TOKEN``/``BAO_TOKEN``, else the token ``vault login``/``bao login`` stored."""
    found = env_value(environ, "TOKEN")
    if found is not None:
        return found[1].strip()
    token_file = _home(environ) / ".vault-token"
    try:
        token = token_file.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return token or None
