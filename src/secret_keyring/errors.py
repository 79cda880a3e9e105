"""Every exception django-secret-keyring raises.

The tree::

    SecretKeyringError
    ├── ConfigurationError        a source URL, option or environment variable is wrong
    ├── SourceError               the backend could not give us the secret
    │   ├── SecretNotFound        no such secret, version or field
    │   ├── AccessDenied          credentials missing, wrong, expired or not allowed
    │   └── SourceUnavailable     unreachable, sealed, throttled, timed out (retryable)
    ├── InvalidSecret             the payload is not a usable keyring
    │   └── WeakSecretKey         a key fails Django's security.W009 rules
    └── RotationError             a rotation step could not complete

Messages name the source, the field and the fix. They never contain key material, tokens or
credentials: at most a fingerprint (the first 8 hex digits of the key's SHA-256).

Tracebacks neither: the functions a caller enters the library through are decorated with
``clears_locals()``, so an exception leaving them carries frames whose local variables (raw
payloads, keys, Vault tokens in request headers) have been cleared. Debug pages and error
trackers that show locals then show none for those frames; file, line and function remain.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

__all__ = [
    "AccessDenied",
    "ConfigurationError",
    "InvalidSecret",
    "RotationError",
    "SecretKeyringError",
    "SecretNotFound",
    "SourceError",
    "SourceUnavailable",
    "WeakSecretKey",
]


class SecretKeyringError(Exception):
    """Base class of every error raised by this library.

    Attributes:
        source: a redacted description of the source involved (never a credential), or ``""``.
    """

    def __init__(self, message: str, *, source: str = "") -> None:
        super().__init__(message)
        self.source = source


class ConfigurationError(SecretKeyringError, ValueError):
    """A source URL, option or environment variable is wrong; fix the configuration."""


class SourceError(SecretKeyringError):
    """The backend could not give us the secret.

    A backend's SDK errors are classified once, by that backend's error mapper, which records
    here what callers need to decide what to do next; nobody digs in ``__cause__``.

    Attributes:
        retryable: whether trying again later may succeed.
        status: the HTTP status of the backend's answer, or ``None`` when there was none.
        code: the backend's own error code (``ResourceExistsException``), or ``""``.
        action: what was being done when it failed (``"login"``, ``"read metadata"``...).
        never_sent: the request never reached a server (a refused connection, a connect
            timeout), so even a write may be retried elsewhere.
        conflict: a conditional request lost to a concurrent change (a Vault check-and-set
            saw a newer version; a Secrets Manager version lost the staging label asked for).
        already_exists: a create found the resource there already.
    """

    retryable: bool = False

    def __init__(
        self,
        message: str,
        *,
        source: str = "",
        status: int | None = None,
        code: str = "",
        action: str = "",
        never_sent: bool = False,
        conflict: bool = False,
        already_exists: bool = False,
    ) -> None:
        super().__init__(message, source=source)
        self.status = status
        self.code = code
        self.action = action
        self.never_sent = never_sent
        self.conflict = conflict
        self.already_exists = already_exists


class SecretNotFound(SourceError):
    """The secret, its version or the named field does not exist."""


class AccessDenied(SourceError):
    """Credentials are missing, wrong, expired or not allowed to read the secret."""


class SourceUnavailable(SourceError):
    """The backend is unreachable, sealed, throttled or timed out; a retry may succeed."""

    retryable = True


class InvalidSecret(SecretKeyringError, ValueError):
    """The payload cannot be used as a keyring (empty, malformed, wrong type, too large)."""


class WeakSecretKey(InvalidSecret):
    """A key fails Django's ``security.W009`` rules (length, diversity, insecure prefix)."""


class RotationError(SecretKeyringError):
    """A rotation step could not complete; the secret is left in its previous consistent state."""


_P = ParamSpec("_P")
_R = TypeVar("_R")


def clear_locals(exc: BaseException) -> None:
    """Clear the local variables of every finished frame in ``exc``'s traceback, and in those of
    its cause and context, recursively. Frames still running (the caller's) are left alone."""
    pending: list[BaseException | None] = [exc]
    seen: set[int] = set()
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        tb = current.__traceback__
        while tb is not None:
            # A frame still executing belongs to a caller: clear() refuses it, and that is right.
            with contextlib.suppress(RuntimeError):
                tb.tb_frame.clear()
            tb = tb.tb_next
        pending += [current.__cause__, current.__context__]


def clears_locals(function: Callable[_P, _R]) -> Callable[_P, _R]:
    """Decorate an entry point so that an exception leaving it holds no local variables of the
    frames below it, nor of this wrapper (which holds the arguments)."""

    @functools.wraps(function)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        try:
            return function(*args, **kwargs)
        except BaseException as exc:
            clear_locals(exc)
            del args, kwargs
            raise

    return wrapper
