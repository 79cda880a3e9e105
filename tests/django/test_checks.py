"""System checks and the management command, through manage.py as a user runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import override_settings

from secret_keyring.keyring import fingerprint, keyring_to_json
from secret_keyring.rotation.keygen import new_keyring
from tests.plugins.leakguard import assert_no_key_material, make_key

ROOT = Path(__file__).resolve().parents[2]


def manage(*args: str, source: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DJANGO_SECRET_KEY_SOURCE": source, "PYTHONPATH": str(ROOT)}
    env.pop("SECRET_KEYRING_TEST_FILE", None)
    return subprocess.run(
        [sys.executable, "-m", "django", *args, "--settings=tests.django.project.settings"],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        check=False,
        timeout=60,
    )


@pytest.fixture
def keyring_file(tmp_path: Path) -> Path:
    path = tmp_path / "kr.json"
    path.write_text(keyring_to_json(new_keyring()))
    return path


def test_check_deploy_passes_our_checks_with_a_good_keyring(keyring_file: Path) -> None:
    result = manage("check", "--deploy", source=f"file://{keyring_file}")
    assert "secret_keyring." not in result.stdout + result.stderr
    assert_no_key_material(result.stdout + result.stderr, "check output")


def test_check_deploy_refuses_dev_source(tmp_path: Path) -> None:
    result = manage("check", "--deploy", source=f"dev://{tmp_path}/dev.json")
    assert "secret_keyring.E002" in result.stderr
    assert result.returncode != 0


def test_check_deploy_warns_on_env_source() -> None:
    os.environ["SKR_TEST_KEY"] = keyring_to_json(new_keyring())
    try:
        result = manage("check", "--deploy", source="env://SKR_TEST_KEY")
    finally:
        del os.environ["SKR_TEST_KEY"]
    assert "secret_keyring.W002" in result.stderr
    assert_no_key_material(result.stdout + result.stderr, "check output")


def test_check_deploy_warns_on_plain_payload(tmp_path: Path) -> None:
    path = tmp_path / "plain"
    path.write_text(make_key())
    result = manage("check", "--deploy", source=f"file://{path}")
    assert "secret_keyring.W003" in result.stderr


def test_weak_key_in_source_fails_start_up_without_showing_it(tmp_path: Path) -> None:
    path = tmp_path / "weak"
    path.write_text("django-insecure-" + "abc123" * 10)
    result = manage("check", source=f"file://{path}")
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert f"file://{path}" in result.stderr
    assert "django-insecure-" + "abc123" not in result.stderr


def test_weak_fallback_in_settings_is_an_error() -> None:
    out = StringIO()
    with (
        override_settings(SECRET_KEY_FALLBACKS=["too-short"]),
        pytest.raises(SystemCheckError, match=r"secret_keyring\.E001"),
    ):
        call_command("check", stdout=out, stderr=out)


def test_secret_key_status_command(keyring_file: Path) -> None:
    result = manage("secret_key_status", source=f"file://{keyring_file}")
    assert result.returncode == 0, result.stderr
    from secret_keyring.keyring import parse_payload

    kr = parse_payload(keyring_file.read_bytes())
    assert fingerprint(kr.current) in result.stdout
    assert_no_key_material(result.stdout + result.stderr, "secret_key_status output")
    as_json = manage("secret_key_status", "--json", source=f"file://{keyring_file}")
    data = json.loads(as_json.stdout)
    assert data["fingerprints"]["next"] == fingerprint(kr.next or "")
    assert data["kind"] == "keyring"


def test_missing_source_is_improperly_configured() -> None:
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SECRET_KEY_SOURCE"}
    env["PYTHONPATH"] = str(ROOT)
    code = (
        "from secret_keyring.django import secret_keys\n"
        "import os; os.environ.pop('DJANGO_SECRET_KEY_SOURCE', None)\n"
        "try:\n    secret_keys()\nexcept Exception as e:\n    print(type(e).__name__, e)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    ).stdout
    assert out.startswith("ImproperlyConfigured")
    assert "DJANGO_SECRET_KEY_SOURCE" in out
