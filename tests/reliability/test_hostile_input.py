"""Hostile payloads and source URLs.

Every case must end in a :class:`SecretKeyringError` subclass (or a valid result), never another
exception type; the message must hold no key material and no credential from the input; and the
parser must stay within a time and memory bound whatever the input's size (inputs are built
before measuring, so the bound is on what the library allocates). The table is followed by
hypothesis properties over the same four entry points.
"""

from __future__ import annotations

import dataclasses
import json
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from secret_keyring.errors import (
    ConfigurationError,
    InvalidSecret,
    SecretKeyringError,
    SecretNotFound,
    WeakSecretKey,
)
from secret_keyring.keyring import MAX_KEYS, MAX_PAYLOAD_BYTES, Keyring, adoption_marker
from secret_keyring.payload import Payload, keyring_to_json, parse_mapping, parse_payload
from secret_keyring.providers.base import Provider
from secret_keyring.providers.vault import VaultProvider
from secret_keyring.urls import SourceURL, parse_source_url, provider_from_url
from tests.plugins.leakguard import assert_no_key_material, make_key

TIME_BOUND = 1.0  # seconds: generous for CI; a quadratic parser would blow far past it
MEMORY_BOUND = 2 * 1024 * 1024  # bytes allocated by the library while parsing one case

K1, K2, K3 = make_key(), make_key(), make_key()
PASSWORD = "hunter2-correct-horse-battery"  # a credential a URL must never echo
OK = None


@dataclasses.dataclass(frozen=True)
class Case:
    name: str
    call: Callable[[], object]
    expect: type[SecretKeyringError] | None  # None: a valid result
    secrets: tuple[str, ...] = ()  # strings (besides known keys) no message may contain

    def __str__(self) -> str:
        return self.name


def payload(raw: str | bytes, field: str | None = None) -> Callable[[], object]:
    return lambda: parse_payload(raw, source="test://hostile", field=field)


def mapping(data: object, field: str | None = None) -> Callable[[], object]:
    return lambda: parse_mapping(
        data, source="test://hostile", field=field, default_field="secret_key"
    )


def url(text: object) -> Callable[[], object]:
    return lambda: provider_from_url(text)  # type: ignore[arg-type]


def keyring_json(**members: object) -> str:
    return json.dumps(members)


DIGITS_KEY = "91" + "".join(str(i % 10) for i in range(75))  # 77 digits, like randbits(256)
CONFUSABLE_KEY = "\u0441" + K1[1:]  # Cyrillic es (U+0441) for the first letter: printable, valid
NESTED_ARRAYS = "[" * 30_000 + "]" * 30_000
NESTED_OBJECTS = '{"a":' * 10_000 + "1" + "}" * 10_000

