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

The client is built on a botocore session, which is where boto3's configuration lives (credential
chain, profiles and config files, ``AWS_REGION``, ``AWS_ENDPOINT_URL_SECRETS_MANAGER``, retry
mode): importing boto3 itself would add its resource layer and s3transfer to every start-up and
change nothing about a Secrets Manager client. boto3 stays the declared dependency (the ``aws``
extra), and a boto3 session or client passed in is used as given. botocore is imported only when a
provider's client is built. Every boto3/botocore error goes through
[translate_error][secret_keyring.providers.aws.translate_error].

The very first fetch skips ``DescribeSecret``: it reads ``AWSCURRENT`` by label, which for keyring
JSON is all a start needs (one round trip instead of two); a plain payload then describes the
secret for its fallbacks, and every later refresh is version-aware as above.

``AWSPENDING`` is trusted only while it can still become current: rotation is enabled on the
secret and the version is younger than ``pending_max_age`` (24 h). An abandoned one (a Lambda that
Secrets Manager stopped retrying, ``cancel-rotate-secret``, a label set by hand) is left out, with
one WARNING and a note in ``status()``.

What a fallback read answered is remembered per version id only when the answer is permanent: a
value, an unusable value, an IAM or KMS denial, or "no value" (the placeholder ``RotateSecret``
stages before ``createSecret``), the last until the secret's ``LastChangedDate`` moves. A transient
failure (throttling, expired or missing credentials, a skewed clock) fails the refresh instead, so
the version is read again on the next one.

"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Final, cast
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
from secret_keyring.keyring import Keyring, Payload, check_max_fallbacks, parse_payload
from secret_keyring.providers.base import BaseProvider, check_extra

if TYPE_CHECKING:
    import boto3
    import botocore.session
    from botocore.config import _RetryDict
    from botocore.credentials import DeferredRefreshableCredentials
    from mypy_boto3_secretsmanager import SecretsManagerClient

__all__ = [
    "AWSCURRENT",
    "AWSPENDING",
    "AWSPREVIOUS",
    "DEFAULT_CONNECT_TIMEOUT",
    "DEFAULT_MAX_ATTEMPTS",
    "DEFAULT_PENDING_MAX_AGE",
    "DEFAULT_READ_TIMEOUT",
    "DEFAULT_ROLE_SESSION_NAME",
    "AwsSecretsManagerProvider",
    "build_client",
    "denies_this_version",
    "translate_error",
]

logger = logging.getLogger("secret_keyring.aws")

AWSCURRENT: Final = "AWSCURRENT"
AWSPREVIOUS: Final = "AWSPREVIOUS"
AWSPENDING: Final = "AWSPENDING"

#: Seconds to open a connection. With the read timeout and the attempt count this bounds how long
#: one call can take: 3 x (2 + 5) s plus at most ~3 s of standard-mode backoff, under the 30 s
#: default start-up timeout.
DEFAULT_CONNECT_TIMEOUT: Final = 2.0
#: Seconds to wait for a response; Secrets Manager answers in tens of milliseconds.
DEFAULT_READ_TIMEOUT: Final = 5.0
#: Total attempts per call (botocore ``standard`` mode), unless ``AWS_MAX_ATTEMPTS`` or the
#: profile's ``max_attempts`` says otherwise.
DEFAULT_MAX_ATTEMPTS: Final = 3
#: ``RoleSessionName`` for ``?role_arn=``; shows in CloudTrail as the assumed-role session.
DEFAULT_ROLE_SESSION_NAME: Final = "django-secret-keyring"
#: Seconds an ``AWSPENDING`` version is trusted as a fallback after it was created. A rotation
#: Lambda finishes in seconds, and Secrets Manager stops retrying a failed one within hours; a
#: pending version older than this will never be promoted.
DEFAULT_PENDING_MAX_AGE: Final = 86400.0

