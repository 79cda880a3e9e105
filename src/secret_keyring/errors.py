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
"""

from __future__ import annotations

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

    Attributes:
        retryable: whether trying again later may succeed.
    """

    retryable: bool = False


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
