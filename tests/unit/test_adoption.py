"""Adopting a live site's existing (often weak) key: which roles may hold it, how rotation retires
it, and ``secret-keyring init --adopt-env`` on a file."""

from __future__ import annotations

import copy
import hashlib
import json
import pickle
from collections.abc import Callable
from pathlib import Path

import pytest

from secret_keyring import Keyring
from secret_keyring.cli import main
from secret_keyring.errors import InvalidSecret, WeakSecretKey
from secret_keyring.keygen import adopt_keyring, rotate
from secret_keyring.keyring import adoption_marker, fingerprint, is_weak
from secret_keyring.payload import keyring_to_json, parse_payload
from secret_keyring.providers.local import FileProvider
from secret_keyring.status import fingerprint_rows
from tests.plugins.leakguard import assert_no_key_material, make_key, make_weak_key, remember

# -- which role may hold a weak key ----------------------------------------------------------


def adopted_json(weak: str, **members: object) -> str:
    """Keyring JSON as ``init --adopt-env`` writes it for ``weak``, with ``members`` changed."""
    data: dict[str, object] = {
        "current": weak,
        "next": make_key(),
        "previous": [],
        "adopted": adoption_marker(weak),
    }
    data.update(members)
    return json.dumps(data)


def test_the_adopted_weak_key_is_accepted_as_current_while_the_marker_names_it() -> None:
    weak = make_weak_key()
    keyring = parse_payload(adopted_json(weak)).to_keyring()
    assert keyring.current == weak
    assert keyring.adopted == adoption_marker(weak)
    assert keyring.weak == (weak,)
    assert keyring.fingerprints["weak"] == [fingerprint(weak)]
    # The marker survives the round trip every writer makes.
    assert parse_payload(keyring_to_json(keyring)).to_keyring() == keyring


def test_the_marker_is_the_whole_digest_and_the_fingerprint_is_its_prefix() -> None:
    weak = make_weak_key()
    marker = adoption_marker(weak)
    assert marker == hashlib.sha256(weak.encode()).hexdigest()
    assert marker.startswith(fingerprint(weak))
    assert f"adopted={fingerprint(weak)!r}" in repr(adopt_keyring(weak))
    assert_no_key_material(repr(adopt_keyring(weak)), "repr")


MARKER_FIX = "sha256sum"  # offered where an init from before the marker put the key
REMOVE_FIX = "remove it from 'previous'"
STRONG_FIX = "store a strong key"


@pytest.mark.parametrize(
    ("stored", "fix"),
    [
        # The two hand-written cases the rule used to let through (issue 30, item 4).
        pytest.param(
            lambda weak: {"current": "x", "next": make_key()}, MARKER_FIX, id="1-character current"
        ),
        pytest.param(
            lambda weak: {"current": make_key(), "next": make_key(), "previous": [weak]},
            MARKER_FIX,
            id="weak previous",
        ),
        # What an init --adopt-env from before the marker wrote.
        pytest.param(
            lambda weak: {"current": weak, "next": make_key(), "previous": []},
            MARKER_FIX,
            id="old adoption, no marker",
        ),
        pytest.param(
            lambda weak: {
                "current": weak,
                "next": make_key(),
                "adopted": adoption_marker(make_weak_key()),
            },
            MARKER_FIX,
            id="marker of another key",
        ),
        # Shapes no init ever wrote: a marker would only hide a key nobody adopted.
        pytest.param(
            lambda weak: {
                "current": make_key(),
                "next": make_key(),
                "previous": [weak, "short-old-key"],
                "adopted": adoption_marker(weak),
            },
            REMOVE_FIX,
            id="a second weak previous key",
        ),
        pytest.param(lambda weak: {"current": weak}, STRONG_FIX, id="weak current, no next"),
    ],
)
def test_a_weak_key_the_marker_does_not_name_is_refused_and_recovery_is_named(
    stored: Callable[[str], dict[str, object]], fix: str
) -> None:
    data = stored(make_weak_key())
    with pytest.raises(WeakSecretKey) as raised:
        parse_payload(json.dumps(data), source="file:///k")
    message = str(raised.value)
    assert message.startswith("file:///k: field '")
    assert "not the key this keyring adopted" in message
    assert "'adopted' member" in message
    assert "--adopt-env" in message
    assert fix in message
    assert (MARKER_FIX in message) == (fix == MARKER_FIX)
    assert_no_key_material(message, "error")
    # The value object applies the same rule to keys handed to it directly.
    with pytest.raises(WeakSecretKey):
        Keyring(
            current=data["current"],  # type: ignore[arg-type]
            next=data.get("next"),  # type: ignore[arg-type]
            previous=tuple(data.get("previous", ())),  # type: ignore[arg-type]
            adopted=data.get("adopted"),  # type: ignore[arg-type]
        )


