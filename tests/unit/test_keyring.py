"""Keyring value object, key validation and payload parsing."""

from __future__ import annotations

import json
import secrets

import pytest

from secret_keyring.errors import InvalidSecret, SecretNotFound, WeakSecretKey
from secret_keyring.keyring import MAX_PAYLOAD_BYTES, Keyring, fingerprint, validate_key
from secret_keyring.payload import keyring_to_json, parse_mapping, parse_payload
from tests.plugins.leakguard import assert_no_key_material, make_key

SRC = "file:///run/secrets/k"


def test_fallbacks_next_first_then_previous_without_duplicates_or_current() -> None:
    a, b, c, d = make_key(), make_key(), make_key(), make_key()
    kr = Keyring(current=a, next=b, previous=(c, b, a, d, c))
    assert kr.fallbacks == [b, c, d]
    assert isinstance(kr.fallbacks, list)


def test_fallbacks_without_next() -> None:
    a, c = make_key(), make_key()
    assert Keyring(current=a, previous=[c]).fallbacks == [c]
    assert Keyring(current=a).fallbacks == []


def test_repr_and_str_show_fingerprints_only() -> None:
    a, b, c = make_key(), make_key(), make_key()
    kr = Keyring(current=a, next=b, previous=(c,), version="7", source=SRC)
    for text in (repr(kr), str(kr), f"{kr}", repr([kr])):
        assert_no_key_material(text, "repr")
        assert fingerprint(a) in text
        assert fingerprint(c) in text


def test_fingerprint_is_8_hex_of_sha256() -> None:
    import hashlib

    key = make_key()
    fp = fingerprint(key)
    assert fp == hashlib.sha256(key.encode()).hexdigest()[:8]
    assert len(fp) == 8
    int(fp, 16)


def test_keyring_is_frozen() -> None:
    kr = Keyring(current=make_key())
    with pytest.raises(AttributeError):
        kr.current = make_key()  # type: ignore[misc]


def test_previous_as_string_is_refused() -> None:
    with pytest.raises(InvalidSecret, match="previous"):
        Keyring(current=make_key(), previous=make_key())  # type: ignore[arg-type]


def test_more_than_twenty_keys_is_invalid() -> None:
    with pytest.raises(InvalidSecret, match="at most 20"):
        Keyring(current=make_key(), next=make_key(), previous=[make_key() for _ in range(19)])


@pytest.mark.parametrize(
    ("key", "error", "fragment"),
    [
        ("short-key-1234", WeakSecretKey, "at least 50"),
        ("ab" * 30, WeakSecretKey, "distinct"),
        ("django-insecure-" + "x1y2z3w4v5" * 5, WeakSecretKey, "django-insecure-"),
        ("a" * 25 + "\x00" + "bcdef" * 5, InvalidSecret, "control"),
        (" " + "abcdefghij" * 6, InvalidSecret, "whitespace"),
        ("", InvalidSecret, "empty"),
        (12345, InvalidSecret, "expected a string"),
    ],
)
def test_validate_key_rejects(key: object, error: type[Exception], fragment: str) -> None:
    with pytest.raises(error, match=fragment) as info:
        validate_key(key, source=SRC, field="next")
    message = str(info.value)
    assert SRC in message
    assert "'next'" in message
    if isinstance(key, str) and len(key) > 5:
        assert key not in message


def test_plain_payload_strips_a_trailing_newline() -> None:
    key = make_key()
    payload = parse_payload(key + "\n", source=SRC)
    assert payload.kind == "plain"
    assert payload.current == key


def test_keyring_json_payload() -> None:
    a, b, c = make_key(), make_key(), make_key()
    payload = parse_payload(json.dumps({"current": a, "next": b, "previous": [c]}), source=SRC)
    assert (payload.kind, payload.current, payload.next, payload.previous) == (
        "keyring",
        a,
        b,
        (c,),
    )
    kr = payload.to_keyring(version="3", source=SRC, history=[make_key()])
    assert kr.previous == (c,)  # keyring JSON honours its own previous, not backend history


def test_plain_payload_takes_history_as_previous() -> None:
    a, h1, h2 = make_key(), make_key(), make_key()
    kr = parse_payload(a, source=SRC).to_keyring(history=[h1, h2])
    assert kr.fallbacks == [h1, h2]


def test_json_object_with_named_field() -> None:
    key = make_key()
    payload = parse_payload(json.dumps({"SECRET_KEY": key, "other": 1}), field="SECRET_KEY")
    assert payload.kind == "plain"
    assert payload.current == key


def test_named_field_holding_keyring_json_string() -> None:
    a, b = make_key(), make_key()
    inner = json.dumps({"current": a, "next": b})
    payload = parse_payload(json.dumps({"k": inner}), field="k")
    assert (payload.kind, payload.current, payload.next) == ("keyring", a, b)


def test_parse_mapping_default_field() -> None:
    key = make_key()
    payload = parse_mapping({"secret_key": key}, default_field="secret_key")
    assert payload.current == key


