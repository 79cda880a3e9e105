"""The [Keyring][secret_keyring.Keyring] value object, the rules every key must pass, and
fingerprints.

A keyring is what Django needs: the key that signs (``current``) and the keys that still verify
(``next`` and ``previous``). Everything here is pure: no I/O, no SDK, no Django. Reading a
stored value into a keyring is ``secret_keyring.payload``'s.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

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
    "adoption_marker",
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

#: Characters of an ``adopted`` marker: a whole SHA-256 hex digest (see ``adoption_marker()``).
ADOPTION_MARKER_LENGTH = 64
_HEX_DIGITS = frozenset("0123456789abcdef")

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


def adoption_marker(key: str) -> str:
    """The ``adopted`` member ``secret-keyring init --adopt-env`` writes for a weak site key.

    The whole SHA-256 hex digest, not the 8-digit [fingerprint][secret_keyring.keyring.fingerprint]
    (which is its prefix, so the two compare by eye): a fingerprint is for people comparing keys,
    the marker is what the loader trusts a weak key by. With 32 bits, another weak key matching
    a stored marker is a few minutes' search away; with 256 there is none, and the cost is the
    same single hash.
    """
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


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


@clears_locals
def validate_roles(
    current: object,
    nxt: object,
    previous: Sequence[object],
    source: str,
    prefix: str = "",
    *,
    adopted: object = None,
) -> None:
    """The one rule for which key may be weak: only the adopted one.

    ``secret-keyring init --adopt-env`` writes a live site's existing key as ``current`` with
    the ``adopted`` member, that key's [adoption_marker][secret_keyring.keyring.adoption_marker],
    so that adopting the library logs nobody out. A key that fails Django's W009 rules is
    accepted as ``current`` or in ``previous`` only when its marker equals ``adopted``;
    rotation keeps the marker while the key is in the keyring and drops it with the key
    (``keygen.rotate``). Any other weak key, in any role, is refused; ``next`` is always strong.
    A marker that names no key of the keyring (its key was removed by hand) trusts nothing and
    is dropped by the next rotation.

    Raises:
        InvalidSecret: a key is not printable text, or ``adopted`` is not a SHA-256 hex digest.
        WeakSecretKey: a key fails Django's W009 rules and is not the adopted one.
    """

    def name(member: str) -> str:
        return f"{prefix}.{member}" if prefix else member

    if adopted is not None and not (
        isinstance(adopted, str)
        and len(adopted) == ADOPTION_MARKER_LENGTH
        and _HEX_DIGITS.issuperset(adopted)
    ):
        raise InvalidSecret(
            f"{locate(source, name('adopted'))}: expected the SHA-256 hex digest of the adopted "
            f"key ({ADOPTION_MARKER_LENGTH} lowercase hex digits, as `secret-keyring init "
            "--adopt-env` writes it); fix or remove the member",
            source=source,
        )
    roles: list[tuple[str, object]] = [("current", current)]
    if nxt is not None:
        roles.append(("next", nxt))
    roles.extend((f"previous[{index}]", key) for index, key in enumerate(previous))
    for role, candidate in roles:
        if role == "next":
            validate_key(candidate, source=source, field=name(role))
            continue
        key = validate_key(candidate, source=source, field=name(role), allow_weak=True)
        reason = weakness(key)
        if reason is None:
            continue
        if adopted is not None and adoption_marker(key) == adopted:
            continue
        raise WeakSecretKey(
            f"{locate(source, name(role))}: {reason}, and it is not the key this keyring "
            f"adopted; {_fix_unadopted(key, role, has_next=nxt is not None)}",
            source=source,
        )
    # A marker that names no key of the keyring trusts nothing (a digest matches one key only)
    # and the next rotation drops it. Refusing it would turn an emergency edit, taking a
    # leaked adopted key out of 'previous', into an outage that keeps the leaked key trusted.


def _fix_unadopted(key: str, field: str, *, has_next: bool) -> str:
    """How to recover from a weak key that no ``adopted`` member names (never quotes it).

    The marker is offered as the fix only where an ``init --adopt-env`` from before the marker
    could have put the key: ``current`` beside a ``next``, or ``previous[0]`` after one
    rotation. Anywhere else, adding one would only hide a key nobody adopted.
    """
    base = (
        "a weak key is trusted only as a live site's key adopted with `secret-keyring init "
        "SOURCE --adopt-env VAR`, which records it in the keyring's 'adopted' member"
    )
    other = (
        "store a strong key (`secret-keyring generate`)"
        if field == "current"
        else "remove it from 'previous' (it only verifies old signatures)"
    )
    if not ((field == "current" and has_next) or field == "previous[0]"):
        return f"{base}; {other}"
    return (
        f"{base}. If an earlier init --adopt-env wrote this key here (before that member "
        'existed), add "adopted": the SHA-256 hex digest of this key (`printf %s "$KEY" | '
        f"sha256sum`; it starts with {fingerprint(key)}), then rotate to retire it; otherwise "
        f"{other}"
    )


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
    pass Django's W009 rules, with one exception for adopting a live site's existing key:
    ``secret-keyring init --adopt-env`` writes that key as ``current`` and its
    [adoption_marker][secret_keyring.keyring.adoption_marker] as ``adopted``, and the key is
    accepted, weak or not, while the marker names it (as ``current``, then for one rotation in
    ``previous``). ``next`` is always strong.

    Attributes:
        current: the key Django signs with (``SECRET_KEY``).
        next: the key that becomes current at the next rotation; known to every process one
            rotation period early, so stale caches never reject fresh signatures.
        previous: the keys that were current before, newest first.
        version: the backend's version of the secret (KV version, AWS version id), if any.
        source: a redacted description of where the keyring came from.
        adopted: the marker of the adopted weak key this keyring trusts (the SHA-256 hex digest
            of the key: 64 hex digits), or ``None``. Present only while that key is in the
            keyring; a rotation drops it with the key.

    Raises:
        InvalidSecret: a key is not printable text, there are more than 20 keys, or
            ``adopted`` is not the marker of a weak key in the keyring.
        WeakSecretKey: a key fails Django's W009 rules and is not the adopted one (``next``
            never may).
    """

    current: str
    next: str | None
    previous: tuple[str, ...]
    version: str | None
    source: str
    adopted: str | None

    @clears_locals
    def __init__(
        self,
        current: str,
        next: str | None = None,  # noqa: A002 - the field's name, as callers pass it
        previous: tuple[str, ...] = (),
        version: str | None = None,
        source: str = "",
        *,
        adopted: str | None = None,
    ) -> None:
        self._set(
            current=current,
            next=next,
            previous=previous,
            version=version,
            source=source,
            adopted=adopted,
        )
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
        validate_roles(self.current, self.next, self.previous, self.source, adopted=self.adopted)

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        # Record rebuilds positionally, and `adopted` is keyword-only (the signature may only
        # grow keyword-only options): pickling and copying go through this instead.
        return (_rebuild_keyring, self._values())

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
        """The keys that fail Django's W009 rules: at most the adopted site key (see
        :attr:`adopted`), as ``current`` before the first rotation, in ``previous`` until the
        second."""
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
            f"version={self.version!r}, source={self.source!r}"
            + (f", adopted={self.adopted[:8]!r}" if isinstance(self.adopted, str) else "")
            + ")"
        )

    __str__ = __repr__


def _rebuild_keyring(*values: Any) -> Keyring:
    """Unpickle a [Keyring][secret_keyring.Keyring] from its fields in order (see
    ``Keyring.__reduce__``)."""
    *positional, adopted = values
    return Keyring(*positional, adopted=adopted)
