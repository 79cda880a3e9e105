"""HashiCorp Vault / OpenBao (needs the ``vault`` extra: hvac).

One concern a module:

* ``settings``: connection settings from URL options, then ``VAULT_*``, then ``BAO_*``
  variables, the way the Vault CLI resolves them; credentials from the environment or files.
* ``auth``: the auth-method table (``token``, ``approle``, ``kubernetes``, ``jwt``, ``cert``,
  ``aws``, ``userpass``), each method's login call.
* ``errors``: the one mapper of hvac and requests exceptions to this library's errors.
* ``session``: [VaultSession][secret_keyring.providers.vault.session.VaultSession], the
  authenticated client with failover, renewal and re-login, shared by the reader and the
  rotation.
* ``kv``: [VaultProvider][secret_keyring.providers.vault.VaultProvider], the KV v1/v2 reader.

Importing this package does not import hvac: it is imported when a provider is built.
"""

from __future__ import annotations

from secret_keyring.providers.vault.auth import AUTH_METHODS, KUBERNETES_TOKEN_FILE
from secret_keyring.providers.vault.errors import translate_error
from secret_keyring.providers.vault.kv import VaultProvider
from secret_keyring.providers.vault.session import VaultSession
from secret_keyring.providers.vault.settings import (
    DEFAULT_TIMEOUT,
    VaultSettings,
    resolve_settings,
)

__all__ = [
    "AUTH_METHODS",
    "DEFAULT_TIMEOUT",
    "KUBERNETES_TOKEN_FILE",
    "VaultProvider",
    "VaultSession",
    "VaultSettings",
    "resolve_settings",
    "translate_error",
]
