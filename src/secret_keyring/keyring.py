"""The [Keyring][secret_keyring.Keyring] value object, the rules every key must pass, and
fingerprints.

A keyring is what Django needs: the key that signs (``current``) and the keys that still verify
(``next`` and ``previous``). Everything here is pure: no I/O, no SDK, no Django. Reading a
stored value into a keyring is ``secret_keyring.payload``'s (its names are importable from here
too).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

from secret_keyring._lazy import lazy_attributes
from secret_keyring._record import Record
from secret_keyring.errors import (
    ConfigurationError,
    InvalidSecret,
    WeakSecretKey,
    clears_locals,
)

__all__ = [
    "DEFAULT_FIELD",
    "MAX_FALLBACKS",
    "MAX_KEYS",
    "MAX_PAYLOAD_BYTES",
    "Keyring",
    "check_max_fallbacks",
    "fingerprint",
    "is_weak",
    "member_names",
    "shown_name",
    "validate_key",
    "weakness",
]

#: Largest payload accepted, in bytes (UTF-8).
MAX_PAYLOAD_BYTES = 64 * 1024
#: Most keys in one keyring: every fallback costs an HMAC on each failed verification.
MAX_KEYS = 20
#: Most previous keys a rotation keeps, and most older versions a plain payload takes as
#: fallbacks: room for ``current`` and ``next`` within :data:`MAX_KEYS`. One range for every
#: place the option is accepted (``secret_keys()``, the providers, the CLI, the handlers).
MAX_FALLBACKS = MAX_KEYS - 2
#: The member of a JSON object (a Vault KV secret's data) that holds a plain key when no
#: ``#field`` names one and the object is not keyring JSON.
DEFAULT_FIELD = "secret_key"
#: Deepest JSON nesting accepted (a keyring is two levels deep). Checked before decoding because
#: the depth at which ``json`` gives up with ``RecursionError`` differs between Python versions.
MAX_JSON_DEPTH = 64
#: Django's own rules for a usable SECRET_KEY (``django.core.checks.security.base``, W009).
MIN_KEY_LENGTH = 50
MIN_UNIQUE_CHARACTERS = 5
INSECURE_PREFIX = "django-insecure-"

_FIX_WEAK = "generate a new key with `secret-keyring generate` (or rotate the secret)"
_FIX_WEAK_CURRENT = (
    "generate a new key with `secret-keyring generate`, or adopt a live site's existing key "
    "without logging anyone out: `secret-keyring init SOURCE --adopt-env VAR`, then rotate twice"
)


def check_max_fallbacks(value: object, *, source: str = "", name: str = "max_fallbacks") -> int:
    """Validate a ``max_fallbacks`` option: an integer from 0 to :data:`MAX_FALLBACKS`.

    The one check of the option, for both of its meanings: how many older versions a reader
    takes as fallbacks for a plain key (a provider's ``history_fallbacks``), and how many
    previous keys a rotation keeps (``keep_previous`` in ``secret_keyring.keygen.rotate``).

    Args:
        value: the option as given.
        source: redacted source description, for the message.
        name: how the caller spells the option (``--max-fallbacks``, an environment variable).

    Returns:
        The value, as an ``int``.

    Raises:
        ConfigurationError: not an integer (``bool`` included), or out of range.
    """
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_FALLBACKS:
        prefix = f"{source}: " if source else ""
        raise ConfigurationError(
            f"{prefix}{name} must be an integer from 0 to {MAX_FALLBACKS} (a keyring holds at "
            f"most {MAX_KEYS} keys: current, next and the fallbacks), got {value!r}",
            source=source,
        )
    return value


def fingerprint(key: str) -> str:
    """Return the first 8 hex digits of the key's SHA-256: safe to log, enough to compare."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:8]


def shown_fingerprint(key: object) -> str:
    """A fingerprint for ``repr``: ``None`` for no key, ``<invalid>`` for anything unusable."""
    if key is None:
        return "None"
    try:
        return fingerprint(key)  # type: ignore[arg-type]
    except (AttributeError, TypeError, UnicodeEncodeError):
        return "<invalid>"


def weakness(key: str) -> str | None:
    """Why ``key`` fails Django's ``security.W009`` rules, or ``None`` if it passes them.

    The reason is safe to show: it never quotes the key.
    """
    if key.startswith(INSECURE_PREFIX):
        return f"the key starts with {INSECURE_PREFIX!r} (a startproject placeholder)"
    if len(key) < MIN_KEY_LENGTH:
        return f"the key has {len(key)} characters, Django requires at least {MIN_KEY_LENGTH}"
    if len(set(key)) < MIN_UNIQUE_CHARACTERS:
        return f"the key has fewer than {MIN_UNIQUE_CHARACTERS} distinct characters"
    return None


def is_weak(key: str) -> bool:
    """Whether ``key`` fails Django's ``security.W009`` rules."""
    return weakness(key) is not None


@clears_locals
def validate_key(
    key: object, *, source: str = "", field: str = "current", allow_weak: bool = False
) -> str:
    """Check one key against Django's W009 rules and our text rules.

    Args:
        key: the candidate key.
        source: redacted source description, for the message.
        field: which member of the keyring this is (``current``, ``next``, ``previous[2]``).
        allow_weak: accept a key that fails only the W009 rules (an adopted site's old key in
            the roles where the keyring allows one, see [Keyring][secret_keyring.Keyring]).

    Returns:
        The key, unchanged.

    Raises:
        InvalidSecret: not a string, or it contains control or non-printable characters.
        WeakSecretKey: shorter than 50 characters, fewer than 5 distinct characters, or it
            starts with ``django-insecure-`` (unless ``allow_weak``).
    """
    where = locate(source, field)
    if not isinstance(key, str):
        raise InvalidSecret(
            f"{where}: expected a string, got {type(key).__name__}; store the key as a JSON string",
            source=source,
        )
    if not key:
        raise InvalidSecret(f"{where}: the key is empty; {_FIX_WEAK}", source=source)
    if len(key) > MAX_PAYLOAD_BYTES:
        # Vault hands over decoded data, which never passed the payload size check.
        raise InvalidSecret(
            f"{where}: the key has {len(key)} characters, at most {MAX_PAYLOAD_BYTES} are "
            "allowed; store a key from `secret-keyring generate`",
            source=source,
        )
    if not key.isprintable():
        raise InvalidSecret(
            f"{where}: the key contains control or non-printable characters "
            "(a stray newline, NUL or escape?); store printable text only",
            source=source,
        )
    if key != key.strip():
        raise InvalidSecret(
            f"{where}: the key has leading or trailing whitespace; store it without",
            source=source,
        )
    reason = None if allow_weak else weakness(key)
    if reason is not None:
        # Only `next` can never hold a live site's old key: elsewhere, adopting it is the fix.
        fix = _FIX_WEAK if field.endswith("next") else _FIX_WEAK_CURRENT
        raise WeakSecretKey(f"{where}: {reason}; {fix}", source=source)
    return key


def validate_roles(
    current: object, nxt: object, previous: Sequence[object], source: str, prefix: str = ""
) -> None:
    """The one rule for which role may hold a weak key.

    ``next`` must be strong: it is what the next rotation promotes. ``previous`` may hold a weak
    key: it only verifies old signatures, and rotation drops it (``keygen.rotate``).
    ``current`` may be weak only while a strong ``next`` waits to replace it: the shape
    ``secret-keyring init --adopt-env`` writes for a site's existing key, so that adopting the
    library logs nobody out. A plain key (no ``next``) is always judged strictly.
    """

    def name(member: str) -> str:
        return f"{prefix}.{member}" if prefix else member

    validate_key(current, source=source, field=name("current"), allow_weak=nxt is not None)
    if nxt is not None:
        validate_key(nxt, source=source, field=name("next"))
    for index, key in enumerate(previous):
        validate_key(key, source=source, field=f"{name('previous')}[{index}]", allow_weak=True)


def locate(source: str, field: str) -> str:
    return f"{source}: field {field!r}" if source else f"field {field!r}"


#: Member names longer than this are not quoted in messages: a key pasted where a name belongs
#: is at least ``MIN_KEY_LENGTH`` characters long.
NAME_SHOWN = 40


def shown_name(name: object) -> str:
    """A member name of secret data as messages show it: quoted when short and printable, else
    only its length (a key stored by mistake as a name must not reach a log)."""
    text = str(name)
    if len(text) <= NAME_SHOWN and text.isprintable():
        return repr(text)
    return f"<a {len(text)}-character name>"


def member_names(data: Mapping[Any, Any], limit: int = 10) -> str:
    """The first ``limit`` member names of secret data, for messages (see ``shown_name()``)."""
    return ", ".join(shown_name(name) for name in list(data)[:limit])


class Keyring(Record):
    """The keys of one Django site: ``current`` signs, ``next`` and ``previous`` verify.

    Construction validates every key, so a ``Keyring`` that exists is usable. Every key must
    pass Django's W009 rules, with one exception for adopting a live site's existing key: a weak
    key is accepted in ``previous``, and as ``current`` while a strong ``next`` is there to
    replace it (what ``secret-keyring init --adopt-env`` writes). ``next`` is always strong.

    Attributes:
        current: the key Django signs with (``SECRET_KEY``).
        next: the key that becomes current at the next rotation; known to every process one
            rotation period early, so stale caches never reject fresh signatures.
        previous: the keys that were current before, newest first.
        version: the backend's version of the secret (KV version, AWS version id), if any.
        source: a redacted description of where the keyring came from.

    Raises:
        InvalidSecret: a key is not printable text, or there are more than 20 keys.
        WeakSecretKey: ``next``, or a ``current`` with no ``next``, fails Django's W009 rules.
    """

    current: str
    next: str | None
    previous: tuple[str, ...]
    version: str | None
    source: str

    @clears_locals
    def __init__(
        self,
        current: str,
        next: str | None = None,  # noqa: A002 - the field's name, as callers pass it
        previous: tuple[str, ...] = (),
        version: str | None = None,
        source: str = "",
    ) -> None:
        self._set(current=current, next=next, previous=previous, version=version, source=source)
        given: object = previous
        if not isinstance(given, tuple):
            # Accept any sequence of strings but store an immutable tuple; a bare string is
            # a classic mistake (it would be a tuple of characters), so refuse it.
            if isinstance(given, (str, bytes)) or not isinstance(given, Sequence):
                raise InvalidSecret(
                    f"{locate(self.source, 'previous')}: expected a list of keys, got "
                    f"{type(given).__name__}",
                    source=self.source,
                )
            object.__setattr__(self, "previous", tuple(given))
        count = 1 + (self.next is not None) + len(self.previous)
        if count > MAX_KEYS:
            raise InvalidSecret(
                f"{locate(self.source, 'previous')}: the keyring holds {count} keys, at most "
                f"{MAX_KEYS} are allowed (each costs an HMAC on every failed verification); "
                "trim 'previous'",
                source=self.source,
            )
        validate_roles(self.current, self.next, self.previous, self.source)

    @property
    def fallbacks(self) -> list[str]:
        """``SECRET_KEY_FALLBACKS``: ``next`` first, then ``previous``; no duplicates, never
        ``current``."""
        seen = {self.current}
        result: list[str] = []
        for key in (self.next, *self.previous):
            if key is not None and key not in seen:
                seen.add(key)
                result.append(key)
        return result

    @property
    def weak(self) -> tuple[str, ...]:
        """The keys that fail Django's W009 rules: an adopted site's old key, at most as
        ``current`` (before the first rotation) or in ``previous`` (until the second)."""
        return tuple(key for key in (self.current, *self.previous) if is_weak(key))

    @property
    def fingerprints(self) -> dict[str, Any]:
        """Fingerprints of every key, for logs and status output; ``weak`` lists those of
        :attr:`weak`."""
        return {
            "current": fingerprint(self.current),
            "next": fingerprint(self.next) if self.next is not None else None,
            "previous": [fingerprint(key) for key in self.previous],
            "weak": [fingerprint(key) for key in self.weak],
        }

    def same_keys(self, other: Keyring | None) -> bool:
        """Whether ``other`` holds the same keys in the same roles (version and source aside)."""
        return (
            other is not None
            and self.current == other.current
            and self.next == other.next
            and self.previous == other.previous
        )

    def __repr__(self) -> str:
        # Never raises, even for a keyring whose validation failed half-way (a traceback that
        # shows locals calls repr on it): unusable members show as <invalid>.
        previous = self.previous if isinstance(self.previous, (tuple, list)) else ()
        return (
            f"Keyring(current={shown_fingerprint(self.current)}, "
            f"next={shown_fingerprint(self.next)}, "
            f"previous=[{', '.join(shown_fingerprint(key) for key in previous)}], "
            f"version={self.version!r}, source={self.source!r})"
        )

    __str__ = __repr__


# Parsing moved to secret_keyring.payload; these names still import from here.
__getattr__, __dir__ = lazy_attributes(
    __name__,
    dict.fromkeys(
        ("Payload", "keyring_to_json", "parse_mapping", "parse_payload"), "secret_keyring.payload"
    ),
    __all__,
)