PAYLOAD_CASES = [
    # size
    Case("payload over 64 KiB", payload("x" * (MAX_PAYLOAD_BYTES + 1)), InvalidSecret),
    Case("bytes payload over 64 KiB", payload(b"x" * (MAX_PAYLOAD_BYTES + 1)), InvalidSecret),
    Case("10 MB string in a Vault mapping", mapping({"current": "k" * 10_000_000}), InvalidSecret),
    Case(
        "twenty 60 KB keys in a Vault mapping",
        mapping({"current": K1, "previous": [f"{i:02d}" + K2 * 1200 for i in range(18)]}),
        InvalidSecret,
    ),
    Case(
        "10 MB keyring JSON string in a Vault field",
        mapping({"f": "{" + " " * 10_000_000 + "}"}, field="f"),
        InvalidSecret,
    ),
    # NUL and control characters
    Case("NUL in the middle of a key", payload(K1[:25] + "\x00" + K1[25:]), InvalidSecret),
    Case("only NUL bytes", payload(b"\x00" * 100), InvalidSecret),
    Case("NUL in keyring JSON", payload(keyring_json(current=K1 + "\x00")), InvalidSecret),
    Case("escape sequence in a key", payload(K1 + "\x1b[2J"), InvalidSecret),
    Case("newline inside a key", payload(K1[:20] + "\n" + K1[20:]), InvalidSecret),
    # nesting
    Case("30,000 nested arrays", payload(NESTED_ARRAYS), InvalidSecret),
    Case("10,000 nested objects", payload(NESTED_OBJECTS), InvalidSecret),
    Case("nested objects under a field", payload(NESTED_OBJECTS, field="a"), InvalidSecret),
    Case(
        "keyring nested in itself",
        mapping({"current": {"current": {"current": K1}}}),
        InvalidSecret,
    ),
    # unicode
    Case("confusable key (Cyrillic letter)", payload(CONFUSABLE_KEY), OK),
    Case("zero-width space in a key", payload(K1[:10] + "\u200b" + K1[10:]), InvalidSecret),
    Case("right-to-left override in a key", payload("\u202e" + K1), InvalidSecret),
    Case(
        "byte order mark before JSON", payload("\ufeff" + keyring_json(current=K1)), InvalidSecret
    ),
    Case("lone surrogate", payload('{"current": "\\ud800' + K1 + '"}'), InvalidSecret),
    Case("invalid UTF-8", payload(b"\xff\xfe" + K1.encode()), InvalidSecret),
    Case("confusable member name", payload(json.dumps({"\u0441urrent": K1})), InvalidSecret),
    # counts and duplicates
    Case(
        "previous with 10,000 entries (JSON)",
        payload(keyring_json(current=K1, previous=[K2] * 10_000)),
        InvalidSecret,
    ),
    Case(
        "previous with 10,000 entries (mapping)",
        mapping({"current": K1, "previous": [K2] * 10_000}),
        InvalidSecret,
    ),
    Case("exactly the key limit", mapping({"current": K1, "previous": [K2] * (MAX_KEYS - 1)}), OK),
    Case(
        "duplicate member names",
        payload(f'{{"current": "{K1}", "current": "{K2}"}}'),
        InvalidSecret,
    ),
    Case("key as a duplicated member name", payload(f'{{"{K1}": 1, "{K1}": 2}}'), InvalidSecret),
    # key material where names go
    Case("key as the only member name", payload(keyring_json(**{K1: "x"})), InvalidSecret),
    Case(
        "key as an extra member name", payload(keyring_json(current=K2, **{K1: 1})), InvalidSecret
    ),
    Case("key as a member name in a mapping", mapping({K3: K1}), InvalidSecret),
    Case(
        "5,000 member names", payload(json.dumps({f"m{i}": 0 for i in range(5000)})), InvalidSecret
    ),
    # types and scalars
    Case("current is a number", payload(keyring_json(current=12345)), InvalidSecret),
    Case("current is null", payload(keyring_json(current=None)), InvalidSecret),
    Case("previous is a string", payload(keyring_json(current=K1, previous=K2)), InvalidSecret),
    Case(
        "previous holds numbers", payload(keyring_json(current=K1, previous=[1, 2])), InvalidSecret
    ),
    Case("next is an object", payload(keyring_json(current=K1, next={"a": K2})), InvalidSecret),
    Case("JSON null", payload("null"), InvalidSecret),
    Case("JSON NaN", payload("NaN"), InvalidSecret),
    Case("JSON -Infinity", payload("-Infinity"), InvalidSecret),
    Case("5,000-digit number", payload("1" * 5000), InvalidSecret),
    Case("unterminated JSON string", payload('"' + K1), InvalidSecret),
    Case("truncated keyring JSON", payload(keyring_json(current=K1)[:-3]), InvalidSecret),
    Case("empty", payload(""), InvalidSecret),
    Case("whitespace only", payload(" \t\r\n "), InvalidSecret),
    # Keyring JSON is only ever an object: any other text is a key, judged by Django's rules.
    Case("a list of keys (one key, as written)", payload(json.dumps([K1, K2])), OK),
    Case("digits-only key (a JSON number)", payload(DIGITS_KEY), OK),
    Case("digits-only key, too short", payload(DIGITS_KEY[:49]), WeakSecretKey),
    Case("mapping that is a list", mapping([K1]), InvalidSecret),
    # weak keys
    Case("django-insecure- prefix", payload("django-insecure-" + K1), WeakSecretKey),
    Case("49 characters", payload(K1[:49]), WeakSecretKey),
    Case("four distinct characters", payload("abcd" * 20), WeakSecretKey),
    # Only the key the 'adopted' marker names may be weak (init --adopt-env writes it).
    Case("weak previous key", payload(keyring_json(current=K1, previous=["short"])), WeakSecretKey),
    Case("weak current, no next", payload(keyring_json(current="short-old-key")), WeakSecretKey),
    Case(
        "weak current, strong next, no marker",
        payload(keyring_json(current="django-insecure-" + K1, next=K2)),
        WeakSecretKey,
    ),
    Case(
        "weak current, strong next, its marker",
        payload(
            keyring_json(
                current="django-insecure-" + K1,
                next=K2,
                adopted=adoption_marker("django-insecure-" + K1),
            )
        ),
        OK,
    ),
    Case(
        "marker that is a list",
        payload(keyring_json(current="django-insecure-" + K1, next=K2, adopted=[K1])),
        InvalidSecret,
    ),
    Case("weak next", payload(keyring_json(current=K1, next="short-next")), WeakSecretKey),
    Case(
        "weak previous key with a control character",
        payload(keyring_json(current=K1, previous=["old\x00key"])),
        InvalidSecret,
    ),
    # fields
    Case("missing field", payload(keyring_json(current=K1), field="nope"), SecretNotFound),
    Case("field on a bare key", payload(K1, field="current"), InvalidSecret),
    Case("field holding a number", mapping({"f": 7}, field="f"), InvalidSecret),
    Case(
        "field holding keyring JSON",
        mapping({"f": keyring_json(current=K1, next=K2)}, field="f"),
        OK,
    ),
]