def test_an_object_without_the_default_field_names_it_in_the_fix() -> None:
    """A Vault secret written as ``key=...`` instead of ``secret_key=...``: the fix says which
    member is read by default, not only the '#FIELD' alternative."""
    with pytest.raises(InvalidSecret) as caught:
        parse_mapping({"key": make_key()}, source=SRC, default_field="secret_key")
    message = str(caught.value)
    assert "has no 'current' member (it has 'key')" in message
    assert "put the key in a 'secret_key' member (read by default)" in message
    assert "'#FIELD'" in message
    with pytest.raises(InvalidSecret) as caught:
        parse_mapping({"key": make_key()}, source=SRC)
    assert "read by default" not in str(caught.value)  # a source without a default member


def test_json_string_payload_is_plain() -> None:
    key = make_key()
    assert parse_payload(json.dumps(key)).current == key


def test_a_payload_is_keyring_json_only_when_it_is_a_json_object() -> None:
    """Digits only is a valid Django key (``str(secrets.randbits(256))``), not a JSON number."""
    key = str(secrets.randbits(256) | 1 << 255)  # 77 digits
    validate_key(key)
    for raw in (key, key + "\n", key.encode()):
        payload = parse_payload(raw, source=SRC)
        assert (payload.kind, payload.current) == ("plain", key)
    assert parse_payload(key, source=SRC).to_keyring(history=[make_key()]).current == key
    negative = "-" + key + "e10"
    assert parse_payload(negative, source=SRC).current == negative


def test_bytes_payload() -> None:
    key = make_key()
    assert parse_payload(key.encode()).current == key


def test_keyring_json_roundtrip() -> None:
    kr = Keyring(current=make_key(), next=make_key(), previous=(make_key(),))
    again = parse_payload(keyring_to_json(kr)).to_keyring()
    assert again.same_keys(kr)


BAD_PAYLOADS: list[tuple[str, object, type[Exception], str]] = [
    ("empty", "", InvalidSecret, "empty"),
    ("whitespace only", " \n\t ", InvalidSecret, "empty"),
    ("not utf-8", b"\xff\xfe" + b"a" * 60, InvalidSecret, "UTF-8"),
    # Not a JSON object, so a plain key, and a weak one.
    ("json list", "[1, 2]", WeakSecretKey, "at least 50"),
    ("json number", "12345", WeakSecretKey, "at least 50"),
    ("json null", "null", WeakSecretKey, "at least 50"),
    ("json true", "true", WeakSecretKey, "at least 50"),
    ("unterminated json string", '"' + "k3y" * 20, InvalidSecret, "does not parse"),
    ("missing current", '{"next": "x"}', InvalidSecret, "current"),
    ("non-string current", '{"current": 5}', InvalidSecret, "expected a string"),
    ("non-string in previous", None, InvalidSecret, "previous"),
    ("duplicate names", None, InvalidSecret, "more than once"),
    ("previous is a string", None, InvalidSecret, "list of keys"),
    ("unknown member", None, InvalidSecret, "only 'current'"),
    ("malformed json", '{"current": ', InvalidSecret, "does not parse"),
    ("too large", "a" * (MAX_PAYLOAD_BYTES + 1), InvalidSecret, "bytes"),
    ("weak plain key", "tooshort", WeakSecretKey, "at least 50"),
    ("insecure prefix", "django-insecure-" + "k3y" * 20, WeakSecretKey, "django-insecure"),
    ("deep nesting", '{"a":' * 5000 + "1" + "}" * 5000, InvalidSecret, "nested too deeply"),
]


def _materialise(name: str, raw: object) -> object:
    key = make_key()
    if name == "non-string in previous":
        return json.dumps({"current": key, "previous": [make_key(), 7]})
    if name == "duplicate names":
        return '{"current": "%s", "current": "%s"}' % (key, make_key())  # noqa: UP031 - raw JSON text on purpose
    if name == "previous is a string":
        return json.dumps({"current": key, "previous": make_key()})
    if name == "unknown member":
        return json.dumps({"current": key, "extra": make_key()})
    return raw


@pytest.mark.parametrize(
    ("name", "raw", "error", "fragment"), BAD_PAYLOADS, ids=[b[0] for b in BAD_PAYLOADS]
)
def test_bad_payloads_name_source_and_field(
    name: str, raw: object, error: type[Exception], fragment: str
) -> None:
    raw = _materialise(name, raw)
    with pytest.raises(error, match=fragment) as info:
        parse_payload(raw, source=SRC)  # type: ignore[arg-type]
    message = str(info.value)
    assert SRC in message
    assert "field '" in message
    assert_no_key_material(message, "error message")


def test_missing_named_field_is_not_found() -> None:
    with pytest.raises(SecretNotFound, match="'SECRET_KEY'"):
        parse_payload(json.dumps({"other": make_key()}), source=SRC, field="SECRET_KEY")


def test_field_on_a_plain_value_says_so() -> None:
    with pytest.raises(InvalidSecret, match="not a JSON object"):
        parse_payload(make_key(), source=SRC, field="SECRET_KEY")


def test_same_keys_ignores_version_and_source() -> None:
    a, b = make_key(), make_key()
    assert Keyring(a, b, version="1", source="x").same_keys(Keyring(a, b, version="2"))
    assert not Keyring(a, b).same_keys(Keyring(b, a))
    assert not Keyring(a).same_keys(None)
