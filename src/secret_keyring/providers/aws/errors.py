"""The one place that maps boto3/botocore exceptions to this library's errors.

Most specific first: STS refusals, missing secrets, KMS and IAM denials, credential problems,
throttling and server errors by error code, then botocore's own exceptions (no region, no
credentials, unreachable endpoint). The result records what callers act on (``status``,
``code``, ``already_exists``: see [SourceError][secret_keyring.errors.SourceError]), so nobody
else looks at a botocore exception. Messages name the source, the region and a fix; they never
contain key material or credentials.
"""

from __future__ import annotations

import collections
import re
from collections.abc import Callable
from typing import Any, Final

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

__all__ = ["denies_this_version", "sdk_exceptions", "translate_error"]

_TOO_MANY_REQUESTS: Final = 429
_SERVER_ERROR: Final = 500
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


class _Answer(Record):
    """What a ``ClientError`` says: the error code, message, HTTP status and operation."""

    code: str
    message: str
    status: int
    operation: str


class _Rule(Record):
    """One row of a mapping table: which errors it takes, what it makes of them.

    ``message`` follows ``"{where}: "`` and is a ``str.format`` template; ``codes`` and
    ``when`` select (either may match).
    """

    error: type[SecretKeyringError]
    message: str
    codes: frozenset[str] = frozenset()
    when: Callable[[_Answer], bool] | None = None
    conflict: bool = False

    def matches(self, answer: _Answer) -> bool:
        return answer.code in self.codes or (self.when is not None and self.when(answer))


class _ClassRule(Record):
    """A row for botocore's own exceptions: the class names it takes, and what it makes."""

    names: tuple[str, ...]
    error: type[SecretKeyringError]
    message: str


#: ``ClientError`` codes, most specific first; the first matching row wins. Placeholders:
#: ``{operation}``, ``{aws}`` (code and message), ``{code}``, ``{role}``, ``{grant}``.
_CLIENT_RULES: tuple[_Rule, ...] = (
    _Rule(
        AccessDenied,
        "cannot assume role {role} ({aws}); the role's trust policy must allow this principal, "
        "and the principal needs sts:AssumeRole on it",
        when=lambda a: (
            a.operation == "AssumeRole" and (a.code in _FORBIDDEN_CODES or a.code in _REQUEST_CODES)
        ),
    ),
    _Rule(
        SecretNotFound,
        "Secrets Manager has no such secret or version ({operation}); check the name or ARN, "
        "the region (?region= or AWS_REGION) and the account the credentials belong to",
        codes=_NOT_FOUND_CODES,
    ),
    # GetSecretValue with a VersionId and a VersionStage the version no longer has: a rotation
    # moved the label between DescribeSecret and this read.
    _Rule(
        SourceUnavailable,
        "the version read no longer has the staging label asked for ({aws}); the secret "
        "changed while being read",
        when=lambda a: a.code == "InvalidRequestException" and "VersionStage" in a.message,
        conflict=True,
    ),
    _Rule(
        SecretNotFound,
        "the secret is scheduled for deletion; restore it (aws secretsmanager restore-secret "
        "--secret-id ...) or point the source at another secret",
        when=lambda a: a.code == "InvalidRequestException" and bool(_DELETION.search(a.message)),
    ),
    _Rule(
        AccessDenied,
        "Secrets Manager cannot decrypt the secret with its KMS key ({aws}); grant kms:Decrypt "
        "on that key to this principal (key policy and IAM policy) and check the key is enabled",
        codes=frozenset({"DecryptionFailure"}),
        when=lambda a: a.code in _FORBIDDEN_CODES and "kms" in a.message.lower(),
    ),
    _Rule(AccessDenied, "access denied to {operation} ({aws}); {grant}", codes=_FORBIDDEN_CODES),
    _Rule(
        AccessDenied,
        "AWS does not recognise the access key ({code}); it was deleted, belongs to another "
        "partition, or the endpoint is wrong; check the credentials in use",
        codes=_UNKNOWN_KEY_CODES,
    ),
    _Rule(
        AccessDenied,
        "the AWS credentials have expired ({code}); renew them (aws sso login, a new session "
        "token); instance, task and pod roles renew on their own",
        codes=_EXPIRED_CODES,
    ),
    _Rule(
        AccessDenied,
        "the request signature was rejected ({code}); the secret access key does not match the "
        "key id, or the clock is off by more than 5 minutes",
        codes=_SIGNATURE_CODES,
    ),
    _Rule(
        AccessDenied,
        "the request was not signed ({code}); configure AWS credentials",
        codes=_MISSING_AUTH_CODES,
    ),
    _Rule(
        SourceUnavailable,
        "Secrets Manager is throttling {operation} ({code}); keep a TTL of minutes so a fleet "
        "makes few calls; retrying",
        codes=_THROTTLING_CODES,
        when=lambda a: a.status == _TOO_MANY_REQUESTS,
    ),
    _Rule(
        SourceUnavailable,
        "Secrets Manager failed on {operation} ({code_or_status}); retrying",
        codes=_SERVER_CODES,
        when=lambda a: a.status >= _SERVER_ERROR,
    ),
    _Rule(
        ConfigurationError,
        "Secrets Manager refused {operation} ({aws}); check the secret id",
        codes=_REQUEST_CODES,
    ),
    _Rule(SourceError, "{operation} failed ({aws})", when=lambda a: True),
)