URL_CASES = [
    Case("URL over 4096 characters", url("vault://secret/" + "a" * 5000), ConfigurationError),
    Case("raw NUL in a URL", url("vault://secret/app\x00x"), ConfigurationError),
    Case(
        "percent-encoded NUL in a file path",
        url("file:///run/secrets/key%00.txt"),
        ConfigurationError,
    ),
    Case(
        "percent-encoded newline in an option",
        url("vault://secret/app?role=web%0Aadmin"),
        ConfigurationError,
    ),
    Case(
        "percent-encoded NUL in a field", url("vault://secret/app#secret%00key"), ConfigurationError
    ),
    Case("line separator U+2028", url("vault://secret/app\u2028"), ConfigurationError),
    Case("trailing space", url("vault://secret/app "), ConfigurationError),
    Case("file:// traversal", url("file:///run/secrets/../../etc/shadow"), ConfigurationError),
    Case(
        "file:// encoded traversal",
        url("file:///run/secrets/%2e%2e/%2E%2E/etc/shadow"),
        ConfigurationError,
    ),
    Case("file:// relative", url("file://run/secrets/key"), ConfigurationError),
    Case("file:// empty segment", url("file:///run//secrets/key"), ConfigurationError),
    Case("dev:// traversal", url("dev:///tmp/../etc/keyring.json"), ConfigurationError),
    Case("vault:// traversal", url("vault://secret/../sys/policies/acl/root"), ConfigurationError),
    Case(
        "vault:// encoded traversal", url("vault://secret/app%2F%2E%2E%2Fother"), ConfigurationError
    ),
    Case("vault:// dot segment", url("vault://secret/./app"), ConfigurationError),
    Case(
        "vault:// credentials in the authority",
        url(f"vault://admin:{PASSWORD}@secret/app"),
        ConfigurationError,
        (PASSWORD,),
    ),
    Case(
        "vault:// token option",
        url(f"vault://secret/app?token={PASSWORD}"),
        ConfigurationError,
        (PASSWORD,),
    ),
    Case(
        "vault:// credentials in addr",
        url(f"vault://secret/app?addr=http://admin:{PASSWORD}@vault:8200"),
        ConfigurationError,
        (PASSWORD,),
    ),
    Case(
        "vault:// credentials in a malformed addr",
        url(f"vault://secret/app?addr=https://admin:{PASSWORD}@vault:82OO"),
        ConfigurationError,
        (PASSWORD,),
    ),
    Case(
        "VAULT_ADDR with credentials and a malformed port",
        lambda: VaultProvider(
            "secret", "app", environ={"VAULT_ADDR": f"https://admin:{PASSWORD}@vault:82OO"}
        ),
        ConfigurationError,
        (PASSWORD,),
    ),
    Case(
        "aws:// credentials in the authority",
        url(f"aws-secretsmanager://AKIDEXAMPLE:{PASSWORD}@prod/app"),
        ConfigurationError,
        (PASSWORD,),
    ),
    Case(
        "aws:// credentials in endpoint_url",
        url(f"aws-secretsmanager://prod/app?endpoint_url=https://u:{PASSWORD}@sm.example"),
        ConfigurationError,
        (PASSWORD,),
    ),
    Case(
        "env:// credentials",
        url(f"env://admin:{PASSWORD}@DJANGO_KEY"),
        ConfigurationError,
        (PASSWORD,),
    ),
    Case(
        "env:// credentials in fallbacks",
        url(f"env://DJANGO_KEY?fallbacks=admin:{PASSWORD}@OLD"),
        ConfigurationError,
        (PASSWORD,),
    ),
    Case("the key itself as the source", url(K1), ConfigurationError),
    Case("the key itself, with whitespace", url(f" {K2}\n"), ConfigurationError),
    Case("confusable scheme (Cyrillic a)", url("v\u0430ult://secret/app"), ConfigurationError),
    Case("unknown scheme", url("ftp://secret/app"), ConfigurationError),
    Case("upper-case scheme", url("VAULT://secret/app?addr=http://127.0.0.1:8200"), OK),
    Case("repeated option", url("vault://secret/app?auth=token&auth=approle"), ConfigurationError),
    Case("option without a value", url("vault://secret/app?auth="), ConfigurationError),
    Case("timeout nan", url("vault://secret/app?timeout=nan"), ConfigurationError),
    Case("timeout inf", url("vault://secret/app?timeout=inf"), ConfigurationError),
    Case("kv_version 3", url("vault://secret/app?kv_version=3"), ConfigurationError),
    Case(
        "addr with a javascript: scheme",
        url("vault://secret/app?addr=javascript:alert(1)"),
        ConfigurationError,
    ),
    Case(
        "addr with a port out of range",
        url("vault://secret/app?addr=http://127.0.0.1:99999"),
        ConfigurationError,
    ),
    Case(
        "endpoint_url file://",
        url("aws-secretsmanager://prod/app?endpoint_url=file:///etc/passwd"),
        ConfigurationError,
    ),
    Case(
        "region traversal", url("aws-secretsmanager://prod/app?region=../../x"), ConfigurationError
    ),
    Case(
        "ARN with a bad account",
        url("aws-secretsmanager://arn:aws:secretsmanager:us-east-1:1:secret:x"),
        ConfigurationError,
    ),
    Case(
        "4,000-character auth value",
        url("vault://secret/app?auth=" + "x" * 4000),
        ConfigurationError,
    ),
    Case("empty field", url("vault://secret/app#"), ConfigurationError),
    Case("empty string", url(""), ConfigurationError),
    Case("scheme separator only", url("://"), ConfigurationError),
    Case("bytes instead of str", url(b"vault://secret/app"), ConfigurationError),
    Case("None", url(None), ConfigurationError),
    Case("env:// name starting with a digit", url("env://1DJANGO"), ConfigurationError),
]


