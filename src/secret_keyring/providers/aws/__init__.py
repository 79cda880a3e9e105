"""AWS Secrets Manager (needs the ``aws`` extra: boto3).

One concern a module:

* ``errors``: the one mapper of boto3/botocore exceptions to this library's errors.
* ``client``: building a Secrets Manager client (configuration, timeouts, assumed roles, log
  redaction), shared by the provider and the rotation Lambda.
* ``secrets_manager``:
  [AwsSecretsManagerProvider][secret_keyring.providers.aws.AwsSecretsManagerProvider], the
  version-aware reader, and the staging labels.

Importing this package does not import boto3: botocore is imported when a provider or a client is
built. ``errors`` is loaded on the first error (or the first use of its names here): a start-up
that goes well does not pay for the mapping tables.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from secret_keyring._lazy import lazy_attributes
from secret_keyring.providers.aws.client import (
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_MAX_ATTEMPTS,
    DEFAULT_READ_TIMEOUT,
    DEFAULT_ROLE_SESSION_NAME,
    build_client,
)
from secret_keyring.providers.aws.secrets_manager import (
    AWSCURRENT,
    AWSPENDING,
    AWSPREVIOUS,
    DEFAULT_PENDING_MAX_AGE,
    AwsSecretsManagerProvider,
)

if TYPE_CHECKING:
    from secret_keyring.providers.aws.errors import denies_this_version, translate_error

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

__getattr__, __dir__ = lazy_attributes(
    __name__,
    {
        "denies_this_version": "secret_keyring.providers.aws.errors",
        "translate_error": "secret_keyring.providers.aws.errors",
    },
    __all__,
)
