"""Providers: one backend a module. Importing this package imports no SDK.

``VaultProvider`` needs the ``vault`` extra (hvac) and ``AwsSecretsManagerProvider`` the ``aws``
extra (boto3); each raises an ``ImportError`` naming its extra when constructed without it.

The backend modules are imported on first use of their names: ``import secret_keyring`` needs
only ``base`` (through ``secret_keyring.Provider``), and the Vault and AWS modules with their
standard-library dependencies are a third of its import time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from secret_keyring._lazy import lazy_attributes
from secret_keyring.providers.base import BaseProvider, Provider

if TYPE_CHECKING:
    from secret_keyring.providers.aws import AwsSecretsManagerProvider
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

__getattr__, __dir__ = lazy_attributes(
    __name__,
    {
        "AwsSecretsManagerProvider": "secret_keyring.providers.aws",
        "DevProvider": "secret_keyring.providers.local",
        "EnvProvider": "secret_keyring.providers.local",
        "FileProvider": "secret_keyring.providers.local",
        "VaultProvider": "secret_keyring.providers.vault",
    },
    __all__,
)
