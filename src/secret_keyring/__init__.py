"""django-secret-keyring: Django's SECRET_KEY and SECRET_KEY_FALLBACKS from Vault/OpenBao or AWS
Secrets Manager, kept current after a rotation without a restart.

Importing this package imports none of boto3, botocore, hvac, requests or Django. The public
names are loaded on first use (PEP 562), so ``import secret_keyring`` itself costs next to
nothing; ``from secret_keyring import Keyring`` loads what that name needs.
"""

from __future__ import annotations

from secret_keyring._lazy import lazy_attributes

# Not `from typing import TYPE_CHECKING`: importing typing would double this package's import
# time, and type checkers treat a module-level TYPE_CHECKING constant the same way.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from secret_keyring.cache import CachedKeyring
    from secret_keyring.keyring import Keyring
    from secret_keyring.providers.base import Provider
    from secret_keyring.urls import provider_from_url

__all__ = ["CachedKeyring", "Keyring", "Provider", "provider_from_url"]

__getattr__, __dir__ = lazy_attributes(
    __name__,
    {
        "CachedKeyring": "secret_keyring.cache",
        "Keyring": "secret_keyring.keyring",
        "Provider": "secret_keyring.providers.base",
        "provider_from_url": "secret_keyring.urls",
    },
    __all__,
)