@pytest.fixture(autouse=True, scope="module")
def _sdks_imported() -> None:
    """Import hvac and boto3 (building a provider does, once) before anything is measured:
    the memory bound is on parsing, not on loading an SDK."""
    provider_from_url("vault://secret/warm-up?addr=http://127.0.0.1:8200")
    provider_from_url("aws-secretsmanager://warm-up?region=eu-west-1&endpoint_url=http://x")


def run_bounded(call: Callable[[], object]) -> tuple[object, SecretKeyringError | None]:
    """Run ``call``; any exception other than ours escapes and fails the test."""
    tracemalloc.start()
    started = time.perf_counter()
    try:
        result: object = call()
        error = None
    except SecretKeyringError as exc:
        result, error = None, exc
    finally:
        elapsed = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert elapsed < TIME_BOUND, f"took {elapsed:.2f}s"
    assert peak < MEMORY_BOUND, f"allocated {peak / 1e6:.1f} MB"
    return result, error


@pytest.mark.parametrize("case", PAYLOAD_CASES + URL_CASES, ids=str)
def test_hostile_input(case: Case) -> None:
    result, error = run_bounded(case.call)

    if case.expect is None:
        assert error is None, f"expected a valid result, got {error!r}"
        assert isinstance(result, (Payload, Keyring, Provider))
        return
    assert error is not None, f"expected {case.expect.__name__}, got {result!r}"
    assert isinstance(error, case.expect), f"expected {case.expect.__name__}, got {error!r}"
    message = str(error)
    assert_no_key_material(message, f"the {type(error).__name__} message")
    for secret in case.secrets:
        assert secret not in message
    assert len(message) < 2000, "messages stay short whatever the input"


