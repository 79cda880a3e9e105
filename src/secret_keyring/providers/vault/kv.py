"""The Vault/OpenBao KV reader: a keyring from a KV v2 (default) or KV v1 secret.

How a fetch reads the secret:

* **KV v2**: ``GET MOUNT/metadata/PATH`` gives ``current_version`` and the state of each
  version. Versions are immutable, so their parsed payloads are kept by number: a fetch reads
  ``MOUNT/data/PATH?version=N`` only for versions it has not read yet, and an unchanged secret
  costs one metadata read. For a plain key, the earlier live versions (deleted and destroyed ones
  skipped) become the fallbacks, newest first, up to ``max_fallbacks``. A token that may read the
  data but not the metadata still works: the provider then reads the latest data each time.
* **KV v1**: ``GET MOUNT/PATH`` at every fetch; no versions, so no history.

Everything between the reader and the server (settings, login, renewal, failover, error
translation) is the [VaultSession][secret_keyring.providers.vault.session.VaultSession]'s, which
the rotation (``secret_keyring.rotation.vault``) uses too.
"""

from __future__ import annotations

import datetime
import logging
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, cast

from secret_keyring._record import Record
from secret_keyring.errors import (
    AccessDenied,
    ConfigurationError,
    InvalidSecret,
    SecretNotFound,
    clears_locals,
)
from secret_keyring.keyring import DEFAULT_FIELD, Keyring, check_max_fallbacks, member_names
from secret_keyring.payload import Payload, parse_mapping
from secret_keyring.providers.base import BaseProvider, require_extra
from secret_keyring.providers.vault.auth import Login
from secret_keyring.providers.vault.errors import KvPath, VersionGone
from secret_keyring.providers.vault.session import VaultSession
from secret_keyring.providers.vault.settings import (
    CONNECTION_OPTIONS,
    ConnectionOptions,
    VaultSettings,
    parse_timeout,
)
from secret_keyring.urls import AWS_REGION, SourceURL, path_segments

if TYPE_CHECKING:
    import hvac
    from typing_extensions import Unpack

    from secret_keyring.rotation import Rotator

__all__ = ["VaultProvider"]

logger = logging.getLogger(__name__)

#: Every ASCII digit as ``d``: the shape of a time stamp, for ``_parse_time``.
_SHAPE = str.maketrans("0123456789", "dddddddddd")
_FORBIDDEN = 403


class _VersionId(Record):
    """A KV v2 version. The creation time tells apart two version 1s when the secret's metadata
    was deleted and the secret written again."""

    number: int
    created: str = ""

    def __lt__(self, other: _VersionId) -> bool:
        return (self.number, self.created) < (other.number, other.created)


def _version_id(metadata: Mapping[str, Any]) -> _VersionId:
    return _VersionId(int(metadata.get("version") or 0), str(metadata.get("created_time") or ""))


class _Version(Record):
    """One KV v2 version as read: its payload, or why it cannot be used."""

    payload: Payload | None
    problem: str | None = None


