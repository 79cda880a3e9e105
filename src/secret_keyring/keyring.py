"""The [Keyring][secret_keyring.Keyring] value object and the payload parsers.

A keyring is what Django needs: the key that signs (``current``) and the keys that still verify
(``next`` and ``previous``). Everything here is pure: no I/O, no SDK, no Django.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from secret_keyring.errors import (
    ConfigurationError,
    InvalidSecret,
    SecretNotFound,
    WeakSecretKey,
    clears_locals,
)

__all__ = [
    "MAX_FALLBACKS",
    "MAX_KEYS",
    "MAX_PAYLOAD_BYTES",
    "Keyring",
    "Payload",
    "check_max_fallbacks",
    "fingerprint",
    "is_weak",
    "keyring_to_json",
    "parse_mapping",
    "parse_payload",
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


def _shown_fingerprint(key: object) -> str:
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
    where = _where(source, field)
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


def _validate_roles(
    current: object, nxt: object, previous: Sequence[object], source: str, prefix: str = ""
) -> None:
    """The one rule for which role may hold a weak key.

    ``next`` must be strong: it is what the next rotation promotes. ``previous`` may hold a weak
    key: it only verifies old signatures, and rotation drops it (``rotation.keygen.rotate``).
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


def _where(source: str, field: str) -> str:
    return f"{source}: field {field!r}" if source else f"field {field!r}"


#: Member names longer than this are not quoted in messages: a key pasted where a name belongs
#: is at least ``MIN_KEY_LENGTH`` characters long.
_NAME_SHOWN = 40


def shown_name(name: object) -> str:
    """A member name of secret data as messages show it: quoted when short and printable, else
    only its length (a key stored by mistake as a name must not reach a log)."""
    text = str(name)
    if len(text) <= _NAME_SHOWN and text.isprintable():
        return repr(text)
    return f"<a {len(text)}-character name>"


def member_names(data: Mapping[Any, Any], limit: int = 10) -> str:
    """The first ``limit`` member names of secret data, for messages (see ``shown_name()``)."""
    return ", ".join(shown_name(name) for name in list(data)[:limit])


@dataclasses.dataclass(frozen=True, repr=False)
class Keyring:
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
    next: str | None = None
    previous: tuple[str, ...] = ()
    version: str | None = None
    source: str = ""

    @clears_locals
    def __post_init__(self) -> None:
        previous: object = self.previous
        if not isinstance(previous, tuple):
            # Accept any sequence of strings but store an immutable tuple; a bare string is
            # a classic mistake (it would be a tuple of characters), so refuse it.
            if isinstance(previous, (str, bytes)) or not isinstance(previous, Sequence):
                raise InvalidSecret(
                    f"{_where(self.source, 'previous')}: expected a list of keys, got "
                    f"{type(previous).__name__}",
                    source=self.source,
                )
            object.__setattr__(self, "previous", tuple(previous))
        count = 1 + (self.next is not None) + len(self.previous)
        if count > MAX_KEYS:
            raise InvalidSecret(
                f"{_where(self.source, 'previous')}: the keyring holds {count} keys, at most "
                f"{MAX_KEYS} are allowed (each costs an HMAC on every failed verification); "
                "trim 'previous'",
                source=self.source,
            )
        _validate_roles(self.current, self.next, self.previous, self.source)

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
            f"Keyring(current={_shown_fingerprint(self.current)}, "
            f"next={_shown_fingerprint(self.next)}, "
            f"previous=[{', '.join(_shown_fingerprint(key) for key in previous)}], "
            f"version={self.version!r}, source={self.source!r})"
        )

    __str__ = __repr__


@dataclasses.dataclass(frozen=True, repr=False)
class Payload:
    """A parsed secret value before the provider adds backend history.

    ``kind`` is ``"keyring"`` for keyring JSON (``previous`` is honoured as written) or
    ``"plain"`` for a bare key (the provider supplies fallbacks from the backend's versions).
    """

    kind: Literal["keyring", "plain"]
    current: str
    next: str | None = None
    previous: tuple[str, ...] = ()

    def __repr__(self) -> str:
        return f"Payload(kind={self.kind!r}, current={_shown_fingerprint(self.current)})"

    @clears_locals
    def to_keyring(
        self, *, version: str | None = None, source: str = "", history: Sequence[str] = ()
    ) -> Keyring:
        """Build the keyring; ``history`` (newest first) is used only for plain payloads."""
        previous = self.previous if self.kind == "keyring" else tuple(history)
        return Keyring(
            current=self.current,
            next=self.next,
            previous=previous,
            version=version,
            source=source,
        )


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for name, value in pairs:
        if name in result:
            raise _DuplicateName(name)
        result[name] = value
    return result