_USER_AGENT: Final = "django-secret-keyring"
_ARN_REGION = re.compile(r"^arn:aws[a-z-]*:secretsmanager:([a-z0-9-]+):")
_SESSION_NAME = re.compile(r"^[\w+=,.@-]{2,64}$")
_XML_CODE = re.compile(r"<Code>([A-Za-z0-9.]{1,100})</Code>")
_XML_MESSAGE = re.compile(r"<Message>([^<]{0,500})</Message>")
_DELETION = re.compile(r"marked (for )?delet|scheduled for delet|pending delet", re.IGNORECASE)

_NOT_FOUND_CODES = frozenset({"ResourceNotFoundException"})
_FORBIDDEN_CODES = frozenset({"AccessDeniedException", "AccessDenied"})
_UNKNOWN_KEY_CODES = frozenset(
    {"UnrecognizedClientException", "InvalidClientTokenId", "InvalidAccessKeyId"}
)
_EXPIRED_CODES = frozenset({"ExpiredTokenException", "ExpiredToken", "RequestExpired"})
_SIGNATURE_CODES = frozenset(
    {"InvalidSignatureException", "SignatureDoesNotMatch", "IncompleteSignature"}
)
_MISSING_AUTH_CODES = frozenset(
    {"MissingAuthenticationToken", "MissingAuthenticationTokenException"}
)
_THROTTLING_CODES = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "RequestThrottled",
        "RequestThrottledException",
        "SlowDown",
    }
)
_SERVER_CODES = frozenset(
    {
        "InternalServiceError",
        "InternalServiceErrorException",
        "InternalFailure",
        "InternalServerError",
        "ServiceUnavailable",
        "ServiceUnavailableException",
    }
)
_REQUEST_CODES = frozenset(
    {"InvalidParameterException", "ValidationException", "InvalidParameterValue"}
)
_GRANT = (
    "grant secretsmanager:GetSecretValue and secretsmanager:DescribeSecret on the secret's ARN "
    "to this principal, and check the secret's resource policy and any SCP"
)


# -- error translation ------------------------------------------------------------------------


def translate_error(  # noqa: PLR0911 - one return per error class, most specific first
    exc: BaseException,
    *,
    source: str,
    region: str | None = None,
    role_arn: str | None = None,
) -> SecretKeyringError:
    """Map a boto3/botocore exception to this library's error tree, most specific first.

    The caller raises the result ``from exc``. Messages name the source (secret id and field),
    the region and a fix; they never contain key material or credentials.

    Args:
        exc: what boto3 or botocore raised.
        source: the redacted source (``aws-secretsmanager://NAME#FIELD``).
        region: the region the client talks to, if known.
        role_arn: the role being assumed (``?role_arn=``), for STS errors.

    Returns:
        The exception to raise.
    """
    from botocore import exceptions as bce

    where = f"{source} (region {region or 'not set'})"
    if isinstance(exc, bce.ClientError):
        return _translate_client_error(exc, where, source, role_arn)
    if isinstance(exc, bce.NoRegionError):
        return ConfigurationError(
            f"{where}: no AWS region is configured; add ?region=eu-west-1 to the source URL, "
            "set AWS_REGION, or set region in the AWS profile",
            source=source,
        )
    if isinstance(exc, bce.ProfileNotFound):
        return ConfigurationError(
            f"{where}: AWS profile {exc.kwargs.get('profile', '')!r} is not in the AWS config "
            "or credentials file; fix ?profile= / AWS_PROFILE or add the profile",
            source=source,
        )
    if isinstance(exc, bce.PartialCredentialsError):
        return ConfigurationError(
            f"{where}: only part of the AWS credentials is set "
            f"({exc.kwargs.get('cred_var', 'a variable')} is missing from "
            f"{exc.kwargs.get('provider', 'the configuration')}); set the full key pair or "
            "remove it to use the default credential chain",
            source=source,
        )
    if isinstance(exc, bce.NoCredentialsError):
        return AccessDenied(
            f"{where}: no AWS credentials found; attach an IAM role to the instance, task or "
            "pod (or set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)"
            + (" to act as the source identity for ?role_arn=" if role_arn else ""),
            source=source,
        )
    if isinstance(exc, (bce.SSOError, bce.TokenRetrievalError)):
        return AccessDenied(
            f"{where}: the AWS SSO session is missing or expired; run `aws sso login` for the "
            "profile, or use a role outside development",
            source=source,
        )
    if isinstance(exc, (bce.CredentialRetrievalError, bce.RefreshWithMFAUnsupportedError)):
        return AccessDenied(
            f"{where}: AWS credentials could not be obtained ({_short(exc)}); fix the credential "
            "source of the profile or environment",
            source=source,
        )
    if isinstance(exc, bce.ParamValidationError):
        return ConfigurationError(
            f"{where}: boto3 refused the request ({_short(exc)}); check the secret id",
            source=source,
        )
    if isinstance(exc, bce.SSLError):
        return SourceError(
            f"{where}: TLS verification of the Secrets Manager endpoint failed; if a proxy "
            "re-signs TLS, point AWS_CA_BUNDLE at its CA certificate (never disable verification)",
            source=source,
        )
    if isinstance(exc, (bce.ConnectionError, bce.HTTPClientError)):
        endpoint = exc.kwargs.get("endpoint_url")
        return SourceUnavailable(
            f"{where}: cannot reach Secrets Manager"
            + (f" at {endpoint}" if endpoint else "")
            + f" ({type(exc).__name__}); check the network path (VPC endpoint, NAT, proxy) and "
            "the endpoint URL; retrying",
            source=source,
        )
    if isinstance(exc, bce.BotoCoreError):
        return SourceError(f"{where}: {type(exc).__name__}: {_short(exc)}", source=source)
    return SourceError(f"{where}: unexpected {type(exc).__name__}", source=source)