#: botocore's own exceptions (by class name), most specific first. Placeholders: ``{name}``
#: (the class), ``{short}`` (the exception, shortened), ``{role_hint}``, ``{at_endpoint}`` and
#: the exception's ``kwargs`` (``{profile}``, ``{cred_var}``, ``{provider}``).
_BOTOCORE_RULES: tuple[_ClassRule, ...] = (
    _ClassRule(
        ("NoRegionError",),
        ConfigurationError,
        "no AWS region is configured; add ?region=eu-west-1 to the source URL, set AWS_REGION, "
        "or set region in the AWS profile",
    ),
    _ClassRule(
        ("ProfileNotFound",),
        ConfigurationError,
        "AWS profile {profile!r} is not in the AWS config or credentials file; fix ?profile= / "
        "AWS_PROFILE or add the profile",
    ),
    _ClassRule(
        ("PartialCredentialsError",),
        ConfigurationError,
        "only part of the AWS credentials is set ({cred_var} is missing from {provider}); set "
        "the full key pair or remove it to use the default credential chain",
    ),
    _ClassRule(
        ("NoCredentialsError",),
        AccessDenied,
        "no AWS credentials found; attach an IAM role to the instance, task or pod (or set "
        "AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY){role_hint}",
    ),
    _ClassRule(
        ("SSOError", "TokenRetrievalError"),
        AccessDenied,
        "the AWS SSO session is missing or expired; run `aws sso login` for the profile, or use "
        "a role outside development",
    ),
    _ClassRule(
        ("CredentialRetrievalError", "RefreshWithMFAUnsupportedError"),
        AccessDenied,
        "AWS credentials could not be obtained ({short}); fix the credential source of the "
        "profile or environment",
    ),
    _ClassRule(
        ("ParamValidationError",),
        ConfigurationError,
        "boto3 refused the request ({short}); check the secret id",
    ),
    _ClassRule(
        ("SSLError",),
        SourceError,
        "TLS verification of the Secrets Manager endpoint failed; if a proxy re-signs TLS, point "
        "AWS_CA_BUNDLE at its CA certificate (never disable verification)",
    ),
    _ClassRule(
        ("ConnectionError", "HTTPClientError"),
        SourceUnavailable,
        "cannot reach Secrets Manager{at_endpoint} ({name}); check the network path (VPC "
        "endpoint, NAT, proxy) and the endpoint URL; retrying",
    ),
    _ClassRule(("BotoCoreError",), SourceError, "{name}: {short}"),
)


def translate_error(
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
    bce = _botocore_exceptions()
    where = f"{source} (region {region or 'not set'})"
    if isinstance(exc, bce.ClientError):
        answer = _client_error_parts(exc)
        rule = next(rule for rule in _CLIENT_RULES if rule.matches(answer))
        error = rule.error(
            f"{where}: "
            + rule.message.format(
                operation=answer.operation,
                aws=f"{answer.code}: {_short(answer.message)}" if answer.message else answer.code,
                code=answer.code,
                code_or_status=answer.code or answer.status,
                role=role_arn or "(role_arn)",
                grant=_GRANT,
            ),
            source=source,
        )
        if isinstance(error, SourceError):
            error.status = answer.status or None
            error.code = answer.code
            error.action = answer.operation
            error.already_exists = answer.code == "ResourceExistsException"
            error.conflict = rule.conflict
        return error
    kwargs = getattr(exc, "kwargs", None) or {}
    endpoint = kwargs.get("endpoint_url")
    values = collections.ChainMap(
        {
            "name": type(exc).__name__,
            "short": _short(exc),
            "role_hint": " to act as the source identity for ?role_arn=" if role_arn else "",
            "at_endpoint": f" at {endpoint}" if endpoint else "",
        },
        kwargs,
        {"profile": "", "cred_var": "a variable", "provider": "the configuration"},
    )
    for kind in _BOTOCORE_RULES:
        if isinstance(exc, tuple(getattr(bce, name) for name in kind.names)):
            return kind.error(f"{where}: " + kind.message.format_map(values), source=source)
    return SourceError(f"{where}: unexpected {type(exc).__name__}", source=source)


def sdk_exceptions() -> tuple[type[BaseException], ...]:
    """The exceptions [translate_error][secret_keyring.providers.aws.errors.translate_error]
    is for: botocore's ``ClientError`` and ``BotoCoreError`` (imported now)."""
    bce = _botocore_exceptions()
    return (bce.ClientError, bce.BotoCoreError)


def _botocore_exceptions() -> Any:
    """``botocore.exceptions``, imported on first use (the module is imported without it)."""
    return require_extra("botocore.exceptions", "aws")


def denies_this_version(error: SecretKeyringError) -> bool:
    """Whether an ``AccessDenied`` is Secrets Manager's or KMS's verdict on what was asked for.

    An IAM denial (a policy conditioned on ``secretsmanager:VersionStage``, say) or a KMS
    ``DecryptionFailure`` is an answer about that version and stays true until its labels change;
    missing, expired, unknown or mis-signed credentials (a skewed clock) say nothing about the
    version and pass with the next credentials. Only the first kind may be remembered.

    Args:
        error: what [translate_error][secret_keyring.providers.aws.errors.translate_error]
            returned.

    Returns:
        True for a denial of the request itself, False for a credentials problem.
    """
    if not isinstance(error, AccessDenied):
        return False
    return error.code == "DecryptionFailure" or error.code in _FORBIDDEN_CODES


def _client_error_parts(exc: Any) -> _Answer:
    """The error code, message, HTTP status and operation of a ``ClientError``."""
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
    operation = str(getattr(exc, "operation_name", "") or "the call")
    return _Answer(code, message, status, operation)


def _short(value: object, limit: int = 300) -> str:
    text = " ".join(str(value).split())
    return text if len(text) <= limit else text[:limit] + "..."
