"""The provider contract and the little behaviour providers share.

A provider turns a source into a [Keyring][secret_keyring.Keyring]. Caching is not its
job (see [CachedKeyring][secret_keyring.CachedKeyring]), but being cheap when nothing changed is:
backends with versions (Vault KV v2, Secrets Manager) check the version first and re-read the
value only when it moved.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import threading
import weakref
from types import ModuleType
from typing import Protocol, runtime_checkable

from secret_keyring.keyring import Keyring

__all__ = ["BaseProvider", "Provider", "check_extra", "require_extra"]


@runtime_checkable
class Provider(Protocol):
    """Anything that can fetch a keyring.

    ``source`` is a human-readable, redacted description (no credentials) used in messages.
    """

    @property
    def source(self) -> str:
        """Where the keyring comes from, safe to log."""
        ...

    def fetch(self) -> Keyring:
        """Read the keyring from the backend.

        Raises:
            SourceError: the backend failed (see [secret_keyring.errors][]).
            InvalidSecret: the stored value is not a usable keyring.
        """
        ...


class BaseProvider:
    """Shared behaviour: a redacted ``source``, a lock, and a hook run in a forked child.

    Subclasses keep SDK clients in attributes created lazily under ``self._lock`` and drop them
    in ``_after_fork()``, so a gunicorn ``--preload`` worker never shares a connection pool or
    a lock with its parent.
    """

    def __init__(self, source: str) -> None:
        self._source = source
        self._lock = threading.RLock()
        _register_fork_hook(self)

    @property
    def source(self) -> str:
        """Where the keyring comes from, safe to log."""
        return self._source

    def fetch(self) -> Keyring:  # pragma: no cover - abstract
        raise NotImplementedError

    def _after_fork(self) -> None:
        """Run in the child after ``fork()``: replace locks, drop clients and connections."""
        self._lock = threading.RLock()

    def __repr__(self) -> str:
        # Safe on a half-built provider: tracebacks with locals repr it.
        return f"{type(self).__name__}({getattr(self, '_source', None)!r})"


_live: weakref.WeakSet[BaseProvider] = weakref.WeakSet()


def _register_fork_hook(provider: BaseProvider) -> None:
    _live.add(provider)


def _reset_providers_after_fork() -> None:
    for provider in list(_live):
        provider._after_fork()


if hasattr(os, "register_at_fork"):  # pragma: no branch - POSIX
    os.register_at_fork(after_in_child=_reset_providers_after_fork)


def require_extra(module: str, extra: str) -> ModuleType:
    """Import an optional SDK or raise an ``ImportError`` that says how to install it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise _missing_extra(module, extra) from exc


def check_extra(module: str, extra: str) -> None:
    """Raise the ``ImportError`` of ``require_extra`` when ``module`` is not installed, without
    importing it (an extra's declared package the code path does not itself import)."""
    if importlib.util.find_spec(module) is None:
        raise _missing_extra(module, extra)


def _missing_extra(module: str, extra: str) -> ImportError:
    return ImportError(
        f"{module} is required for this source: pip install 'django-secret-keyring[{extra}]'",
        name=module,
    )