def denies_this_version(error: SecretKeyringError) -> bool:
    """Whether an ``AccessDenied`` is Secrets Manager's or KMS's verdict on what was asked for.

    An IAM denial (a policy conditioned on ``secretsmanager:VersionStage``, say) or a KMS
    ``DecryptionFailure`` is an answer about that version and stays true until its labels change;
    missing, expired, unknown or mis-signed credentials (a skewed clock) say nothing about the
    version and pass with the next credentials. Only the first kind may be remembered.

    Args:
        error: what [translate_error][secret_keyring.providers.aws.translate_error] returned,
            raised ``from`` the boto3/botocore exception.

    Returns:
        True for a denial of the request itself, False for a credentials problem.
    """
    from botocore import exceptions as bce

    cause = error.__cause__
    if not isinstance(error, AccessDenied) or not isinstance(cause, bce.ClientError):
        return False
    code, _, _ = _client_error_parts(cause)
    return code == "DecryptionFailure" or code in _FORBIDDEN_CODES


def _client_error_parts(exc: Any) -> tuple[str, str, int]:
    """The error code, message and HTTP status of a ``ClientError``."""
    error = exc.response.get("Error", {})
    code = str(error.get("Code", ""))
    message = str(error.get("Message", ""))
    status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
    if not code or code.isdigit():
        # An error body botocore could not parse for this protocol leaves the HTTP status as the
        # code: an XML error (from a proxy or an emulator such as moto, whose IAM denials are
        # XML even for JSON services) or an HTML page. Recover what it says when it says it.
        found = _XML_CODE.search(message)
        if found:
            code = found.group(1)
            said = _XML_MESSAGE.search(message)
            message = said.group(1) if said else ""
        elif status in (401, 403):
            code = "AccessDenied"
    return code, message, status


