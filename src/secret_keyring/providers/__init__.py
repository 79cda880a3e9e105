"""Providers: one backend a module. Importing this package imports no SDK.

``VaultProvider`` needs the ``vault`` extra (hvac) and ``AwsSecretsManagerProvider`` the ``aws``
extra (boto3); each raises an ``ImportError`` naming its extra when constructed without it.
"""

from secret_keyring.providers.aws import AwsSecretsManagerProvider
from secret_keyring.providers.base import BaseProvider, Provider
from secret_keyring.providers.local import DevProvider, EnvProvider, FileProvider
from secret_keyring.providers.vault import VaultProvider

__all__ = [
    "AwsSecretsManagerProvider",
    "BaseProvider",
    "DevProvider",
    "EnvProvider",
    "FileProvider",
    "Provider",
    "VaultProvider",
]
