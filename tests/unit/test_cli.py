"""The secret-keyring command line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from secret_keyring.cli import main
from secret_keyring.keyring import fingerprint
from secret_keyring.payload import parse_payload
from secret_keyring.status import render_status
from tests.plugins.leakguard import make_key


def test_status_table_shows_fingerprints_only(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a, b = make_key(), make_key()
    path = tmp_path / "kr.json"
    path.write_text(json.dumps({"current": a, "next": b, "previous": []}))
    assert main(["status", f"file://{path}"]) == 0
    out = capsys.readouterr().out
    assert fingerprint(a) in out
    assert fingerprint(b) in out
    assert f"file://{path}" in out


def test_status_shows_no_next_refresh_for_a_process_that_exits(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The command fetches once and exits: no refresh will ever come. A live process's status
    (``manage.py secret_key_status``) keeps the row."""
    path = tmp_path / "kr.json"
    path.write_text(json.dumps({"current": make_key(), "next": make_key(), "previous": []}))
    assert main(["status", f"file://{path}"]) == 0
    assert "next refresh" not in capsys.readouterr().out
    assert main(["status", "--json", f"file://{path}"]) == 0
    assert "next_refresh" not in json.loads(capsys.readouterr().out)
    assert "next refresh  in 4.8m" in render_status({"next_refresh": 288.0})


def test_status_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a = make_key()
    path = tmp_path / "k"
    path.write_text(a)
    assert main(["status", "--json", f"file://{path}"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["fingerprints"]["current"] == fingerprint(a)
    assert data["kind"] == "plain"


def test_status_plain_payload_explains_the_limit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "k"
    path.write_text(make_key())
    main(["status", f"file://{path}"])
    out = capsys.readouterr().out
    assert "keyring JSON" in out
    # A file keeps no older versions: the backend-history note would be wrong here.
    assert "no older versions" in out
    assert "backend's older versions" not in out


def test_status_plain_note_about_history_only_for_backends_with_history() -> None:
    fps = {"current": "0a1b2c3d", "next": None, "previous": [], "weak": []}
    with_history = render_status({"fingerprints": fps, "backend_history": True})
    assert "backend's older versions" in with_history
    without = render_status({"fingerprints": fps, "backend_history": False})
    assert "backend's older versions" not in without
    assert "no older versions" in without
    given = render_status(
        {"fingerprints": {**fps, "previous": ["11223344"]}, "backend_history": False}
    )
    assert "note:" not in given  # env://?fallbacks= supplies fallbacks of its own


def test_status_table_shows_an_ignored_pending_version() -> None:
    """What the AWS provider reports in status()["provider"] gets a row of its own."""
    reason = "rotation is not enabled on the secret"
    table = render_status(
        {
            "source": "aws-secretsmanager://prod/myapp/django",
            "fingerprints": {"current": "0b9df26d", "next": None, "previous": []},
            "provider": {"ignored_pending": {"version": "v-2", "reason": reason}},
        }
    )
    assert f"AWSPENDING v-2: {reason}" in table
    assert "ignored" not in render_status({"source": "file:///k", "provider": {}})


def test_status_error_exit_code(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["status", f"file://{tmp_path}/missing"]) == 1
    assert "SecretNotFound" in capsys.readouterr().err


def test_bad_url_exit_code(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["status", "nope://x"]) == 1
    assert "unknown scheme" in capsys.readouterr().err


def test_generate_prints_a_valid_keyring_json() -> None:
    # In a subprocess: this is the one command whose output IS key material.
    out = subprocess.run(
        [sys.executable, "-m", "secret_keyring", "generate"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    payload = parse_payload(out)
    assert payload.kind == "keyring"
    assert payload.next is not None
    assert payload.current != payload.next


def test_help_runs() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "secret_keyring", "--help"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0
    assert "status" in result.stdout
