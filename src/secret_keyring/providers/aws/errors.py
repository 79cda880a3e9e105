"""The one place that maps boto3/botocore exceptions to this library's errors.

Most specific first: STS refusals, missing secrets, KMS and IAM denials, credential problems,
throttling and server errors by error code, then botocore's own exceptions (no region, no
credentials, unreachable endpoint). The result records what callers act on (``status``,
``code``, ``already_exists``: see [SourceError][secret_keyring.errors.SourceError]), so nobody
else looks at a botocore exception. Messages name the source, the region and a fix; they never
contain key material or credentials.
"""

from __future__ import annotations

import re
from typing import Any

from secret_keyring.errors import (
    AccessDenied,
    ConfigurationError,
    SecretKeyringError,
    SecretNotFound,
    SourceError,
    SourceUnavailable,
)

__all__ = ["denies_this_version", "translate_error"]

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
        code, message, status = _client_error_parts(exc)
        error = _translate_client_error(
            exc,
            code=code,
            message=message,
            status=status,
            where=where,
            source=source,
            role_arn=role_arn,
        )
        if isinstance(error, SourceError):
            error.status = status or None
            error.code = code
            error.action = str(getattr(exc, "operation_name", "") or "")
            error.already_exists = code == "ResourceExistsException"
        return error
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
        error: what [translate_error][secret_keyring.providers.aws.errors.translate_error]
            returned.

    Returns:
        True for a denial of the request itself, False for a credentials problem.
    """
    if not isinstance(error, AccessDenied):
        return False
    return error.code == "DecryptionFailure" or error.code in _FORBIDDEN_CODES


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
    exc: Any,
    *,
    code: str,
    message: str,
    status: int,
    where: str,
    source: str,
    role_arn: str | None,
) -> SecretKeyringError:
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