def test_the_error_names_the_fingerprint_to_check_the_digest_against() -> None:
    weak = make_weak_key()
    with pytest.raises(WeakSecretKey, match=f"starts with {fingerprint(weak)}"):
        Keyring(current=make_key(), next=make_key(), previous=(weak,))


@pytest.mark.parametrize(
    "marker",
    [
        pytest.param(fingerprint, id="8-digit fingerprint"),
        pytest.param(lambda weak: adoption_marker(weak).upper(), id="upper case"),
        pytest.param(lambda weak: 7, id="not a string"),
    ],
)
def test_a_malformed_marker_is_invalid(marker: Callable[[str], object]) -> None:
    weak = make_weak_key()
    with pytest.raises(InvalidSecret, match="field 'adopted': expected the SHA-256") as raised:
        parse_payload(adopted_json(weak, adopted=marker(weak)))
    assert not isinstance(raised.value, WeakSecretKey)


def test_a_marker_whose_key_was_removed_trusts_nothing_and_blocks_nothing() -> None:
    """The emergency edit: the adopted key leaked, so an operator deletes it from 'previous'
    and leaves the marker. The keyring must still load (refusing it would stop every new
    process and keep running ones on the keyring that trusts the leaked key), the marker
    trusts nothing, and the next rotation drops it."""
    weak = make_weak_key()
    rotated = rotate(parse_payload(adopted_json(weak)).to_keyring(source="test"))
    assert rotated.previous == (weak,)
    edited = json.loads(keyring_to_json(rotated))
    edited["previous"] = []
    keyring = parse_payload(json.dumps(edited)).to_keyring(source="test")
    assert keyring.weak == ()
    assert rotate(keyring).adopted is None
    # The marker still trusts nobody else's weak key.
    with pytest.raises(WeakSecretKey):
        parse_payload(json.dumps({**edited, "previous": [make_weak_key()]}))


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param(lambda weak: weak, id="plain key"),
        pytest.param(lambda weak: json.dumps({"current": weak}), id="keyring without next"),
        pytest.param(
            lambda weak: json.dumps({"current": weak, "next": None}), id="keyring with null next"
        ),
    ],
)
def test_weak_current_without_a_marker_is_refused_and_the_fix_is_named(payload: object) -> None:
    with pytest.raises(WeakSecretKey, match="--adopt-env") as raised:
        parse_payload(payload(make_weak_key()), source="file:///k")  # type: ignore[operator]
    assert "file:///k: field 'current'" in str(raised.value) or "field 'value'" in str(raised.value)


def test_weak_next_is_always_refused_even_when_the_marker_names_it() -> None:
    weak = make_weak_key()
    with pytest.raises(WeakSecretKey, match="'next'"):
        parse_payload(json.dumps({"current": make_key(), "next": make_weak_key()}))
    with pytest.raises(WeakSecretKey, match="'next'"):
        parse_payload(adopted_json(make_key(), next=weak, adopted=adoption_marker(weak)))
    adopted = make_weak_key()
    with pytest.raises(WeakSecretKey, match="'next'"):
        Keyring(
            current=adopted, next="django-insecure-" + "x" * 60, adopted=adoption_marker(adopted)
        )


def test_the_marker_survives_pickling_and_copying() -> None:
    keyring = rotate(adopt_keyring(make_weak_key()))
    assert keyring.adopted is not None
    pickled = pickle.loads(pickle.dumps(keyring))  # noqa: S301 - our own pickle, made right here
    for copied in (pickled, copy.copy(keyring), copy.deepcopy(keyring)):
        assert copied == keyring
        assert copied.adopted == keyring.adopted


def test_a_strong_adopted_key_gets_no_marker() -> None:
    strong = make_key()
    keyring = adopt_keyring(strong)
    assert keyring.adopted is None
    assert "adopted" not in json.loads(keyring_to_json(keyring))


@pytest.mark.parametrize("bad", ["", "key with\nnewline" + "x" * 50, " " + "y" * 60])
def test_an_adopted_key_must_still_be_printable_text(bad: str) -> None:
    with pytest.raises(InvalidSecret) as raised:
        adopt_keyring(bad)
    assert not isinstance(raised.value, WeakSecretKey)


# -- rotation retires a weak key ---------------------------------------------------------------


