"""AWS Secrets Manager provider (needs the ``aws`` extra: boto3).

A fetch works like the Secrets Manager Agent: ``DescribeSecret`` maps version ids to staging
labels, and ``GetSecretValue`` is called only for version ids this provider has not read before.
A version's value never changes, so parsed values are cached by version id; an unchanged secret
costs one ``DescribeSecret`` per refresh.

Values are always read by ``VersionId`` together with the ``VersionStage`` it was found under:
the pair pins the exact version (moto, for one, does not move its default version when
``AWSCURRENT`` moves), satisfies IAM policies that condition on ``secretsmanager:VersionStage``,
and detects a rotation that lands between the two calls.

Payloads:

* keyring JSON: used as written; no other version is read;
* a plain key (the whole value, or ``#FIELD`` of a JSON object, ``SecretString`` or UTF-8
  ``SecretBinary``): the fallbacks are ``AWSPENDING`` while a rotation is in flight (it is about to
  become current, so it is accepted before anyone signs with it) and then ``AWSPREVIOUS``, newest
  first, up to ``max_fallbacks``. A fallback version that is not a usable key is left out with a
  warning rather than failing the keyring.

``AWSPENDING`` is trusted only while it can still become current: rotation is enabled on the
secret and the version is younger than ``pending_max_age`` (24 h). An abandoned one (a Lambda that
Secrets Manager stopped retrying, ``cancel-rotate-secret``, a label set by hand) is left out, with
one WARNING and a note in ``status()``.

What a fallback read answered is remembered per version id only when the answer is permanent: a
value, an unusable value, an IAM or KMS denial, or "no value" (the placeholder ``RotateSecret``
stages before ``createSecret``), the last until the secret's ``LastChangedDate`` moves. A transient
failure (throttling, expired or missing credentials, a skewed clock) fails the refresh instead, so
the version is read again on the next one.

botocore is imported when a provider is built, as hvac is for Vault: in the thread that builds it,
not in the start-up fetch's helper thread, where the same import costs ~1,100 more page faults
(~20 ms of system time, ``benchmarks/run.py`` section c). Every boto3/botocore error goes through
[translate_error][secret_keyring.providers.aws.errors.translate_error].

The very first fetch skips ``DescribeSecret``: it reads ``AWSCURRENT`` by label, which for keyring
JSON is all a start needs (one round trip instead of two); a plain payload then describes the
secret for its fallbacks, and every later refresh is version-aware as above.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, ClassVar, Final

from secret_keyring._config import is_seconds
from secret_keyring._record import Record
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
from secret_keyring.keyring import Keyring, check_max_fallbacks
from secret_keyring.payload import Payload, parse_payload
from secret_keyring.providers.aws.client import (
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_READ_TIMEOUT,
    DEFAULT_ROLE_SESSION_NAME,
    build_client,
    check_client_options,
    install_botocore_redaction,
)
from secret_keyring.providers.base import BaseProvider, check_extra, require_extra
from secret_keyring.urls import AWS_REGION, SourceURL

if TYPE_CHECKING:
    import boto3
    from mypy_boto3_secretsmanager import SecretsManagerClient

    from secret_keyring.rotation import Rotator

__all__ = [
    "AWSCURRENT",
    "AWSPENDING",
    "AWSPREVIOUS",
    "DEFAULT_PENDING_MAX_AGE",
    "AwsSecretsManagerProvider",
]

logger = logging.getLogger(__name__)

#: Secrets Manager's staging labels: the value in use, the one before it, the one a rotation
#: is preparing.
AWSCURRENT: Final = "AWSCURRENT"
AWSPREVIOUS: Final = "AWSPREVIOUS"
AWSPENDING: Final = "AWSPENDING"

#: Seconds an ``AWSPENDING`` version is trusted as a fallback after it was created. A rotation
#: Lambda finishes in seconds, and Secrets Manager stops retrying a failed one within hours; a
#: pending version older than this will never be promoted.
DEFAULT_PENDING_MAX_AGE: Final = 86400.0

# Patterns, compiled by ``re`` when first used: a start-up checks a name or an ARN, not both.
_ARN_REGION = r"^arn:aws[a-z-]*:secretsmanager:([a-z0-9-]+):"
_AWS_NAME = r"^[A-Za-z0-9/_+=.@-]{1,512}$"
_AWS_ARN = r"^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@-]{1,512}$"
_ROLE_ARN = r"^arn:aws[a-z-]*:iam::\d{12}:role/\S+$"


class _StageMoved(Exception):
    """A staging label moved between ``DescribeSecret`` and ``GetSecretValue``."""


class _Unusable:
    """Marks a cached fallback version whose value is not a usable key (a permanent verdict)."""


_UNUSABLE = _Unusable()


class _NoValue(Record):
    """A version that answered "no value": the placeholder ``RotateSecret`` stages before
    ``createSecret`` fills it. ``changed`` is the secret's ``LastChangedDate`` at that answer:
    putting a value into the placeholder changes it, and only then is the version read again."""

    changed: object


class _Version(Record):
    """What was read of one version id; a version's value never changes once it has one."""

    payload: Payload
    created: datetime | None