class _DuplicateName(ValueError):
    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


def _decode(raw: str | bytes, source: str, field: str) -> str:
    where = _where(source, field)
    # A str never has more characters than UTF-8 bytes: only a short one is worth encoding.
    size = len(raw)
    if isinstance(raw, str) and size <= MAX_PAYLOAD_BYTES:
        size = len(raw.encode("utf-8", "surrogatepass"))
    if size > MAX_PAYLOAD_BYTES:
        raise InvalidSecret(
            f"{where}: the payload is {size} bytes, at most {MAX_PAYLOAD_BYTES} are allowed; "
            "store only the keyring",
            source=source,
        )
    if isinstance(raw, bytes):
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidSecret(
                f"{where}: the payload is not valid UTF-8; store the key as text",
                source=source,
            ) from None
    return raw


def _nested_too_deeply(text: str) -> bool:
    """Whether brackets outside JSON strings nest deeper than :data:`MAX_JSON_DEPTH`."""
    if text.count("[") + text.count("{") <= MAX_JSON_DEPTH:
        return False  # every real keyring: no scan needed
    depth = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > MAX_JSON_DEPTH:
                return True
        elif char in "]}":
            depth -= 1
    return False


def _too_deep(where: str, source: str) -> InvalidSecret:
    return InvalidSecret(
        f"{where}: the JSON is nested too deeply; store a flat keyring object", source=source
    )


def _load_json(text: str, source: str, field: str) -> Any:
    where = _where(source, field)
    if _nested_too_deeply(text):
        raise _too_deep(where, source)
    try:
        return json.loads(text, object_pairs_hook=_reject_duplicates)
    except _DuplicateName as exc:
        raise InvalidSecret(
            f"{where}: the JSON object names {shown_name(exc.name)} more than once; keep one",
            source=source,
        ) from None
    except RecursionError:
        raise _too_deep(where, source) from None
    except ValueError as exc:
        # json.JSONDecodeError carries the document; keep only the position.
        pos = getattr(exc, "pos", None)
        raise InvalidSecret(
            f"{where}: the payload looks like JSON but does not parse"
            + (f" (at character {pos})" if pos is not None else "")
            + "; fix the JSON or store the bare key",
            source=source,
        ) from None


@clears_locals
def parse_payload(raw: str | bytes, *, source: str = "", field: str | None = None) -> Payload:
    """Parse a secret value: keyring JSON, a JSON object with a named field, or a bare key.

    Args:
        raw: the value as stored (``bytes`` must be UTF-8).
        source: redacted source description, for messages.
        field: with a JSON object, the member holding the key or keyring (``#field``).

    Returns:
        The parsed payload.

    Raises:
        InvalidSecret: empty, not UTF-8, over 64 KiB, malformed JSON, wrong types.
        SecretNotFound: ``field`` is not in the JSON object.
        WeakSecretKey: a key fails Django's W009 rules.
    """
    text = _decode(raw, source, field or "value")
    stripped = text.strip()
    if not stripped:
        raise InvalidSecret(
            f"{_where(source, field or 'value')}: the secret is empty; write a keyring with "
            "`secret-keyring init` or store a key",
            source=source,
        )
    if field is not None:
        if not stripped.startswith("{"):
            raise InvalidSecret(
                f"{_where(source, field)}: the secret is not a JSON object, so it has no field "
                f"{field!r}; drop '#{field}' from the source URL or store a JSON object",
                source=source,
            )
        data = _load_json(stripped, source, field)
        return parse_mapping(data, source=source, field=field)
    # Keyring JSON is only ever an object, and a JSON string is a plain key written as JSON:
    # text that starts like one of the two must be one (a truncated keyring is not a key).
    # Anything else is a key, judged by Django's rules: a number (``str(secrets.randbits(256))``
    # passes them), a list, a word.
    if stripped[0] == "{":
        return parse_mapping(_load_json(stripped, source, "value"), source=source, field=None)
    if stripped[0] == '"':
        return _plain(_load_json(stripped, source, "value"), source, "value")
    return _plain(stripped, source, "value")


