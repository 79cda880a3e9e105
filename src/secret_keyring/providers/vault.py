"""HashiCorp Vault / OpenBao KV provider (needs the ``vault`` extra: hvac)."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from secret_keyring.keyring import Keyring
from secret_keyring.providers.base import BaseProvider, require_extra

__all__ = ["VaultProvider"]


class VaultProvider(BaseProvider):
    """Reads a keyring from a KV v2 (default) or KV v1 secret."""

    def __init__(
        self,
        mount: str,
        path: str,
        *,
        field: str | None = None,
        kv_version: int = 2,
        auth: str = "token",
        role: str | None = None,
        auth_mount: str | None = None,
        addr: str | None = None,
        namespace: str | None = None,
        cacert: str | None = None,
        capath: str | None = None,
        client_cert: str | None = None,
        client_key: str | None = None,
        timeout: float | None = None,
        max_fallbacks: int = 3,
        environ: Mapping[str, str] | None = None,
        client: Any = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        require_extra("hvac", "vault")
        super().__init__(f"vault://{mount}/{path}" + (f"#{field}" if field else ""))
        self.mount = mount
        self.path = path
        self.field = field
        self.kv_version = kv_version
        self.auth = auth
        self.role = role
        self.auth_mount = auth_mount
        self.addr = addr
        self.namespace = namespace
        self.cacert = cacert
        self.capath = capath
        self.client_cert = client_cert
        self.client_key = client_key
        self.timeout = timeout
        self.max_fallbacks = max_fallbacks
        self._environ = environ
        self._client = client
        self._clock = clock

    def fetch(self) -> Keyring:
        raise NotImplementedError("VaultProvider.fetch lands with the Vault issue")
