"""translate_error: every boto3/botocore failure maps to the right error, with a message that
names the source and region and a fix, and with the original as ``__cause__``."""

from __future__ import annotations

from typing import Any

import pytest
from botocore import exceptions as bce

from secret_keyring.errors import (
    AccessDenied,
    ConfigurationError,
    SecretKeyringError,
    SecretNotFound,
    SourceError,
    SourceUnavailable,
)
from secret_keyring.providers.aws import translate_error

SOURCE = "aws-secretsmanager://prod/myapp/django#SECRET_KEY"
REGION = "eu-west-1"


def client_error(
    code: str, message: str = "", status: int = 400, operation: str = "GetSecretValue"
) -> bce.ClientError:
    response: Any = {
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {"HTTPStatusCode": status},
    }
    return bce.ClientError(response, operation)


def _id(exc: BaseException) -> str:
    if isinstance(exc, bce.ClientError):
        code = exc.response.get("Error", {}).get("Code") or "status"
        return f"ClientError-{code}"
    return type(exc).__name__


def translate(exc: BaseException, role_arn: str | None = None) -> SecretKeyringError:
    return translate_error(exc, source=SOURCE, region=REGION, role_arn=role_arn)


@pytest.mark.parametrize(
    ("exc", "expected", "says"),
    [
        (client_error("ResourceNotFoundException", status=404), SecretNotFound, "no such secret"),
        (
            client_error(
                "InvalidRequestException",
                "You can't perform this operation on the secret because it was marked for "
                "deletion.",
            ),
            SecretNotFound,
            "scheduled for deletion",
        ),
        (
            client_error(
                "InvalidRequestException",
                "You tried to perform the operation on a secret that's currently marked deleted.",
            ),
            SecretNotFound,
            "restore-secret",
        ),
        (
            client_error("AccessDeniedException", "User: arn:aws:iam::1:user/u is not authorized"),
            AccessDenied,
            "secretsmanager:GetSecretValue and secretsmanager:DescribeSecret",
        ),
        (
            client_error("AccessDeniedException", "Access to KMS is not allowed"),
            AccessDenied,
            "kms:Decrypt",
        ),
        (client_error("DecryptionFailure", "KMS key is disabled"), AccessDenied, "kms:Decrypt"),
        (client_error("UnrecognizedClientException"), AccessDenied, "does not recognise"),
        (client_error("InvalidClientTokenId", status=403), AccessDenied, "does not recognise"),
        (client_error("ExpiredTokenException"), AccessDenied, "expired"),
        (client_error("InvalidSignatureException"), AccessDenied, "clock"),
        (client_error("MissingAuthenticationToken"), AccessDenied, "not signed"),
        (client_error("ThrottlingException"), SourceUnavailable, "throttling"),
        (client_error("SomethingNew", status=429), SourceUnavailable, "throttling"),
        (client_error("InternalServiceError", status=500), SourceUnavailable, "retrying"),
        (client_error("", status=502), SourceUnavailable, "502"),
        (client_error("InvalidParameterException"), ConfigurationError, "check the secret id"),
        (client_error("403", "<html>Forbidden</html>", status=403), AccessDenied, "access denied"),
        (
            client_error(
                "403",
                "<ErrorResponse><Error><Code>AccessDenied</Code><Message>nope</Message></Error>",
                status=403,
            ),
            AccessDenied,
            "AccessDenied: nope",
        ),
        (client_error("SomethingNew", "odd"), SourceError, "SomethingNew: odd"),
        (bce.NoRegionError(), ConfigurationError, "?region="),
        (bce.ProfileNotFound(profile="prod"), ConfigurationError, "'prod'"),
        (
            bce.PartialCredentialsError(provider="env", cred_var="AWS_SECRET_ACCESS_KEY"),
            ConfigurationError,
            "AWS_SECRET_ACCESS_KEY",
        ),
        (bce.NoCredentialsError(), AccessDenied, "no AWS credentials"),
        (bce.UnauthorizedSSOTokenError(), AccessDenied, "aws sso login"),
        (
            bce.TokenRetrievalError(provider="sso", error_msg="expired"),
            AccessDenied,
            "aws sso login",
        ),
        (
            bce.CredentialRetrievalError(provider="custom-process", error_msg="exit 1"),
            AccessDenied,
            "could not be obtained",
        ),
        (bce.ParamValidationError(report="SecretId too long"), ConfigurationError, "refused"),
        (
            bce.SSLError(endpoint_url="https://x", error="CERTIFICATE_VERIFY_FAILED"),
            SourceError,
            "AWS_CA_BUNDLE",
        ),
        (
            bce.EndpointConnectionError(endpoint_url="https://sm.example"),
            SourceUnavailable,
            "https://sm.example",
        ),
        (bce.ConnectTimeoutError(endpoint_url="https://x"), SourceUnavailable, "cannot reach"),
        (bce.ReadTimeoutError(endpoint_url="https://x"), SourceUnavailable, "ReadTimeoutError"),
        (
            bce.ConnectionClosedError(endpoint_url="https://x"),
            SourceUnavailable,
            "cannot reach",
        ),
        (bce.DataNotFoundError(data_path="x"), SourceError, "DataNotFoundError"),
        (RuntimeError("boom"), SourceError, "unexpected RuntimeError"),
    ],
    ids=lambda value: _id(value) if isinstance(value, BaseException) else None,
)
def test_translation(exc: BaseException, expected: type[SecretKeyringError], says: str) -> None:
    error = translate(exc)

    assert type(error) is expected
    message = str(error)
    assert says in message
    assert message.startswith(f"{SOURCE} (region {REGION}): ")
    assert error.source == SOURCE
    assert getattr(error, "retryable", False) is (expected is SourceUnavailable)


def test_assume_role_denial_names_the_role_and_the_trust_policy() -> None:
    role = "arn:aws:iam::123456789012:role/app"
    error = translate(client_error("AccessDenied", status=403, operation="AssumeRole"), role)

    assert isinstance(error, AccessDenied)
    assert f"cannot assume role {role}" in str(error)
    assert "trust policy" in str(error)


def test_no_credentials_with_a_role_explains_the_source_identity() -> None:
    error = translate(bce.NoCredentialsError(), "arn:aws:iam::123456789012:role/app")

    assert "source identity for ?role_arn=" in str(error)


def test_region_unknown_is_said() -> None:
    error = translate_error(bce.NoRegionError(), source=SOURCE)

    assert "(region not set)" in str(error)


def test_long_service_messages_are_cut() -> None:
    error = translate(client_error("SomethingNew", "x" * 5000))

    assert len(str(error)) < 500


# -- what the mapper records for the rotation -----------------------------------------------


def test_aws_create_of_an_existing_secret_says_already_exists() -> None:
    error = translate_error(
        client_error("ResourceExistsException", "it exists", operation="CreateSecret"),
        source="aws-secretsmanager://x",
    )
    assert isinstance(error, SourceError)
    assert (error.already_exists, error.code, error.status, error.action) == (
        True,
        "ResourceExistsException",
        400,
        "CreateSecret",
    )


def test_aws_staging_label_that_moved_is_a_conflict() -> None:
    error = translate_error(
        client_error(
            "InvalidRequestException",
            "The VersionStage AWSCURRENT is not attached to the version you requested",
        ),
        source="aws-secretsmanager://x",
    )
    assert isinstance(error, SourceError)
    assert error.conflict
