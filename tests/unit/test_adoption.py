"""Adopting a live site's existing (often weak) key: which roles may hold it, how rotation retires
it, and ``secret-keyring init --adopt-env`` on a file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from secret_keyring import Keyring
from secret_keyring.cli import main
from secret_keyring.errors import InvalidSecret, WeakSecretKey
from secret_keyring.keyring import fingerprint, is_weak, keyring_to_json, parse_payload
from secret_keyring.providers.local import FileProvider
from secret_keyring.rotation.keygen import adopt_keyring, rotate
from secret_keyring.status import fingerprint_rows
from tests.plugins.leakguard import assert_no_key_material, make_key, make_weak_key

# -- which role may hold a weak key ----------------------------------------------------------


def test_weak_current_is_accepted_while_a_strong_next_waits() -> None:
    weak, nxt = make_weak_key(), make_key()
    payload = parse_payload(json.dumps({"current": weak, "next": nxt, "previous": []}))
    keyring = payload.to_keyring()
    assert (keyring.current, keyring.next) == (weak, nxt)
    assert keyring.weak == (weak,)
    assert keyring.fingerprints["weak"] == [fingerprint(weak)]


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
def test_weak_current_without_a_next_is_refused_and_the_fix_is_named(payload: object) -> None:
    with pytest.raises(WeakSecretKey, match="--adopt-env") as raised:
        parse_payload(payload(make_weak_key()), source="file:///k")  # type: ignore[operator]
    assert "file:///k: field 'current'" in str(raised.value) or "field 'value'" in str(raised.value)


def test_weak_next_is_always_refused() -> None:
    with pytest.raises(WeakSecretKey, match="'next'"):
        parse_payload(json.dumps({"current": make_key(), "next": make_weak_key()}))
    with pytest.raises(WeakSecretKey, match="'next'"):
        Keyring(current=make_weak_key(), next="django-insecure-" + "x" * 60)


@pytest.mark.parametrize("strong_current", [True, False])
def test_weak_keys_are_accepted_in_previous(strong_current: bool) -> None:
    weak = make_weak_key()
    current = make_key() if strong_current else make_weak_key()
    keyring = Keyring(current=current, next=make_key(), previous=(weak, "short-old-key"))
    assert keyring.fallbacks[1:] == [weak, "short-old-key"]
    assert weak in keyring.weak


def test_weak_previous_with_a_plain_current_is_accepted() -> None:
    # A plain current (no next) must be strong; the fallbacks are only verified.
    keyring = Keyring(current=make_key(), previous=(make_weak_key(),))
    assert len(keyring.weak) == 1


@pytest.mark.parametrize("bad", ["", "key with\nnewline" + "x" * 50, " " + "y" * 60])
def test_an_adopted_key_must_still_be_printable_text(bad: str) -> None:
    with pytest.raises(InvalidSecret) as raised:
        adopt_keyring(bad)
    assert not isinstance(raised.value, WeakSecretKey)


# -- rotation retires a weak key ---------------------------------------------------------------


def test_first_rotation_keeps_the_weak_key_in_previous_second_drops_it() -> None:
    weak = make_weak_key()
    adopted = adopt_keyring(weak)
    assert adopted.previous == ()
    assert adopted.next is not None
    assert not is_weak(adopted.next)

    first = rotate(adopted)
    assert first.current == adopted.next
    assert first.previous == (weak,)
    assert first.weak == (weak,)

    second = rotate(first)
    assert second.current == first.next
    assert second.previous == (first.current,)
    assert weak not in (second.current, second.next, *second.previous)
    assert second.weak == ()


def test_rotation_never_writes_a_weak_key_to_current_or_next() -> None:
    keyring = Keyring(
        current=make_weak_key(), next=make_key(), previous=(make_weak_key(), make_key())
    )
    for _ in range(4):
        keyring = rotate(keyring, max_fallbacks=5)
        assert not is_weak(keyring.current)
        assert keyring.next is not None
        assert not is_weak(keyring.next)
    assert keyring.weak == ()


def test_a_weak_previous_key_is_dropped_by_the_next_rotation() -> None:
    strong_old, weak_old = make_key(), make_weak_key()
    keyring = Keyring(current=make_key(), next=make_key(), previous=(weak_old, strong_old))
    rotated = rotate(keyring)
    assert rotated.previous == (keyring.current, strong_old)


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
    assert set(stored) == {"current", "next", "previous"}
    assert stored["current"] == weak
    assert stored["previous"] == []
    assert not is_weak(stored["next"])
    assert FileProvider(path).fetch().current == weak
    assert path.stat().st_mode & 0o777 == 0o600


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
    monkeypatch.setenv("OLD_SECRET_KEY", "x" * 60 + "\t")
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
@pytest.mark.parametrize("pasted", ["K" + make_key(), "k3y-" + "Ab1!@#$%^&*(" * 5])
def test_a_key_pasted_as_the_variable_name_is_refused_unseen(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], option: str, pasted: str
) -> None:
    path = tmp_path / "keyring.json"
    assert main(["init", f"file://{path}", option, pasted]) == 1
    err = capsys.readouterr().err
    assert "name of an environment variable" in err
    assert pasted[:20] not in err
    assert not path.exists()
