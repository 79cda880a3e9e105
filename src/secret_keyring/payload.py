"""Reading a stored value (keyring JSON or a plain key) into a
[Payload][secret_keyring.payload.Payload], then a [Keyring][secret_keyring.Keyring].

A payload is keyring JSON only when it is a JSON object; any other text is a plain key. Every
guard runs before anything is trusted: size, encoding, JSON depth, duplicate names, member
types. Messages name the source and the field, never the value.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from secret_keyring._record import Record
from secret_keyring.errors import InvalidSecret, SecretNotFound, clears_locals
from secret_keyring.keyring import (
    MAX_JSON_DEPTH,
    MAX_KEYS,
    MAX_PAYLOAD_BYTES,
    NAME_SHOWN,
    Keyring,
    locate,
    member_names,
    shown_fingerprint,
    shown_name,
    validate_key,
    validate_roles,
)

__all__ = ["Payload", "keyring_to_json", "parse_mapping", "parse_payload"]


class Payload(Record):
    """A parsed secret value before the provider adds backend history.

    ``kind`` is ``"keyring"`` for keyring JSON (``previous`` is honoured as written) or
    ``"plain"`` for a bare key (the provider supplies fallbacks from the backend's versions).
    ``adopted`` is keyring JSON's marker of an adopted weak key (see
    [Keyring][secret_keyring.Keyring]); a plain key never has one.
    """

    kind: Literal["keyring", "plain"]
    current: str
    next: str | None
    previous: tuple[str, ...]
    adopted: str | None

    def __init__(
        self,
        kind: Literal["keyring", "plain"],
        current: str,
        next: str | None = None,  # noqa: A002 - the field's name
        previous: tuple[str, ...] = (),
        adopted: str | None = None,
    ) -> None:
        self._set(kind=kind, current=current, next=next, previous=previous, adopted=adopted)

    def __repr__(self) -> str:
        return f"Payload(kind={self.kind!r}, current={shown_fingerprint(self.current)})"

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
            adopted=self.adopted,
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
    where = locate(source, field)
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
    where = locate(source, field)
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
            f"{locate(source, field or 'value')}: the secret is empty; write a keyring with "
            "`secret-keyring init` or store a key",
            source=source,
        )
    if field is not None:
        if not stripped.startswith("{"):
            raise InvalidSecret(
                f"{locate(source, field)}: the secret is not a JSON object, so it has no field "
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
            f"{locate(source, field or 'value')}: expected a JSON object or a string, got "
            f"{_json_type(data)}; store keyring JSON "
            '{"current": ..., "next": ..., "previous": [...]} or the bare key',
            source=source,
        )
    if field is None and "current" not in data:
        if default_field is not None and default_field in data:
            field = default_field
        else:
            names = member_names(data)
            # The default member is the one a new user stores a single key in without a
            # '#FIELD', so the fix names it when this source has one.
            default = (
                f", put the key in a {default_field!r} member (read by default)"
                if default_field is not None
                else ""
            )
            raise InvalidSecret(
                f"{locate(source, 'current')}: the JSON object has no 'current' member "
                f"(it has {names or 'no members'}); store keyring JSON{default} or name the "
                "field holding the key with '#FIELD' in the source URL",
                source=source,
            )
    if field is not None:
        if field not in data:
            raise SecretNotFound(
                f"{locate(source, field)}: the secret has no field {field!r}; check the "
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
            f"{locate(source, field)}: expected a string, got {_json_type(value)}; "
            "store the key as a JSON string",
            source=source,
        )
    return _keyring_members(data, source, "")


def _keyring_members(data: Mapping[Any, Any], source: str, prefix: str) -> Payload:
    def name(member: str) -> str:
        return f"{prefix}.{member}" if prefix else member

    allowed = {"current", "next", "previous", "adopted"}
    unknown = [str(key) for key in data if key not in allowed]
    if unknown:
        first = unknown[0]
        if len(first) > NAME_SHOWN or not first.isprintable():
            first = f"<a {len(first)}-character name>"
        raise InvalidSecret(
            f"{locate(source, name(first))}: keyring JSON takes only 'current', 'next', "
            "'previous' and 'adopted'; remove the other members",
            source=source,
        )
    if "current" not in data:
        raise InvalidSecret(
            f"{locate(source, name('current'))}: keyring JSON needs a 'current' key; "
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
            f"{locate(source, name('previous'))}: expected a list of keys, got "
            f'{_json_type(previous)}; write "previous": ["..."]',
            source=source,
        )
    count = 1 + (nxt is not None) + len(previous)
    if count > MAX_KEYS:
        raise InvalidSecret(
            f"{locate(source, name('previous'))}: the keyring holds {count} keys, at most "
            f"{MAX_KEYS} are allowed (each costs an HMAC on every failed verification); "
            "trim 'previous'",
            source=source,
        )
    size = sum(len(key) for key in (current, nxt, *previous) if isinstance(key, str))
    if size > MAX_PAYLOAD_BYTES:
        raise InvalidSecret(
            f"{locate(source, name('current'))}: the keys add up to {size} characters, at most "
            f"{MAX_PAYLOAD_BYTES} are allowed; store only the keyring",
            source=source,
        )
    adopted = data.get("adopted")
    validate_roles(current, nxt, previous, source, prefix, adopted=adopted)
    return Payload("keyring", current, nxt, tuple(previous), adopted)


def _plain(value: str, source: str, field: str) -> Payload:
    key = value.strip()
    if not key:
        raise InvalidSecret(
            f"{locate(source, field)}: the key is empty; store a key or a keyring",
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
    if keyring.adopted is not None:
        data["adopted"] = keyring.adopted
    return json.dumps(data)