def test_first_rotation_keeps_the_weak_key_and_its_marker_second_drops_both() -> None:
    weak = make_weak_key()
    adopted = adopt_keyring(weak)
    assert adopted.previous == ()
    assert adopted.adopted == adoption_marker(weak)
    assert adopted.next is not None
    assert not is_weak(adopted.next)

    first = rotate(adopted)
    assert first.current == adopted.next
    assert first.previous == (weak,)
    assert first.weak == (weak,)
    assert first.adopted == adoption_marker(weak)

    second = rotate(first)
    assert second.current == first.next
    assert second.previous == (first.current,)
    assert weak not in (second.current, second.next, *second.previous)
    assert second.weak == ()
    assert second.adopted is None
    # What a rotation writes is what a reader accepts, at every step.
    for keyring in (adopted, first, second):
        assert parse_payload(keyring_to_json(keyring)).to_keyring() == keyring


def test_rotation_never_writes_a_weak_key_to_current_or_next() -> None:
    weak = make_weak_key()
    keyring = Keyring(
        current=weak, next=make_key(), previous=(make_key(),), adopted=adoption_marker(weak)
    )
    for _ in range(4):
        keyring = rotate(keyring, max_fallbacks=5)
        assert not is_weak(keyring.current)
        assert keyring.next is not None
        assert not is_weak(keyring.next)
    assert keyring.weak == ()
    assert keyring.adopted is None


def test_a_weak_previous_key_is_dropped_by_the_next_rotation_with_its_marker() -> None:
    strong_old, weak_old = make_key(), make_weak_key()
    keyring = Keyring(
        current=make_key(),
        next=make_key(),
        previous=(weak_old, strong_old),
        adopted=adoption_marker(weak_old),
    )
    rotated = rotate(keyring)
    assert rotated.previous == (keyring.current, strong_old)
    assert rotated.adopted is None


def test_the_marker_goes_when_trimming_drops_the_key() -> None:
    rotated = rotate(adopt_keyring(make_weak_key()), max_fallbacks=0)
    assert (rotated.previous, rotated.adopted) == ((), None)


# -- status marks the weak fingerprint ---------------------------------------------------------


def test_status_rows_mark_the_weak_fingerprint() -> None:
    weak = make_weak_key()
    rows = dict(fingerprint_rows(adopt_keyring(weak).fingerprints))
    assert rows["current"].startswith(fingerprint(weak) + " (weak")
    assert "weak" not in rows["next"]
    rows = dict(fingerprint_rows(rotate(adopt_keyring(weak)).fingerprints))
    assert "weak" not in rows["current"]
    assert rows["previous"].startswith(fingerprint(weak) + " (weak")


# -- secret-keyring init --adopt-env -----------------------------------------------------------


