"""AWS Secrets Manager (needs the ``aws`` extra: boto3).

One concern a module:

* ``errors``: the one mapper of boto3/botocore exceptions to this library's errors.
* ``client``: building a Secrets Manager client (configuration, timeouts, assumed roles, log
  redaction), shared by the provider and the rotation Lambda.
* ``secrets_manager``:
  [AwsSecretsManagerProvider][secret_keyring.providers.aws.AwsSecretsManagerProvider], the
  version-aware reader, and the staging labels.

Importing this package does not import boto3: it is imported when a client is built.
"""

from __future__ import annotations

from secret_keyring.providers.aws.client import (
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_MAX_ATTEMPTS,
    DEFAULT_READ_TIMEOUT,
    DEFAULT_ROLE_SESSION_NAME,
    build_client,
)
from secret_keyring.providers.aws.errors import denies_this_version, translate_error
from secret_keyring.providers.aws.secrets_manager import (
    AWSCURRENT,
    AWSPENDING,
    AWSPREVIOUS,
    DEFAULT_PENDING_MAX_AGE,
    AwsSecretsManagerProvider,
)

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