def _sdk_exceptions() -> tuple[type[BaseException], ...]:
    """botocore's exceptions, for an ``except`` clause (evaluated only when something is raised):
    the error mapper is imported on the first error, so a start-up that goes well skips it."""
    from secret_keyring.providers.aws.errors import sdk_exceptions

    return sdk_exceptions()


class AwsSecretsManagerProvider(BaseProvider):
    """Reads a keyring from a Secrets Manager secret, by name or ARN.

    Args:
        secret_id: the secret's name or full ARN.
        field: member of a JSON secret holding the key or keyring (``#FIELD``).
        region: the region; default: the ARN's region, else boto3's.
        profile: a profile of the AWS config files (``?profile=``).
        role_arn: a role to assume with the ambient credentials (``?role_arn=``).
        endpoint_url: an explicit endpoint (``?endpoint_url=``); boto3 also honours
            ``AWS_ENDPOINT_URL_SECRETS_MANAGER``.
        max_fallbacks: for plain payloads, how many other versions (``AWSPENDING``,
            ``AWSPREVIOUS``) to accept.
        pending_max_age: seconds after its creation an ``AWSPENDING`` version is still
            accepted as a fallback (and only while rotation is enabled on the secret); 0 never
            accepts one.
        client: a ready boto3 Secrets Manager client (kept across ``fork()``; you own it).
        session: a boto3 session to build the client from.
        connect_timeout: seconds to open a connection.
        read_timeout: seconds to wait for an answer.
        max_attempts: total attempts per call (default: boto3's configuration, else 3).
        role_session_name: ``RoleSessionName`` with ``role_arn``.
        clock: returns the current time (timezone-aware), to age ``AWSPENDING`` versions;
            default ``datetime.now(timezone.utc)``.

    Raises:
        ConfigurationError: an option is invalid, or ``region`` contradicts the ARN's region.
        ImportError: boto3 is not installed (the ``aws`` extra).
    """

    def __init__(
        self,
        secret_id: str,
        *,
        field: str | None = None,
        region: str | None = None,
        profile: str | None = None,
        role_arn: str | None = None,
        endpoint_url: str | None = None,
        max_fallbacks: int = 3,
        client: SecretsManagerClient | None = None,
        session: boto3.session.Session | None = None,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        read_timeout: float = DEFAULT_READ_TIMEOUT,
        max_attempts: int | None = None,
        role_session_name: str = DEFAULT_ROLE_SESSION_NAME,
        pending_max_age: float = DEFAULT_PENDING_MAX_AGE,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        check_extra("boto3", "aws")
        require_extra("botocore.session", "aws")
        super().__init__(f"aws-secretsmanager://{secret_id}" + (f"#{field}" if field else ""))
        if not isinstance(secret_id, str) or not secret_id:
            raise ConfigurationError(
                "aws-secretsmanager://: the secret id (name or ARN) is empty", source=self.source
            )
        check_max_fallbacks(max_fallbacks, source=self.source)
        arn_region = re.match(_ARN_REGION, secret_id)
        if arn_region and region and region != arn_region.group(1):
            raise ConfigurationError(
                f"{self.source}: ?region={region} contradicts the ARN's region "
                f"{arn_region.group(1)}; drop ?region= (the ARN's region is used)",
                source=self.source,
            )
        if not is_seconds(pending_max_age, minimum=0.0, finite=True):
            raise ConfigurationError(
                f"{self.source}: pending_max_age must be a number of seconds, 0 or more "
                f"(default {DEFAULT_PENDING_MAX_AGE:.0f})",
                source=self.source,
            )
        check_client_options(
            self.source,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            max_attempts=max_attempts,
            role_session_name=role_session_name,
            endpoint_url=endpoint_url,
        )
        self.secret_id = secret_id
        self.field = field
        self.region = region or (arn_region.group(1) if arn_region else None)
        self.profile = profile
        self.role_arn = role_arn
        self.endpoint_url = endpoint_url
        #: For a plain key: how many other versions (pending, previous) a fetch accepts.
        self.history_fallbacks = max_fallbacks
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.max_attempts = max_attempts
        self.role_session_name = role_session_name
        self._client = client
        self._owns_client = client is None
        if client is not None:
            # botocore logs response bodies at DEBUG whoever built the client.
            install_botocore_redaction()
        self._session = session
        self.pending_max_age = float(pending_max_age)
        self._clock = clock or _utc_now
        self._values: dict[str, _Version | _Unusable | _NoValue] = {}
        # The AWSPENDING version left out of the last keyring, and why (see status()).
        self._ignored_pending: tuple[str, str] | None = None

    #: The ``?option=`` names an ``aws-secretsmanager://`` URL accepts.
    url_options: ClassVar[frozenset[str]] = frozenset(
        {"region", "profile", "role_arn", "endpoint_url", "pending_max_age"}
    )

    @classmethod
    def from_url(cls, url: SourceURL, *, max_fallbacks: int = 3) -> AwsSecretsManagerProvider:
        """``aws-secretsmanager://NAME-or-ARN[?options][#field]``.

        Raises:
            ConfigurationError: a malformed name, ARN, role ARN, region or option.
        """
        redacted = url.redacted
        secret_id = url.location
        if not secret_id:
            raise ConfigurationError(
                f"source {redacted!r}: expected aws-secretsmanager://NAME or an ARN",
                source=redacted,
            )
        if secret_id.startswith("arn:"):
            if not re.match(_AWS_ARN, secret_id):
                raise ConfigurationError(
                    f"source {redacted!r}: not a Secrets Manager secret ARN "
                    "(arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME)",
                    source=redacted,
                )
        elif not re.match(_AWS_NAME, secret_id):
            raise ConfigurationError(
                "source aws-secretsmanager://...: the secret name may hold only letters, digits "
                "and / _ + = . @ - (at most 512 characters)",
                source="aws-secretsmanager://...",
            )
        role_arn = url.option(
            "role_arn", _ROLE_ARN, "an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME)"
        )
        region = url.option("region", AWS_REGION, "an AWS region name (e.g. eu-west-1)")
        pending_max_age = DEFAULT_PENDING_MAX_AGE
        raw_pending_max_age = url.options.get("pending_max_age")
        if raw_pending_max_age is not None:
            # The provider checks the range; only the text-to-number step is the URL's.
            try:
                pending_max_age = float(raw_pending_max_age)
            except ValueError:
                raise ConfigurationError(
                    f"source {redacted!r}: option pending_max_age must be a number of seconds",
                    source=redacted,
                ) from None
        return cls(
            secret_id,
            field=url.field,
            region=region,
            profile=url.options.get("profile"),
            role_arn=role_arn,
            endpoint_url=url.options.get("endpoint_url"),
            max_fallbacks=max_fallbacks,
            pending_max_age=pending_max_age,
        )

    @property
    def backend_history(self) -> bool:
        """Secrets Manager keeps ``AWSPREVIOUS`` (and ``AWSPENDING`` during a rotation)."""
        return True

    @property
    def max_fallbacks(self) -> int:
        """Same as :attr:`history_fallbacks` (the constructor's name for it)."""
        return self.history_fallbacks

    def rotator(self) -> Rotator:
        """RotateSecret, or the four steps run here (``secret_keyring.rotation.aws``)."""
        from secret_keyring.rotation.aws import AwsRotator

        return AwsRotator(self)

    @clears_locals
    def client(self) -> SecretsManagerClient:
        """This process's Secrets Manager client, built on first use.

        Raises:
            ConfigurationError: no region, an unknown profile.
        """
        with self._lock:
            if self._client is None:
                self._client = build_client(
                    region=self.region,
                    profile=self.profile,
                    role_arn=self.role_arn,
                    role_session_name=self.role_session_name,
                    endpoint_url=self.endpoint_url,
                    session=self._session,
                    connect_timeout=self.connect_timeout,
                    read_timeout=self.read_timeout,
                    max_attempts=self.max_attempts,
                    source=self.source,
                )
            return self._client

    @clears_locals
    def fetch(self) -> Keyring:
        """Check the staged versions and read only those not read before.

        Raises:
            SecretNotFound: no such secret, no ``AWSCURRENT`` version, scheduled for deletion,
                or ``#FIELD`` missing.
            AccessDenied: missing, wrong or expired credentials, an IAM or KMS denial.
            SourceUnavailable: throttled, 5xx, timeouts, unreachable endpoint.
            ConfigurationError: no region, an unknown profile.
            InvalidSecret: the current value is not a usable key or keyring.
        """
        with self._lock:
            client = self.client()
            if not self._values:
                first = self._first_fetch(client)
                if first is not None:
                    return first
            for _ in range(3):
                try:
                    return self._fetch_once(client)
                except _StageMoved:
                    logger.info(
                        "secret_keyring: %s changed while being read; reading it again",
                        self.source,
                    )
            raise SourceUnavailable(
                f"{self._where(client)}: the secret kept changing while being read; retrying",
                source=self.source,
            )

    def _first_fetch(self, client: SecretsManagerClient) -> Keyring | None:
        """Start-up: ``AWSCURRENT`` read by label, without ``DescribeSecret``.

        The keyring when that one read is all it takes (keyring JSON, or a plain key without
        fallbacks); otherwise ``None``, with the value cached by its version id, and the
        ordinary path describes the secret for the fallbacks without reading it again. A
        not-found answer also goes that way, so that "no such secret" and "no ``AWSCURRENT``
        version" keep their own messages.
        """
        try:
            answer = self._call(
                client, "get_secret_value", SecretId=self.secret_id, VersionStage=AWSCURRENT
            )
        except (SecretNotFound, _StageMoved):
            return None
        version = str(answer["VersionId"])
        payload = self._parse(client, secret_value(answer), version, AWSCURRENT)
        self._values[version] = _Version(payload, created_date(answer))
        if payload.kind == "plain" and self.history_fallbacks:
            return None
        return payload.to_keyring(version=version, source=self.source, history=[])

    def _fetch_once(self, client: SecretsManagerClient) -> Keyring:
        described = self._call(client, "describe_secret", SecretId=self.secret_id)
        if described.get("DeletedDate") is not None:
            raise SecretNotFound(
                f"{self._where(client)}: the secret is scheduled for deletion (on "
                f"{described['DeletedDate']:%Y-%m-%d}); restore it (aws secretsmanager "
                "restore-secret --secret-id ...) or point the source at another secret",
                source=self.source,
            )
        stages: Mapping[str, Sequence[str]] = described.get("VersionIdsToStages") or {}
        self._forget_unstaged(stages)
        changed = described.get("LastChangedDate")
        current = staged_version(stages, AWSCURRENT)
        if current is None:
            raise SecretNotFound(
                f"{self._where(client)}: the secret has no AWSCURRENT version (no value stored "
                "yet?); store one with `secret-keyring init` or put-secret-value",
                source=self.source,
            )
        payload = self._current(client, current)
        history: list[str] = []
        ignored: tuple[str, str] | None = None
        if payload.kind == "plain":
            for stage in (AWSPENDING, AWSPREVIOUS):
                version = staged_version(stages, stage)
                if len(history) >= self.history_fallbacks or version is None or version == current:
                    continue  # AWSPENDING on the current version: that rotation has finished
                if stage == AWSPENDING and not described.get("RotationEnabled"):
                    # Not even read: nothing will ever promote it.
                    ignored = (version, "rotation is not enabled on the secret")
                    continue
                older = self._fallback(client, version, stage, changed)
                if older is None:
                    continue
                if stage == AWSPENDING:
                    ignored = self._pending_too_old(version, older)
                    if ignored is not None:
                        continue
                if older.payload.current not in (payload.current, *history):
                    history.append(older.payload.current)
        self._note_ignored_pending(ignored)
        logger.debug(
            "secret_keyring: %s is at version %s (%d fallback version(s))",
            self.source,
            current,
            len(history),
        )
        return payload.to_keyring(version=current, source=self.source, history=history)

    def _current(self, client: SecretsManagerClient, version: str) -> Payload:
        """The parsed ``AWSCURRENT`` value; read from the service only the first time."""
        cached = self._values.get(version)
        if isinstance(cached, _Version):
            return cached.payload
        raw, created = self._read(client, version, AWSCURRENT)
        payload = self._parse(client, raw, version, AWSCURRENT)
        self._values[version] = _Version(payload, created)
        return payload

    def _fallback(
        self, client: SecretsManagerClient, version: str, stage: str, changed: object
    ) -> _Version | None:
        """An ``AWSPENDING``/``AWSPREVIOUS`` version, or ``None`` when it cannot serve as a
        fallback. Only permanent answers are remembered (until the version's labels change): a
        value, an unusable value, an IAM or KMS denial, and "no value" until the secret changes.
        A transient failure (throttling, expired or missing credentials, a skewed clock) raises,
        so the refresh fails as a whole, the last good keyring stays in use and the version is
        read again on the next attempt."""
        cached = self._values.get(version)
        if isinstance(cached, _NoValue) and cached.changed != changed:
            cached = None  # the secret changed since: the placeholder may have its value now
        if cached is not None:
            return cached if isinstance(cached, _Version) else None
        try:
            raw, created = self._read(client, version, stage)
        except SecretNotFound:
            # A placeholder without a value yet, or gone since DescribeSecret (then the next
            # refresh does not list it and the note is dropped with it).
            self._values[version] = _NoValue(changed)
            return None
        except AccessDenied as exc:
            from secret_keyring.providers.aws.errors import denies_this_version

            if not denies_this_version(exc):
                raise
            # e.g. a policy that conditions GetSecretValue on secretsmanager:VersionStage
            self._give_up(version, stage, exc)
            return None
        try:
            payload = self._parse(client, raw, version, stage)
        except (InvalidSecret, SecretNotFound) as exc:
            self._give_up(version, stage, exc)
            return None
        read = _Version(payload, created)
        self._values[version] = read
        return read

    def _pending_too_old(self, version: str, read: _Version) -> tuple[str, str] | None:
        """Why an ``AWSPENDING`` version is no longer trusted, or ``None`` while it is."""
        if read.created is None:
            return None  # Secrets Manager always sends CreatedDate; nothing to judge without it
        if (self._clock() - read.created).total_seconds() <= self.pending_max_age:
            return None
        # Worded from fixed facts only, so that the same version is reported once.
        reason = (
            f"it was created at {read.created.astimezone(timezone.utc):%Y-%m-%d %H:%M} UTC, "
            f"more than pending_max_age ({self.pending_max_age:.0f} s) ago: the rotation that "
            "staged it will not finish"
        )
        return version, reason

    def _note_ignored_pending(self, ignored: tuple[str, str] | None) -> None:
        if ignored is not None and ignored != self._ignored_pending:
            logger.warning(
                "secret_keyring: %s: the AWSPENDING version %s is not accepted as a fallback "
                "key because %s; if no rotation is running, take the label off it (see the "
                "operations guide: a stuck AWSPENDING)",
                self.source,
                ignored[0],
                ignored[1],
            )
        self._ignored_pending = ignored

    def status(self) -> dict[str, Any]:
        """What this provider left out of the last keyring, for ``CachedKeyring.status()``.

        Returns:
            ``{"ignored_pending": {"version": ..., "reason": ...}}`` while an ``AWSPENDING``
            version is not trusted (rotation disabled, or older than ``pending_max_age``),
            else ``{}``. No key material.
        """
        ignored = self._ignored_pending
        if ignored is None:
            return {}
        return {"ignored_pending": {"version": ignored[0], "reason": ignored[1]}}

    def _give_up(self, version: str, stage: str, exc: Exception) -> None:
        logger.warning(
            "secret_keyring: %s: the %s version %s cannot be used as a fallback key, so it is "
            "left out (%s)",
            self.source,
            stage,
            version,
            exc,
        )
        self._values[version] = _UNUSABLE

    def _read(
        self, client: SecretsManagerClient, version: str, stage: str
    ) -> tuple[str | bytes | None, datetime | None]:
        answer = self._call(
            client,
            "get_secret_value",
            SecretId=self.secret_id,
            VersionId=version,
            VersionStage=stage,
        )
        return secret_value(answer), created_date(answer)

    def _parse(
        self, client: SecretsManagerClient, raw: str | bytes | None, version: str, stage: str
    ) -> Payload:
        if raw is None:
            raise InvalidSecret(
                f"{self._where(client)}: version {version} ({stage}) has neither SecretString "
                "nor SecretBinary; store the key as a string",
                source=self.source,
            )
        return parse_payload(raw, source=self.source, field=self.field)

    def _call(self, client: SecretsManagerClient, operation: str, **params: str) -> Any:
        try:
            return getattr(client, operation)(**params)
        except _sdk_exceptions() as exc:
            error = self._translate(client, exc)
            if isinstance(error, SourceError) and error.conflict:
                raise _StageMoved from exc
            raise error from exc

    def _translate(self, client: SecretsManagerClient, exc: BaseException) -> SecretKeyringError:
        from secret_keyring.providers.aws.errors import translate_error

        return translate_error(
            exc, source=self.source, region=client.meta.region_name, role_arn=self.role_arn
        )

    def _where(self, client: SecretsManagerClient) -> str:
        return f"{self.source} (region {client.meta.region_name})"

    def _forget_unstaged(self, stages: Mapping[str, Sequence[str]]) -> None:
        for version in [v for v in self._values if not stages.get(v)]:
            del self._values[version]

    def _after_fork(self) -> None:
        super()._after_fork()
        # The parent's connection pool (and assumed-role credentials with their lock) stay
        # there; parsed values are plain data and keep sparing the child a GetSecretValue.
        if getattr(self, "_owns_client", False):  # unset on a provider whose __init__ raised
            self._client = None


def secret_value(answer: Mapping[str, Any]) -> str | bytes | None:
    """The value in a ``GetSecretValue`` answer, as stored (``SecretString`` text or
    ``SecretBinary`` bytes), or ``None`` when the version has none."""
    raw: str | bytes | None = answer.get("SecretString")
    return answer.get("SecretBinary") if raw is None else raw


def created_date(answer: Mapping[str, Any]) -> datetime | None:
    """When the version in a ``GetSecretValue`` answer was written (``CreatedDate``), or
    ``None`` when the answer does not say (Secrets Manager always sends it)."""
    created = answer.get("CreatedDate")
    return created if isinstance(created, datetime) else None


def response_date(answer: Mapping[str, Any]) -> str | None:
    """The ``Date`` header of the HTTP response behind a botocore answer (the server's time of
    the answer, raw text), or ``None`` when there is none (a stubbed answer, say)."""
    metadata = answer.get("ResponseMetadata")
    headers = metadata.get("HTTPHeaders") if isinstance(metadata, Mapping) else None
    date = headers.get("date") if isinstance(headers, Mapping) else None
    return date if isinstance(date, str) else None


def staged_version(stages: Mapping[str, Sequence[str]], stage: str) -> str | None:
    """The version id holding ``stage`` in ``DescribeSecret``'s ``VersionIdsToStages``."""
    for version, labels in stages.items():
        if stage in labels:
            return version
    return None


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)