@clears_locals
def parse_mapping(
    data: object,
    *,
    source: str = "",
    field: str | None = None,
    default_field: str | None = None,
) -> Payload:
    """Parse already-decoded data (a Vault KV ``data`` dict, a parsed JSON object).

    With no ``field``, a mapping that has ``current`` is keyring JSON; otherwise
    ``default_field`` (Vault uses ``secret_key``) names the member that holds the key.

    Raises:
        InvalidSecret: the data is not an object, or members have the wrong type.
        SecretNotFound: the named field is missing.
        WeakSecretKey: a key fails Django's W009 rules.
    """
    if not isinstance(data, Mapping):
        raise InvalidSecret(
            f"{_where(source, field or 'value')}: expected a JSON object or a string, got "
            f"{_json_type(data)}; store keyring JSON "
            '{"current": ..., "next": ..., "previous": [...]} or the bare key',
            source=source,
        )
    if field is None and "current" not in data:
        if default_field is not None and default_field in data:
            field = default_field
        else:
            names = member_names(data)
            raise InvalidSecret(
                f"{_where(source, 'current')}: the JSON object has no 'current' member "
                f"(it has {names or 'no members'}); store keyring JSON or name the field "
                "holding the key with '#FIELD' in the source URL",
                source=source,
            )
    if field is not None:
        if field not in data:
            raise SecretNotFound(
                f"{_where(source, field)}: the secret has no field {field!r}; check the "
                "'#field' part of the source URL",
                source=source,
            )
        value = data[field]
        if isinstance(value, Mapping):
            return _keyring_members(value, source, field)
        if isinstance(value, str):
            inner = value.strip()
            if inner.startswith("{"):
                text = _decode(inner, source, field)
                return parse_mapping(_load_json(text, source, field), source=source, field=None)
            return _plain(value, source, field)
        raise InvalidSecret(
            f"{_where(source, field)}: expected a string, got {_json_type(value)}; "
            "store the key as a JSON string",
            source=source,
        )
    return _keyring_members(data, source, "")


def _keyring_members(data: Mapping[Any, Any], source: str, prefix: str) -> Payload:
    def name(member: str) -> str:
        return f"{prefix}.{member}" if prefix else member

    allowed = {"current", "next", "previous"}
    unknown = [str(key) for key in data if key not in allowed]
    if unknown:
        first = unknown[0]
        if len(first) > _NAME_SHOWN or not first.isprintable():
            first = f"<a {len(first)}-character name>"
        raise InvalidSecret(
            f"{_where(source, name(first))}: keyring JSON takes only 'current', 'next' "
            "and 'previous'; remove the other members",
            source=source,
        )
    if "current" not in data:
        raise InvalidSecret(
            f"{_where(source, name('current'))}: keyring JSON needs a 'current' key; "
            "write one with `secret-keyring init`",
            source=source,
        )
    current = data["current"]
    nxt = data.get("next")
    previous = data.get("previous", [])
    if previous is None:
        previous = []
    if not isinstance(previous, list):
        raise InvalidSecret(
            f"{_where(source, name('previous'))}: expected a list of keys, got "
            f'{_json_type(previous)}; write "previous": ["..."]',
            source=source,
        )
    count = 1 + (nxt is not None) + len(previous)
    if count > MAX_KEYS:
        raise InvalidSecret(
            f"{_where(source, name('previous'))}: the keyring holds {count} keys, at most "
            f"{MAX_KEYS} are allowed (each costs an HMAC on every failed verification); "
            "trim 'previous'",
            source=source,
        )
    size = sum(len(key) for key in (current, nxt, *previous) if isinstance(key, str))
    if size > MAX_PAYLOAD_BYTES:
        raise InvalidSecret(
            f"{_where(source, name('current'))}: the keys add up to {size} characters, at most "
            f"{MAX_PAYLOAD_BYTES} are allowed; store only the keyring",
            source=source,
        )
    _validate_roles(current, nxt, previous, source, prefix)
    return Payload("keyring", current, nxt, tuple(previous))


def _plain(value: str, source: str, field: str) -> Payload:
    key = value.strip()
    if not key:
        raise InvalidSecret(
            f"{_where(source, field)}: the key is empty; store a key or a keyring",
            source=source,
        )
    validate_key(key, source=source, field=field)
    return Payload("plain", key)


_JSON_TYPES: tuple[tuple[type | tuple[type, ...], str], ...] = (
    (type(None), "null"),
    (bool, "a boolean"),
    ((int, float), "a number"),
    (list, "a list"),
    (Mapping, "an object"),
    (str, "a string"),
)


def _json_type(value: object) -> str:
    for kind, name in _JSON_TYPES:
        if isinstance(value, kind):
            return name
    return type(value).__name__


def keyring_to_json(keyring: Keyring | Payload) -> str:
    """Serialise to keyring JSON (the format rotation writes). The result holds key material."""
    data: dict[str, Any] = {"current": keyring.current}
    if keyring.next is not None:
        data["next"] = keyring.next
    data["previous"] = list(keyring.previous)
    return json.dumps(data)