def test_the_table_is_big_enough() -> None:
    assert len(PAYLOAD_CASES) + len(URL_CASES) >= 40
    assert len({case.name for case in PAYLOAD_CASES + URL_CASES}) == len(PAYLOAD_CASES + URL_CASES)


# -- properties ---------------------------------------------------------------------------------

KEYS = st.sampled_from([K1, K2, K3])
JSON_SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | st.text() | KEYS
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda children: (
        st.lists(children, max_size=5)
        | st.dictionaries(st.text(max_size=10) | KEYS, children, max_size=5)
    ),
    max_leaves=25,
)
MEMBERS = st.sampled_from(["current", "next", "previous", "secret_key", "f"]) | st.text(max_size=8)
KEYRINGISH = st.dictionaries(
    MEMBERS, JSON_VALUES | st.lists(KEYS | JSON_SCALARS, max_size=25), max_size=6
)
PROPERTY_SETTINGS = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


def check_outcome(call: Callable[[], object], valid: tuple[type, ...]) -> None:
    result, error = run_bounded(call)
    if error is None:
        assert isinstance(result, valid)
    else:
        assert_no_key_material(str(error), f"the {type(error).__name__} message")


@PROPERTY_SETTINGS
@given(
    raw=st.text()
    | st.binary()
    | KEYRINGISH.map(json.dumps)
    | st.tuples(KEYS, st.text(max_size=5)).map("".join),
    field=st.none() | MEMBERS,
)
def test_parse_payload_never_raises_anything_else(raw: str | bytes, field: str | None) -> None:
    check_outcome(lambda: parse_payload(raw, source="test://p", field=field), (Payload,))


@PROPERTY_SETTINGS
@given(data=KEYRINGISH | JSON_VALUES, field=st.none() | MEMBERS)
def test_parse_mapping_never_raises_anything_else(data: Any, field: str | None) -> None:
    check_outcome(
        lambda: parse_mapping(data, source="test://m", field=field, default_field="secret_key"),
        (Payload,),
    )


URLISH = st.builds(
    "{}://{}{}{}".format,
    st.sampled_from(["vault", "aws-secretsmanager", "env", "file", "dev", "VAULT", "x"]),
    st.text(max_size=40),
    st.sampled_from(
        ["", "?auth=approle", "?addr=http://127.0.0.1:1", "?kv_version=1", "?region=eu-west-1"]
    )
    | st.text(max_size=20).map(lambda q: "?" + q),
    st.sampled_from(["", "#f", "#"]) | st.text(max_size=10).map(lambda f: "#" + f),
)


@PROPERTY_SETTINGS
@given(text=st.text() | URLISH)
def test_parse_source_url_never_raises_anything_else(text: str) -> None:
    check_outcome(lambda: parse_source_url(text), (SourceURL,))


@settings(PROPERTY_SETTINGS, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text() | URLISH | KEYS)
def test_provider_from_url_never_raises_anything_else(
    text: str, vault_env: pytest.MonkeyPatch
) -> None:
    check_outcome(lambda: provider_from_url(text), (Provider,))


@PROPERTY_SETTINGS
@given(previous=st.lists(KEYS, max_size=MAX_KEYS - 2), with_next=st.booleans())
def test_valid_keyrings_round_trip(previous: list[str], with_next: bool) -> None:
    keyring = Keyring(current=K1, next=K2 if with_next else None, previous=tuple(previous))
    parsed, error = run_bounded(lambda: parse_payload(keyring_to_json(keyring)))
    assert error is None
    assert isinstance(parsed, Payload)
    assert parsed.to_keyring().same_keys(keyring)
