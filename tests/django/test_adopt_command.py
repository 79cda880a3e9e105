"""``manage.py adopt_secret_key``: adoption that reads the live key from the settings, so
nothing is pasted (issue 29). Run in-process with ``override_settings`` standing in for a site's
settings before the switch: a hard-coded ``SECRET_KEY`` that is not the one ``secret_keys()``
supplied to this test project."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings

from secret_keyring.errors import SourceUnavailable
from secret_keyring.keyring import adoption_marker, fingerprint
from secret_keyring.providers.local import FileProvider
from tests.plugins.leakguard import assert_no_key_material, make_key, make_weak_key


def adopt(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("adopt_secret_key", *args, stdout=out, stderr=err)
    assert_no_key_material(out.getvalue() + err.getvalue(), "adopt_secret_key output")
    return out.getvalue(), err.getvalue()


def test_writes_the_settings_key_as_current_and_prints_both_fingerprints(tmp_path: Path) -> None:
    weak = make_weak_key()
    path = tmp_path / "keyring.json"
    with override_settings(SECRET_KEY=weak, SECRET_KEY_FALLBACKS=[]):
        out, err = adopt(f"file://{path}")

    stored = json.loads(path.read_text())
    assert stored["current"] == weak
    assert stored["adopted"] == adoption_marker(weak)
    assert FileProvider(path).fetch().current == weak
    assert f"current   {fingerprint(weak)} (weak" in out
    assert f"live SECRET_KEY   {fingerprint(weak)} (weak)" in out
    assert f"keyring current   {fingerprint(weak)}" in out
    assert "the same key" in out
    assert err == ""


def test_create_only_another_secret_is_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "keyring.json"
    with override_settings(SECRET_KEY=make_weak_key()):
        adopt(f"file://{path}")
    written = path.read_text()
    # The same key again is fine and writes nothing ...
    with override_settings(SECRET_KEY=json.loads(written)["current"]):
        out, _ = adopt(f"file://{path}")
    assert "adopted already" in out
    # ... another key is refused.
    with (
        override_settings(SECRET_KEY=make_weak_key()),
        pytest.raises(CommandError, match="not adopted"),
    ):
        adopt(f"file://{path}")
    assert path.read_text() == written


def test_a_strong_settings_key_is_adopted_without_a_marker(tmp_path: Path) -> None:
    key = make_key()
    path = tmp_path / "keyring.json"
    with override_settings(SECRET_KEY=key):
        out, _ = adopt(f"file://{path}")
    assert "adopted" not in json.loads(path.read_text())
    assert f"live SECRET_KEY   {fingerprint(key)}\n" in out


def test_fingerprint_only_writes_nothing(tmp_path: Path) -> None:
    weak = make_weak_key()
    with override_settings(SECRET_KEY=weak):
        out, _ = adopt("--fingerprint")
    assert out.strip() == f"live SECRET_KEY   {fingerprint(weak)} (weak)"
    assert list(tmp_path.iterdir()) == []


def test_settings_that_already_use_the_keyring_have_nothing_to_adopt(tmp_path: Path) -> None:
    # This test project's own settings: SECRET_KEY comes from secret_keys().
    path = tmp_path / "keyring.json"
    with pytest.raises(CommandError, match="already comes from secret_keys"):
        adopt(f"file://{path}")
    assert not path.exists()


def test_a_source_is_needed_to_write(tmp_path: Path) -> None:
    with override_settings(SECRET_KEY=make_weak_key()), pytest.raises(CommandError, match="URL"):
        adopt()


def test_fallbacks_that_are_not_adopted_are_named(tmp_path: Path) -> None:
    with override_settings(SECRET_KEY=make_weak_key(), SECRET_KEY_FALLBACKS=[make_key()]):
        _, err = adopt(f"file://{tmp_path / 'keyring.json'}")
    assert "SECRET_KEY_FALLBACKS holds 1 key(s) that were not adopted" in err


def test_the_keyring_fingerprint_is_read_back_from_the_source(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The ``keyring current`` line is what the source holds after the write, not the keyring
    the command meant to write: when it cannot be read back, no match is claimed."""

    def unreadable(self: FileProvider) -> None:
        raise SourceUnavailable(f"{self.source}: read refused for the test", source=self.source)

    monkeypatch.setattr(FileProvider, "fetch", unreadable)
    path = tmp_path / "keyring.json"
    with override_settings(SECRET_KEY=make_weak_key()):
        out, err = adopt(f"file://{path}")
    assert path.exists()
    assert "keyring current   -" in out
    assert "the same key" not in out
    assert "could not be read back" in err
    assert f"secret-keyring status file://{path}" in err