def test_init_adopt_env_writes_the_site_key_as_current(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    weak = make_weak_key()
    monkeypatch.setenv("OLD_SECRET_KEY", weak)
    path = tmp_path / "keyring.json"

    assert main(["init", f"file://{path}", "--adopt-env", "OLD_SECRET_KEY"]) == 0

    out = capsys.readouterr()
    assert_no_key_material(out.out + out.err, "init output")
    assert f"{fingerprint(weak)} (weak" in out.out
    stored = json.loads(path.read_text())
    assert set(stored) == {"current", "next", "previous", "adopted"}
    assert stored["current"] == weak
    assert stored["adopted"] == hashlib.sha256(weak.encode()).hexdigest()
    assert stored["previous"] == []
    assert not is_weak(stored["next"])
    assert FileProvider(path).fetch().current == weak
    assert path.stat().st_mode & 0o777 == 0o600
    # The fingerprint to hold against the live site's, and how to get that one.
    assert f"adopted key {fingerprint(weak)} (from $OLD_SECRET_KEY)" in out.out
    assert "adopt_secret_key --fingerprint" in out.out


def test_init_adopt_env_never_overwrites_another_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "keyring.json"
    existing = keyring_to_json(Keyring(current=make_key(), next=make_key()))
    path.write_text(existing)
    monkeypatch.setenv("OLD_SECRET_KEY", make_weak_key())

    assert main(["init", f"file://{path}", "--adopt-env", "OLD_SECRET_KEY"]) == 1

    err = capsys.readouterr().err
    assert "RotationError" in err
    assert "not adopted" in err
    assert_no_key_material(err, "init error")
    assert path.read_text() == existing


def test_init_adopt_env_again_with_the_same_key_is_fine(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "keyring.json"
    monkeypatch.setenv("OLD_SECRET_KEY", make_weak_key())
    assert main(["init", f"file://{path}", "--adopt-env", "OLD_SECRET_KEY"]) == 0
    written = path.read_text()
    assert main(["init", f"file://{path}", "--adopt-env", "OLD_SECRET_KEY"]) == 0
    assert "adopted already" in capsys.readouterr().out
    assert path.read_text() == written


@pytest.mark.parametrize("value", [None, ""])
def test_init_adopt_env_needs_the_variable(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    value: str | None,
) -> None:
    if value is None:
        monkeypatch.delenv("OLD_SECRET_KEY", raising=False)
    else:
        monkeypatch.setenv("OLD_SECRET_KEY", value)
    path = tmp_path / "keyring.json"
    assert main(["init", f"file://{path}", "--adopt-env", "OLD_SECRET_KEY"]) == 1
    err = capsys.readouterr().err
    assert "ConfigurationError" in err
    assert "OLD_SECRET_KEY" in err
    assert ("empty" if value == "" else "not set") in err
    assert not path.exists()


def test_init_adopt_env_refuses_a_key_that_is_not_text(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("OLD_SECRET_KEY", "x" * 30 + "\a" + "x" * 30)
    path = tmp_path / "keyring.json"
    assert main(["init", f"file://{path}", "--adopt-env", "OLD_SECRET_KEY"]) == 1
    err = capsys.readouterr().err
    assert "$OLD_SECRET_KEY" in err
    assert "x" * 50 not in err
    assert not path.exists()


def test_init_adopt_env_is_refused_for_a_dev_keyring(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("OLD_SECRET_KEY", make_weak_key())
    assert main(["init", f"dev://{tmp_path}/dev.json", "--adopt-env", "OLD_SECRET_KEY"]) == 1
    assert "per machine" in capsys.readouterr().err


@pytest.mark.parametrize("option", ["--adopt-env", "--adopt"])  # argparse takes "--adopt" too
# A generated key may start with "-", which argparse would take for an option: prefix a letter.
# Named ids: a key in a test id would be printed with every run (and differ between the
# processes of a parallel run, which must collect the same tests).
@pytest.mark.parametrize(
    "pasted",
    ["K" + make_key(), "k3y-" + "Ab1!@#$%^&*(" * 5],
    ids=["generated key", "key of punctuation"],
)
def test_a_key_pasted_as_the_variable_name_is_refused_unseen(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], option: str, pasted: str
) -> None:
    path = tmp_path / "keyring.json"
    assert main(["init", f"file://{path}", option, pasted]) == 1
    err = capsys.readouterr().err
    assert "name of an environment variable" in err
    assert pasted[:20] not in err
    assert not path.exists()


@pytest.mark.parametrize(
    ("pasted", "says"),
    [
        pytest.param(lambda key: f"'{key}'", "wrapped in ' quotes", id="single quotes"),
        pytest.param(lambda key: f'"{key}"', 'wrapped in " quotes', id="double quotes"),
        pytest.param(lambda key: f"'{key}", "quote before the 'django-insecure-'", id="one quote"),
        pytest.param(lambda key: f"{key}\n", "whitespace", id="trailing newline"),
        pytest.param(lambda key: f" {key}", "whitespace", id="leading space"),
    ],
)
def test_init_adopt_env_refuses_a_key_pasted_with_its_surroundings(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    pasted: Callable[[str], str],
    says: str,
) -> None:
    """The key as settings.py shows it (``'django-insecure-...'``, quotes included) is another
    key: the quote hid the weak prefix, and the keyring would not sign as the site does."""
    weak = make_weak_key()
    monkeypatch.setenv("OLD_SECRET_KEY", pasted(weak))
    path = tmp_path / "keyring.json"

    assert main(["init", f"file://{path}", "--adopt-env", "OLD_SECRET_KEY"]) == 1

    err = capsys.readouterr().err
    assert "ConfigurationError" in err
    assert "--adopt-env OLD_SECRET_KEY" in err
    assert says in err
    assert "adopt_secret_key" in err
    assert_no_key_material(err, "init error")
    assert weak[16:40] not in err
    assert not path.exists()


def test_a_strong_key_containing_a_quote_inside_is_adopted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = "'" + make_key() + "x"  # a quote in front alone is not a paste of a settings.py line
    remember(key)
    monkeypatch.setenv("OLD_SECRET_KEY", key)
    path = tmp_path / "keyring.json"
    assert main(["init", f"file://{path}", "--adopt-env", "OLD_SECRET_KEY"]) == 0
    assert FileProvider(path).fetch().current == key