def _translate_client_error(  # noqa: PLR0911 - one branch per error code group, in order
    exc: Any, where: str, source: str, role_arn: str | None
) -> SecretKeyringError:
    code, message, status = _client_error_parts(exc)
    operation = str(getattr(exc, "operation_name", "") or "the call")
    aws = f"{code}: {_short(message)}" if message else code
    if operation == "AssumeRole" and (code in _FORBIDDEN_CODES or code in _REQUEST_CODES):
        return AccessDenied(
            f"{where}: cannot assume role {role_arn or '(role_arn)'} ({aws}); the role's trust "
            "policy must allow this principal, and the principal needs sts:AssumeRole on it",
            source=source,
        )
    if code in _NOT_FOUND_CODES:
        return SecretNotFound(
            f"{where}: Secrets Manager has no such secret or version ({operation}); check the "
            "name or ARN, the region (?region= or AWS_REGION) and the account the credentials "
            "belong to",
            source=source,
        )
    if code == "InvalidRequestException" and _DELETION.search(message):
        return SecretNotFound(
            f"{where}: the secret is scheduled for deletion; restore it "
            "(aws secretsmanager restore-secret --secret-id ...) or point the source at "
            "another secret",
            source=source,
        )
    if code == "DecryptionFailure" or (code in _FORBIDDEN_CODES and "kms" in message.lower()):
        return AccessDenied(
            f"{where}: Secrets Manager cannot decrypt the secret with its KMS key ({aws}); grant "
            "kms:Decrypt on that key to this principal (key policy and IAM policy) and check "
            "the key is enabled",
            source=source,
        )
    if code in _FORBIDDEN_CODES:
        return AccessDenied(
            f"{where}: access denied to {operation} ({aws}); {_GRANT}", source=source
        )
    if code in _UNKNOWN_KEY_CODES:
        return AccessDenied(
            f"{where}: AWS does not recognise the access key ({code}); it was deleted, belongs "
            "to another partition, or the endpoint is wrong; check the credentials in use",
            source=source,
        )
    if code in _EXPIRED_CODES:
        return AccessDenied(
            f"{where}: the AWS credentials have expired ({code}); renew them (aws sso login, a "
            "new session token); instance, task and pod roles renew on their own",
            source=source,
        )
    if code in _SIGNATURE_CODES:
        return AccessDenied(
            f"{where}: the request signature was rejected ({code}); the secret access key does "
            "not match the key id, or the clock is off by more than 5 minutes",
            source=source,
        )
    if code in _MISSING_AUTH_CODES:
        return AccessDenied(
            f"{where}: the request was not signed ({code}); configure AWS credentials",
            source=source,
        )
    if code in _THROTTLING_CODES or status == 429:
        return SourceUnavailable(
            f"{where}: Secrets Manager is throttling {operation} ({code}); keep a TTL of minutes "
            "so a fleet makes few calls; retrying",
            source=source,
        )
    if code in _SERVER_CODES or status >= 500:
        return SourceUnavailable(
            f"{where}: Secrets Manager failed on {operation} ({code or status}); retrying",
            source=source,
        )
    if code in _REQUEST_CODES:
        return ConfigurationError(
            f"{where}: Secrets Manager refused {operation} ({aws}); check the secret id",
            source=source,
        )
    return SourceError(f"{where}: {operation} failed ({aws})", source=source)


def _short(value: object, limit: int = 300) -> str:
    text = " ".join(str(value).split())
    return text if len(text) <= limit else text[:limit] + "..."


# -- client -----------------------------------------------------------------------------------


