"""Proof with a real package: a REST API on djangorestframework-simplejwt's default settings.

Every step is a new process (``tests/django/jwtproject/client.py``), as after a deploy: a token
issued before ``secret-keyring rotate`` is refused by a process started after it, although the
key that signed it is still in SECRET_KEY_FALLBACKS; ``manage.py check`` says so beforehand; and
the documented fix (a signing key of its own for simplejwt) makes the token survive.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from secret_keyring.keygen import new_keyring
from secret_keyring.payload import keyring_to_json
from tests.plugins.leakguard import assert_no_key_material, make_key

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(
    __import__("importlib").util.find_spec("rest_framework_simplejwt") is None,
    reason="djangorestframework-simplejwt is not installed",
)


class Project:
    def __init__(self, tmp_path: Path, jwt_key_source: str | None = None) -> None:
        self.keyring = tmp_path / "keyring.json"
        self.keyring.write_text(keyring_to_json(new_keyring()))
        self.env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "DJANGO_SETTINGS_MODULE": "tests.django.jwtproject.settings",
            "DJANGO_SECRET_KEY_SOURCE": f"file://{self.keyring}",
            "JWT_DB": str(tmp_path / "db.sqlite3"),
        }
        self.env.pop("SECRET_KEYRING_TEST_FILE", None)
        if jwt_key_source:
            self.env["JWT_SIGNING_KEY_SOURCE"] = jwt_key_source

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [sys.executable, *args],
            capture_output=True,
            text=True,
            env=self.env,
            cwd=ROOT,
            check=False,
            timeout=120,
        )
        assert_no_key_material(done.stdout + done.stderr, f"{args[:3]} output")
        return done

    def client(self, *args: str) -> Any:
        done = self.run("tests/django/jwtproject/client.py", *args)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout.strip().splitlines()[-1])

    def rotate(self) -> subprocess.CompletedProcess[str]:
        # The keyring was written moments ago: no minimum interval between these rotations.
        done = self.run(
            "-m", "secret_keyring", "rotate", f"file://{self.keyring}", "--min-interval", "0"
        )
        assert done.returncode == 0, done.stderr
        return done

    def check(self) -> subprocess.CompletedProcess[str]:
        return self.run("-m", "django", "check")


def test_simplejwt_default_loses_tokens_at_rotation_and_the_check_says_so(
    tmp_path: Path,
) -> None:
    project = Project(tmp_path)
    # Before anything breaks, the check names the package and the setting that fixes it.
    check = project.check()
    assert check.returncode == 0, check.stderr
    assert "secret_keyring.W011" in check.stderr
    assert "djangorestframework-simplejwt" in check.stderr
    assert 'SIMPLE_JWT["SIGNING_KEY"] is not set' in check.stderr

    issued = project.client("issue")
    assert issued["status"] == 200
    token = issued["access"]
    assert project.client("call", token) == {"status": 200, "body": {"username": "alice"}}

    rotated = project.rotate()
    assert "cannot see your Django project" in rotated.stderr

    # The old key is now SECRET_KEY_FALLBACKS[...] and Django's own signatures still verify,
    # but simplejwt copied SECRET_KEY at import and knows no fallbacks:
    after = project.client("call", token)
    assert after["status"] == 401
    assert after["body"]["code"] == "token_not_valid"
    print("after rotation:", json.dumps(after))  # the failure, for the record in -s runs


def test_a_signing_key_of_its_own_survives_the_rotation(tmp_path: Path) -> None:
    jwt_key = tmp_path / "jwt-signing-key"
    jwt_key.write_text(make_key())
    project = Project(tmp_path, jwt_key_source=f"file://{jwt_key}")

    check = project.check()
    assert check.returncode == 0, check.stderr
    assert "secret_keyring.W01" not in check.stderr

    token = project.client("issue")["access"]
    project.rotate()
    project.rotate()
    assert project.client("call", token) == {"status": 200, "body": {"username": "alice"}}