def _parse_time(text: str) -> float | None:
    """Seconds since the epoch of an RFC 3339 time as Vault writes it
    (``2026-03-01T12:00:00.123456789Z``, or with a ``+01:30`` offset; the fraction of a second
    is dropped), ``None`` for anything else.

    Checked by its shape rather than by a regular expression: every first fetch parses one, and
    compiling the expression cost about a million instructions, nearly all that a first fetch
    added to the hvac read it makes.
    """
    shape = text.translate(_SHAPE)
    head, zone = shape[:19], shape[19:]
    if head[:10] + head[11:] != "dddd-dd-dddd:dd:dd" or head[10:11] not in ("T", "t", " "):
        return None
    if zone.startswith(".d"):
        zone = zone[1:].lstrip("d")
    if zone in ("Z", "z"):
        offset = 0
    elif zone in ("+dd:dd", "-dd:dd"):
        offset = int(text[-5:-3]) * 3600 + int(text[-2:]) * 60
        offset = offset if zone[0] == "+" else -offset
    else:
        return None
    try:
        stamp = datetime.datetime(
            int(text[0:4]),
            int(text[5:7]),
            int(text[8:10]),
            int(text[11:13]),
            int(text[14:16]),
            int(text[17:19]),
            tzinfo=datetime.timezone.utc,
        )
    except ValueError:  # a month 13, a February 30th
        return None
    return stamp.timestamp() - offset


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
        **connection: ``addr``, ``namespace``, ``cacert``, ``capath``, ``client_cert``,
            ``client_key`` and ``timeout``
            ([ConnectionOptions][secret_keyring.providers.vault.settings.ConnectionOptions]);
            they override the ``VAULT_*``/``BAO_*`` variables.

    Raises:
        ConfigurationError: an option is invalid, or a ``VAULT_*`` variable is malformed.
        ImportError: hvac is not installed (``pip install 'django-secret-keyring[vault]'``).
    """

    #: The ``?option=`` names a ``vault://`` URL accepts.
    url_options: ClassVar[frozenset[str]] = frozenset(
        {
            "kv_version",
            "auth",
            "role",
            "auth_mount",
            "jwt_file",
            "aws_region",
            "aws_header_value",
            *CONNECTION_OPTIONS,
        }
    )

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
        max_fallbacks: int = 3,
        environ: Mapping[str, str] | None = None,
        client: hvac.Client | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        jwt_file: str | None = None,
        aws_region: str = "us-east-1",
        aws_header_value: str | None = None,
        **connection: Unpack[ConnectionOptions],
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
        self.mount = mount
        self.path = path
        self.field = field
        self.kv_version = kv_version
        #: For a plain key on KV v2: how many earlier versions a fetch takes as fallbacks.
        self.history_fallbacks = check_max_fallbacks(max_fallbacks, source=source)
        self._wall_clock = wall_clock
        #: Settings, client, login, renewal, failover and error translation; the rotation
        #: writes through it too.
        self.session = VaultSession(
            KvPath(mount, path, field, kv_version),
            Login(
                method=auth,
                mount=(auth_mount or auth).strip("/"),
                role=role,
                source=source,
                jwt_file=jwt_file,
                aws_region=aws_region,
                aws_header_value=aws_header_value,
            ),
            connection=connection,
            environ=environ,
            client=client,
            clock=clock,
        )
        self._metadata_readable = True
        self._versions: dict[_VersionId, _Version] = {}
        self._last: tuple[tuple[_VersionId, ...], Keyring] | None = None

    @classmethod
    def from_url(cls, url: SourceURL, *, max_fallbacks: int = 3) -> VaultProvider:
        """The provider a parsed ``vault://MOUNT/PATH[?options][#field]`` URL describes.

        Raises:
            ConfigurationError: a malformed location or option.
        """
        redacted = url.redacted
        head = url.location.split("/", 1)[0]
        if "@" in head:
            raise ConfigurationError(
                f"source {redacted!r}: credentials do not belong in the URL; set VAULT_TOKEN or "
                "choose an auth method with ?auth=",
                source=redacted,
            )
        if "/" not in url.location:
            raise ConfigurationError(
                f"source {redacted!r}: expected vault://MOUNT/PATH, as in "
                "vault://secret/myapp/django",
                source=redacted,
            )
        mount, path = url.location.split("/", 1)
        path_segments(url.location, redacted, "Vault path")
        options = url.options
        kv_version = options.get("kv_version", "2")
        if kv_version not in ("1", "2"):
            raise ConfigurationError(
                f"source {redacted!r}: option kv_version must be one of 1, 2", source=redacted
            )
        aws_region = url.option("aws_region", AWS_REGION, "an AWS region name (e.g. us-east-1)")
        connection: dict[str, object] = {
            name: options[name] for name in CONNECTION_OPTIONS if name in options
        }
        if "timeout" in options:
            connection["timeout"] = parse_timeout(
                options["timeout"], f"source {redacted!r}: option timeout"
            )
        return cls(
            mount,
            path,
            field=url.field,
            kv_version=int(kv_version),
            auth=options.get("auth", "token"),
            role=options.get("role"),
            auth_mount=options.get("auth_mount"),
            max_fallbacks=max_fallbacks,
            jwt_file=options.get("jwt_file"),
            aws_region=aws_region or "us-east-1",
            aws_header_value=options.get("aws_header_value"),
            **cast("ConnectionOptions", connection),
        )

    # -- public ---------------------------------------------------------------------------------

    @property
    def settings(self) -> VaultSettings:
        """The connection settings, resolved once from the options and the environment."""
        return self.session.settings

    @property
    def address(self) -> str:
        """The address in use (the first of the list until a failover moves on)."""
        return self.session.address

    @property
    def auth(self) -> str:
        """The ``auth=`` method."""
        return self.session.auth

    @property
    def backend_history(self) -> bool:
        """KV v2 keeps versions; KV v1 does not."""
        return self.kv_version == 2

    @property
    def max_fallbacks(self) -> int:
        """Same as :attr:`history_fallbacks` (the constructor's name for it)."""
        return self.history_fallbacks

    @property
    def fetch_timeout(self) -> float:
        """Every request of one fetch taking its whole connect and read timeout on every
        address: a login, a renewal, the metadata, the current version and each fallback
        version, and one more login and read after a token turned out dead."""
        requests_per_fetch = 6 + self.history_fallbacks
        return 2 * self.settings.timeout * len(self.settings.addresses) * requests_per_fetch

    def rotator(self) -> Rotator:
        """Check-and-set rotation of this KV v2 secret (``secret_keyring.rotation.vault``)."""
        from secret_keyring.rotation.vault import VaultRotator

        return VaultRotator(self)

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
    def read_secret_version(
        self, version: int | None = None
    ) -> tuple[dict[str, Any], int | None, float | None]:
        """Read the raw KV data (key material inside: never log it), its version and when it
        was written (the server's ``created_time``, epoch seconds; ``None`` on KV v1 or when
        the server does not say).

        Args:
            version: a KV v2 version (default: the latest). KV v1 has no versions.

        Raises:
            SecretNotFound: no such secret, or that version is deleted or destroyed.
            SecretKeyringError: as for ``fetch()``.
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
                    f"{self._location()}: version {found.number} is deleted or "
                    "destroyed; undelete it or write a new version",
                    source=self.source,
                )
            return data, found.number, _parse_time(found.created)

    def describe_as(self, source: str) -> None:
        """Use ``source`` (a redacted URL) in messages and status from now on, the session's
        included."""
        super().describe_as(source)
        self.session.describe_as(source)

    # -- fork safety ----------------------------------------------------------------------------

    def _after_fork(self) -> None:
        super()._after_fork()
        session = getattr(self, "session", None)  # None on a provider whose __init__ raised
        if session is not None:
            session._after_fork()

    # -- KV reads -------------------------------------------------------------------------------

    def _fetch_v1(self) -> Keyring:
        data = self._read_v1()
        return self._payload(data).to_keyring(version=None, source=self.source)

    def _read_v1(self) -> dict[str, Any]:
        response = self.session.run(
            lambda client: client.secrets.kv.v1.read_secret(self.path, mount_point=self.mount),
            action="read",
        )
        data = response.get("data") if isinstance(response, Mapping) else None
        if not isinstance(data, dict):
            raise self.session.unexpected("read", "no data object in the KV v1 response")
        return data

    def _read_v2(self, version: int | None) -> tuple[dict[str, Any] | None, _VersionId]:
        """Data and version; data is ``None`` when that version is deleted or destroyed."""
        action = "read" if version is None else f"read version {version}"
        try:
            response = self.session.run(
                lambda client: client.secrets.kv.v2.read_secret_version(
                    self.path,
                    version=version,
                    mount_point=self.mount,
                    raise_on_deleted_version=True,
                ),
                action=action,
            )
        except VersionGone as exc:
            return None, _VersionId(exc.version, exc.created_time)
        body = response.get("data") if isinstance(response, Mapping) else None
        metadata = body.get("metadata") if isinstance(body, Mapping) else None
        if not isinstance(body, Mapping) or not isinstance(metadata, Mapping):
            raise self.session.unexpected(action, "no data and metadata in the KV v2 response")
        data = body.get("data")
        if data is not None and not isinstance(data, dict):
            raise self.session.unexpected(action, "the KV v2 data is not an object")
        return data, _version_id(metadata)

    def _read_metadata(self) -> Mapping[str, Any] | None:
        """The KV v2 metadata, or ``None`` when the token may not read it."""
        if not self._metadata_readable:
            return None
        try:
            response = self.session.run(
                lambda client: client.secrets.kv.v2.read_secret_metadata(
                    self.path, mount_point=self.mount
                ),
                action="read metadata",
            )
        except AccessDenied as exc:
            if exc.status != _FORBIDDEN or exc.action != "read metadata":
                raise  # a refused login, say
            return None  # many policies grant only MOUNT/data/PATH: see _fetch_v2
        data = response.get("data") if isinstance(response, Mapping) else None
        if not isinstance(data, Mapping):
            raise self.session.unexpected(
                "read metadata", "no data object in the metadata response"
            )
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
            raise self.session.unexpected("read metadata", "'versions' is not an object")
        number = int(metadata.get("current_version") or 0)
        now = self._wall_clock()
        info = versions.get(str(number))
        if number == 0 or not isinstance(info, Mapping):
            raise SecretNotFound(
                f"{self._location()}: the secret has no versions; write one "
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
            f"{self._location()}: the latest version ({number}) is deleted or "
            "destroyed; undelete it or write a new version",
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
                if len(history) >= self.history_fallbacks:
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
                f"{self._location()}: the secret{version} has no field {self.field!r} "
                f"(it has {names}); fix the '#field' part of the source URL",
                source=self.source,
            )
        return parse_mapping(
            data, source=self.source, field=self.field, default_field=DEFAULT_FIELD
        )

    def _location(self) -> str:
        return self.session.where().location()