def build_client(
    *,
    region: str | None = None,
    profile: str | None = None,
    role_arn: str | None = None,
    role_session_name: str = DEFAULT_ROLE_SESSION_NAME,
    endpoint_url: str | None = None,
    session: boto3.session.Session | None = None,
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
    read_timeout: float = DEFAULT_READ_TIMEOUT,
    max_attempts: int | None = None,
    credentials_clock: Callable[[], datetime] | None = None,
    source: str = "aws-secretsmanager://",
) -> SecretsManagerClient:
    """Build a Secrets Manager client the way the provider does.

    boto3's own configuration applies: the default credential chain, ``AWS_REGION`` /
    ``AWS_DEFAULT_REGION``, ``AWS_ENDPOINT_URL_SECRETS_MANAGER``, ``AWS_RETRY_MODE`` /
    ``AWS_MAX_ATTEMPTS`` and the profile's settings. On top of it: bounded connect and read
    timeouts, the ``standard`` retry mode unless one is configured, and, with ``role_arn``,
    credentials from ``sts:AssumeRole`` that botocore refreshes before they expire.

    Args:
        region: the region; default: boto3's (``AWS_DEFAULT_REGION``, then the profile), then
            ``AWS_REGION``.
        profile: a profile of the AWS config files.
        role_arn: a role to assume with the ambient credentials.
        role_session_name: ``RoleSessionName`` for ``role_arn``.
        endpoint_url: an explicit endpoint (a VPC endpoint, or a local test server).
        session: a ``boto3.session.Session`` to use instead of a new one (then ``profile``
            must be ``None``).
        connect_timeout: seconds to open a connection.
        read_timeout: seconds to wait for an answer.
        max_attempts: total attempts per call; default ``AWS_MAX_ATTEMPTS``, the profile's
            ``max_attempts``, or 3.
        credentials_clock: for ``role_arn``, the clock botocore uses to decide when the assumed
            credentials need refreshing (tests pass a fake one).
        source: the redacted source for error messages.

    Returns:
        A Secrets Manager client (botocore's, the class boto3 returns too); it is thread-safe,
        but not fork-safe: build one per process.

    Raises:
        ConfigurationError: no region, an unknown profile, a bad option.
        ImportError: boto3 is not installed (the ``aws`` extra).
    """
    check_extra("boto3", "aws")
    import botocore.session
    from botocore import exceptions as bce
    from botocore.config import Config

    _check_timeouts(connect_timeout, read_timeout, max_attempts, source)
    if endpoint_url is not None:
        _check_endpoint(endpoint_url, source)
    if session is not None and profile is not None:
        raise ConfigurationError(
            f"{source}: pass either a boto3 session or a profile, not both", source=source
        )
    _check_session_name(role_session_name, source)
    _install_botocore_redaction()
    try:
        # A boto3 session is a wrapper of this botocore session (boto3 has no public accessor
        # for it); its client() is the botocore session's create_client().
        base: botocore.session.Session = (
            session._session if session is not None else botocore.session.Session(profile=profile)
        )
        # boto3 reads AWS_DEFAULT_REGION and the profile, not AWS_REGION (which other SDKs,
        # Lambda and ECS set); use it only where boto3 would find nothing.
        region = region or base.get_config_variable("region") or _env("AWS_REGION") or None
        if not region:
            raise bce.NoRegionError
        scoped = base.get_scoped_config()
        retries: _RetryDict = {}
        if not (_env("AWS_RETRY_MODE") or scoped.get("retry_mode")):
            retries["mode"] = "standard"
        if max_attempts is not None:
            retries["total_max_attempts"] = max_attempts
        elif not (_env("AWS_MAX_ATTEMPTS") or scoped.get("max_attempts")):
            retries["total_max_attempts"] = DEFAULT_MAX_ATTEMPTS
        config = Config(
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            retries=retries,
            user_agent_extra=_USER_AGENT,
        )
        target = base
        if role_arn is not None:
            credentials = _assume_role_credentials(
                base,
                role_arn=role_arn,
                session_name=role_session_name,
                region=region,
                config=config,
                clock=credentials_clock,
            )
            target = _session_with_credentials(credentials, profile=profile)
        client = target.create_client(
            "secretsmanager", region_name=region, endpoint_url=endpoint_url, config=config
        )
        # botocore's stubs type every client as BaseClient; boto3's name the service's class.
        return cast("SecretsManagerClient", client)
    except (bce.BotoCoreError, bce.ClientError) as exc:
        raise translate_error(exc, source=source, region=region, role_arn=role_arn) from exc


def _env(name: str) -> str:
    import os

    return os.environ.get(name, "").strip()


