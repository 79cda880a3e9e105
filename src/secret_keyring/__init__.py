"""django-secret-keyring: Django's SECRET_KEY and SECRET_KEY_FALLBACKS from Vault/OpenBao or AWS
Secrets Manager, kept current after a rotation without a restart.

Importing this package imports none of boto3, botocore, hvac, requests or Django.
"""

from secret_keyring.cache import CachedKeyring
from secret_keyring.keyring import Keyring
from secret_keyring.providers.base import Provider
from secret_keyring.urls import provider_from_url

__all__ = ["CachedKeyring", "Keyring", "Provider", "provider_from_url"]
