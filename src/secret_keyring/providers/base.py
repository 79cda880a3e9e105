"""The provider contract and the little behaviour providers share.

A provider turns a source into a [Keyring][secret_keyring.Keyring]. Caching is not its
job (see [CachedKeyring][secret_keyring.CachedKeyring]), but being cheap when nothing changed is:
backends with versions (Vault KV v2, Secrets Manager) check the version first and re-read the
value only when it moved.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import threading
from types import ModuleType
from typing import Any, ClassVar, Protocol, runtime_checkable

from secret_keyring import _fork
from secret_keyring._headroom import with_headroom
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
        _fork.register(self)

    @property
    def source(self) -> str:
        """Where the keyring comes from, safe to log."""
        return self._source

    #: The ``?option=`` names the provider's URL scheme accepts (see ``from_url``).
    url_options: ClassVar[frozenset[str]] = frozenset()
    #: A source for one developer's machine only: the deploy checks refuse it.
    development_only: ClassVar[bool] = False
    #: Whether a rotation reaches running processes without a restart (an environment
    #: variable cannot change inside a process).
    live_rotation: ClassVar[bool] = True

    @property
    def backend_history(self) -> bool:
        """Whether a plain payload gets fallbacks from the backend's older versions (Vault KV
        v2, Secrets Manager). Without history a plain key has no fallbacks of its own."""
        return False

    def describe_as(self, source: str) -> None:
        """Use ``source`` (a redacted URL) in messages and status from now on."""
        self._source = source

    @property
    def fetch_timeout(self) -> float | None:
        """The longest one ``fetch()`` takes while the backend answers within this provider's
        own timeouts, in seconds, or ``None`` when unknown. Past it, the watchdog of
        [CachedKeyring][secret_keyring.CachedKeyring] counts a refresh as hung."""
        return None

    def fetch(self) -> Keyring:  # pragma: no cover - abstract
        raise NotImplementedError

    def status(self) -> dict[str, Any]:
        """What the last fetch left out or noticed, for ``CachedKeyring.status()``; no key
        material. Empty unless a backend has something to say."""
        return {}

    def _after_fork(self) -> None:
        """Run in the child after ``fork()``: replace locks, drop clients and connections."""
        self._lock = threading.RLock()

    def __repr__(self) -> str:
        # Safe on a half-built provider: tracebacks with locals repr it.
        return f"{type(self).__name__}({getattr(self, '_source', None)!r})"


def require_extra(module: str, extra: str) -> ModuleType:
    """Import an optional SDK or raise an ``ImportError`` that says how to install it.

    A first import runs on fresh frame stack (``with_headroom``): how much an SDK's import
    costs on CPython 3.11+ must not depend on how deep the caller's stack happens to be."""
    try:
        loaded = sys.modules.get(module)
        if loaded is not None:
            return loaded
        return with_headroom(lambda: importlib.import_module(module))
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