def _check_timeouts(
    connect_timeout: float, read_timeout: float, max_attempts: int | None, source: str
) -> None:
    for name, value in (("connect_timeout", connect_timeout), ("read_timeout", read_timeout)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 300:
            raise ConfigurationError(
                f"{source}: {name} must be a number of seconds in (0, 300], got {value!r}",
                source=source,
            )
    if max_attempts is not None and (
        isinstance(max_attempts, bool)
        or not isinstance(max_attempts, int)
        or not 1 <= max_attempts <= 10
    ):
        raise ConfigurationError(
            f"{source}: max_attempts must be an integer from 1 to 10, got {max_attempts!r}",
            source=source,
        )


def _check_session_name(role_session_name: str, source: str) -> None:
    if not isinstance(role_session_name, str) or not _SESSION_NAME.match(role_session_name):
        raise ConfigurationError(
            f"{source}: role_session_name must be 2-64 characters of letters, digits and "
            "+ = , . @ - _",
            source=source,
        )


def _check_endpoint(endpoint_url: str, source: str) -> None:
    parts = urlsplit(endpoint_url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ConfigurationError(
            f"{source}: endpoint_url must be an http(s) URL such as "
            "https://secretsmanager.eu-west-1.amazonaws.com",
            source=source,
        )
    if parts.username or parts.password:
        raise ConfigurationError(
            f"{source}: endpoint_url must not carry credentials", source=source
        )


def _assume_role_credentials(
    base: botocore.session.Session,
    *,
    role_arn: str,
    session_name: str,
    region: str,
    config: Any,
    clock: Callable[[], datetime] | None,
) -> DeferredRefreshableCredentials:
    """Credentials for ``role_arn`` that botocore fetches on first use and refreshes before
    they expire (from 15 minutes before, blocking only in the last 10)."""
    from botocore.credentials import DeferredRefreshableCredentials

    sts: Any = None

    def refresh() -> dict[str, str]:
        # botocore calls this under the credentials' own refresh lock.
        nonlocal sts
        if sts is None:
            sts = base.create_client("sts", region_name=region, config=config)
        answer = sts.assume_role(RoleArn=role_arn, RoleSessionName=session_name)
        issued = answer["Credentials"]
        logger.debug(
            "secret_keyring: assumed role %s until %s", role_arn, issued["Expiration"].isoformat()
        )
        return {
            "access_key": issued["AccessKeyId"],
            "secret_key": issued["SecretAccessKey"],
            "token": issued["SessionToken"],
            "expiry_time": issued["Expiration"].isoformat(),
        }

    if clock is None:
        return DeferredRefreshableCredentials(refresh_using=refresh, method="assume-role")
    return DeferredRefreshableCredentials(
        refresh_using=refresh, method="assume-role", time_fetcher=clock
    )


def _session_with_credentials(
    credentials: DeferredRefreshableCredentials, *, profile: str | None
) -> botocore.session.Session:
    """A botocore session whose credential chain is exactly ``credentials``."""
    import botocore.session
    from botocore.credentials import CredentialProvider, CredentialResolver

    class _Given(CredentialProvider):
        METHOD = "assume-role"
        CANONICAL_NAME = "secret-keyring-assume-role"

        def load(self) -> DeferredRefreshableCredentials:
            return credentials

    core = botocore.session.Session(profile=profile)
    core.register_component("credential_provider", CredentialResolver([_Given()]))
    return core


# botocore logs whole request and response bodies at DEBUG; for Secrets Manager they hold the
# secret. Records that carry a secret value are rewritten before any handler sees them.
_BODY_LOGGERS: Final = ("botocore.parsers", "botocore.endpoint")
_VALUE_MARKERS: Final = ('"SecretString"', '"SecretBinary"', "'SecretString'", "'SecretBinary'")


class _RedactSecretValues(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        text = f"{record.msg} {record.args!r}"
        if any(marker in text for marker in _VALUE_MARKERS):
            record.msg = (
                "[a botocore debug record holding a Secrets Manager secret value was redacted "
                "by django-secret-keyring]"
            )
            record.args = None
        return True


_REDACTION = _RedactSecretValues("secret_keyring.aws")


def _install_botocore_redaction() -> None:
    for name in _BODY_LOGGERS:
        target = logging.getLogger(name)
        if _REDACTION not in target.filters:
            target.addFilter(_REDACTION)


# -- provider ---------------------------------------------------------------------------------


class _StageMoved(Exception):
    """A staging label moved between ``DescribeSecret`` and ``GetSecretValue``."""


class _Unusable:
    """Marks a cached fallback version whose value is not a usable key (a permanent verdict)."""


_UNUSABLE = _Unusable()


@dataclass(frozen=True)
class _NoValue:
    """A version that answered "no value": the placeholder ``RotateSecret`` stages before
    ``createSecret`` fills it. ``changed`` is the secret's ``LastChangedDate`` at that answer:
    putting a value into the placeholder changes it, and only then is the version read again."""

    changed: object


@dataclass(frozen=True)
class _Version:
    """What was read of one version id; a version's value never changes once it has one."""

    payload: Payload
    created: datetime | None


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

    @property
    def backend_history(self) -> bool:
        """Secrets Manager keeps ``AWSPREVIOUS`` (and ``AWSPENDING`` during a rotation)."""
        return True

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
        super().__init__(f"aws-secretsmanager://{secret_id}" + (f"#{field}" if field else ""))
        if not isinstance(secret_id, str) or not secret_id:
            raise ConfigurationError(
                "aws-secretsmanager://: the secret id (name or ARN) is empty", source=self.source
            )
        check_max_fallbacks(max_fallbacks, source=self.source)
        arn_region = _ARN_REGION.match(secret_id)
        if arn_region and region and region != arn_region.group(1):
            raise ConfigurationError(
                f"{self.source}: ?region={region} contradicts the ARN's region "
                f"{arn_region.group(1)}; drop ?region= (the ARN's region is used)",
                source=self.source,
            )
        if (
            isinstance(pending_max_age, bool)
            or not isinstance(pending_max_age, (int, float))
            or not math.isfinite(pending_max_age)
            or pending_max_age < 0
        ):
            raise ConfigurationError(
                f"{self.source}: pending_max_age must be a number of seconds, 0 or more "
                f"(default {DEFAULT_PENDING_MAX_AGE:.0f})",
                source=self.source,
            )
        _check_timeouts(connect_timeout, read_timeout, max_attempts, self.source)
        _check_session_name(role_session_name, self.source)
        if endpoint_url is not None:
            _check_endpoint(endpoint_url, self.source)
        self.secret_id = secret_id
        self.field = field
        self.region = region or (arn_region.group(1) if arn_region else None)
        self.profile = profile
        self.role_arn = role_arn
        self.endpoint_url = endpoint_url
        self.max_fallbacks = max_fallbacks
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.max_attempts = max_attempts
        self.role_session_name = role_session_name
        self._client = client
        self._owns_client = client is None
        if client is not None:
            # botocore logs response bodies at DEBUG whoever built the client.
            _install_botocore_redaction()
        self._session = session
        self.pending_max_age = float(pending_max_age)
        self._clock = clock or _utc_now
        self._values: dict[str, _Version | _Unusable | _NoValue] = {}
        # The AWSPENDING version left out of the last keyring, and why (see status()).
        self._ignored_pending: tuple[str, str] | None = None

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
        payload = self._parse(client, _secret_value(answer), version, AWSCURRENT)
        created = answer.get("CreatedDate")
        self._values[version] = _Version(
            payload, created if isinstance(created, datetime) else None
        )
        if payload.kind == "plain" and self.max_fallbacks:
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
        current = _staged(stages, AWSCURRENT)
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
                version = _staged(stages, stage)
                if len(history) >= self.max_fallbacks or version is None or version == current:
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
        raw: str | bytes | None = answer.get("SecretString")
        created = answer.get("CreatedDate")
        return (
            answer.get("SecretBinary") if raw is None else raw,
            created if isinstance(created, datetime) else None,
        )

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
        from botocore import exceptions as bce

        try:
            return getattr(client, operation)(**params)
        except bce.ClientError as exc:
            error = exc.response.get("Error", {})
            if (
                operation == "get_secret_value"
                and error.get("Code") == "InvalidRequestException"
                and "VersionStage" in str(error.get("Message", ""))
            ):
                raise _StageMoved from exc
            raise self._translate(client, exc) from exc
        except bce.BotoCoreError as exc:
            raise self._translate(client, exc) from exc

    def _translate(self, client: SecretsManagerClient, exc: BaseException) -> SecretKeyringError:
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
        if self._owns_client:
            self._client = None


def _secret_value(answer: Mapping[str, Any]) -> str | bytes | None:
    raw: str | bytes | None = answer.get("SecretString")
    return answer.get("SecretBinary") if raw is None else raw


def _staged(stages: Mapping[str, Sequence[str]], stage: str) -> str | None:
    for version, labels in stages.items():
        if stage in labels:
            return version
    return None


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)
