"""The package the AWS module deploys: `secret-keyring lambda-zip PATH` must produce a zip in
which the module's handler string resolves to a callable."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.terraform import tfconfig

ROTATION_MODULE = "secret_keyring.rotation.aws"
_PROBE = """
import importlib, sys
sys.path.insert(0, sys.argv[1])
module = importlib.import_module(sys.argv[2])
assert callable(getattr(module, sys.argv[3]))
print(module.__file__)
"""


def _handler() -> str:
    function = tfconfig.load(tfconfig.MODULES["aws-secret"]).resources[
        ("aws_lambda_function", "rotation")
    ]
    return tfconfig.literal(function["handler"])


def test_lambda_zip_contains_the_handler(tmp_path: Path) -> None:
    rotation = pytest.importorskip(
        ROTATION_MODULE,
        reason=f"{ROTATION_MODULE} (the rotation Lambda, built with the rotation issue) does not "
        "exist yet, so there is no `secret-keyring lambda-zip` package to check",
    )
    handler = _handler()
    module_name, function_name = handler.rsplit(".", 1)
    assert module_name == ROTATION_MODULE
    assert callable(getattr(rotation, function_name))

    package = tmp_path / "build" / "rotation.zip"
    built = subprocess.run(
        [sys.executable, "-m", "secret_keyring", "lambda-zip", str(package)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert built.returncode == 0, built.stderr
    with zipfile.ZipFile(package) as archive:
        names = set(archive.namelist())
        assert archive.testzip() is None
    assert f"{module_name.replace('.', '/')}.py" in names
    assert not any("/django/" in name for name in names), "the Lambda ships without Django"

    # Import the handler from the zip the way the Lambda runtime does (zip root on sys.path),
    # in a fresh interpreter where the zip comes first.
    probe = subprocess.run(
        [
            sys.executable,
            "-I",
            "-c",
            _PROBE,
            str(package),
            module_name,
            function_name,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert probe.returncode == 0, probe.stderr
    assert probe.stdout.strip().startswith(str(package)), probe.stdout
