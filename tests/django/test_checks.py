"""System checks and the management command, through manage.py as a user runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.checks import run_checks
from django.core.management import call_command, load_command_class
from django.test import Client, override_settings

from secret_keyring.django.checks import check_weak_keys
from secret_keyring.keygen import adopt_keyring, new_keyring
from secret_keyring.keyring import fingerprint
from secret_keyring.payload import keyring_to_json, parse_payload
from tests.django.conftest import LiveSite
from tests.plugins.leakguard import assert_no_key_material, make_key, make_weak_key

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


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param({"SECRET_KEY_FALLBACKS": ["too-short"]}, id="weak fallback"),
        pytest.param({"SECRET_KEY": "django-insecure-test-only"}, id="weak key"),
    ],
)
def test_keys_the_library_did_not_supply_are_not_judged(overrides: dict[str, object]) -> None:
    """A test settings override or a hand-set key is Django's own W009 business: our checks
    judge only the keys secret_keys() supplied, and raise no Error outside --deploy."""
    out = StringIO()
    with override_settings(**overrides):
        call_command("check", stdout=out, stderr=out)  # no SystemCheckError
        messages = run_checks(include_deployment_checks=True)
    assert not [m for m in messages if m.id.startswith("secret_keyring.E")]
    assert "secret_keyring.W004" not in {m.id for m in messages}


@pytest.fixture
def adopted_file(tmp_path: Path) -> Path:
    path = tmp_path / "adopted.json"
    path.write_text(keyring_to_json(adopt_keyring(make_weak_key())))
    return path


@pytest.mark.parametrize(
    "command",
    [
        ("check",),
        ("migrate", "--no-input", "-v", "0"),
        ("secret_key_status",),
        ("test", "--no-input", "tests.django.project"),
    ],
    ids=lambda command: command[0],
)
def test_an_adopted_weak_key_blocks_no_command(adopted_file: Path, command: tuple[str]) -> None:
    result = manage(*command, source=f"file://{adopted_file}")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "secret_keyring.W004" not in result.stdout + result.stderr
    assert_no_key_material(result.stdout + result.stderr, "command output")


def test_an_adopted_weak_key_is_a_deploy_warning_naming_the_fix(adopted_file: Path) -> None:
    result = manage("check", "--deploy", source=f"file://{adopted_file}")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "secret_keyring.W004" in result.stderr
    assert "Rotate twice" in result.stderr
    assert_no_key_material(result.stdout + result.stderr, "check output")


def test_secret_key_status_marks_the_weak_fingerprint(adopted_file: Path) -> None:
    weak = parse_payload(adopted_file.read_bytes()).current
    result = manage("secret_key_status", source=f"file://{adopted_file}")
    assert f"{fingerprint(weak)} (weak" in result.stdout
    data = json.loads(manage("secret_key_status", "--json", source=f"file://{adopted_file}").stdout)
    assert data["fingerprints"]["weak"] == [fingerprint(weak)]


def test_the_deploy_warning_follows_the_weak_key_until_it_is_dropped(site: LiveSite) -> None:
    site.write(adopt_keyring(make_weak_key()))
    site.pass_ttl()
    Client().get("/whoami/")
    (message,) = check_weak_keys()
    assert message.id == "secret_keyring.W004"
    assert message.msg.startswith("Key ")  # the key is named before "it" refers to it
    assert "Django signs with it (SECRET_KEY) until the next rotation" in message.msg
    assert "Rotate twice" in (message.hint or "")
    # The one spacing rule of docs/rotation.md, not "one refresh interval".
    assert "at least 2 x ttl + refresh_timeout (never less than 15 minutes)" in (message.hint or "")

    site.rotate()
    site.pass_ttl()
    Client().get("/whoami/")
    (message,) = check_weak_keys()
    # In previous, the old key only verifies: no claim that it can still sign.
    assert "Django no longer signs with it, but still accepts what it signed" in message.msg
    assert "can sign" not in message.msg
    assert "Rotate once more" in (message.hint or "")

    site.rotate()
    site.pass_ttl()
    Client().get("/whoami/")
    assert check_weak_keys() == []


def test_secret_key_status_command(keyring_file: Path) -> None:
    result = manage("secret_key_status", source=f"file://{keyring_file}")
    assert result.returncode == 0, result.stderr
    from secret_keyring.payload import parse_payload

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


def _now() -> list[str]:
    """``--force`` where the command enforces a minimum interval between rotations: the keyring
    was written a moment ago, and a test cannot wait the interval out."""
    parser = load_command_class("secret_keyring.django", "rotate_secret_key").create_parser(
        "manage.py", "rotate_secret_key"
    )
    return ["--force"] if "--force" in parser.format_help() else []


def test_rotate_secret_key_marks_the_weak_key_it_keeps_for_one_rotation(site: LiveSite) -> None:
    weak = make_weak_key()
    site.write(adopt_keyring(weak))
    out = StringIO()
    call_command("rotate_secret_key", *_now(), stdout=out)
    text = out.getvalue()
    assert f"previous {fingerprint(weak)} (weak: the next rotation drops it)" in text
    assert_no_key_material(text, "rotate_secret_key output")
    assert site.stored().previous == (weak,)
