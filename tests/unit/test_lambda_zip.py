"""The rotation Lambda's deployment zip: contents, reproducibility, and that the handler imports
from the zip alone with nothing but the standard library and boto3 (what the runtime provides)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
import zipfile
from importlib import metadata
from pathlib import Path

import pytest

from secret_keyring.cli import main
from secret_keyring.errors import ConfigurationError
from secret_keyring.rotation.lambda_zip import (
    HANDLER,
    HANDLERS,
    build_lambda_zip,
    bundled_distributions,
)


@pytest.fixture(scope="module")
def lambda_zip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("lambda") / "rotation.zip"
    build_lambda_zip(path)
    return path


def test_contents(lambda_zip: Path) -> None:
    with zipfile.ZipFile(lambda_zip) as archive:
        names = archive.namelist()
        assert archive.testzip() is None
    module, function = HANDLER.rsplit(".", 1)
    assert function == "lambda_handler"
    assert module.replace(".", "/") + ".py" in names
    for required in (
        "secret_keyring/__init__.py",
        "secret_keyring/errors.py",
        "secret_keyring/keyring.py",
        "secret_keyring/rotation/__init__.py",
        "secret_keyring/rotation/aws.py",
        "secret_keyring/rotation/keygen.py",
        "secret_keyring/providers/aws.py",
    ):
        assert required in names
    assert all(name.startswith("secret_keyring/") for name in names)
    assert not [n for n in names if n.startswith("secret_keyring/django/")]
    assert not [n for n in names if "tests" in n.split("/") or "__pycache__" in n]
    assert not [n for n in names if n.endswith((".pyc", ".pyo"))]
    assert "secret_keyring/testing.py" not in names
    assert len(names) == len(set(names))


def test_the_build_returns_what_it_wrote(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "rotation.zip"  # the folder is created
    names = build_lambda_zip(path)
    with zipfile.ZipFile(path) as archive:
        assert archive.namelist() == names


def test_two_builds_are_byte_identical(lambda_zip: Path, tmp_path: Path) -> None:
    again = tmp_path / "again.zip"
    build_lambda_zip(again)
    assert again.read_bytes() == lambda_zip.read_bytes()
    with zipfile.ZipFile(again) as archive:
        for info in archive.infolist():
            assert info.date_time == (1980, 1, 1, 0, 0, 0)
            assert info.external_attr >> 16 == 0o644


_ISOLATED_IMPORT = textwrap.dedent(
    """
    import importlib.abc
    import json
    import os
    import sys

    zip_path = sys.argv[1]
    # The runtime has the standard library and boto3; this package comes from the zip only.
    sys.path = [zip_path] + [
        entry for entry in sys.path
        if not os.path.exists(os.path.join(entry or ".", "secret_keyring"))
    ]

    class Forbid(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in {"django", "hvac", "requests"}:
                raise ImportError(f"the rotation Lambda must not import {name}")
            return None

    sys.meta_path.insert(0, Forbid())

    from secret_keyring.errors import RotationError
    from secret_keyring.rotation.aws import lambda_handler
    import secret_keyring

    try:
        lambda_handler({}, None)
    except RotationError as exc:
        outcome = str(exc)
    print(json.dumps({
        "package": secret_keyring.__file__,
        "handler": lambda_handler.__module__,
        "outcome": outcome,
        "django": "django" in sys.modules,
        "hvac": "hvac" in sys.modules,
        "boto3": "boto3" in sys.modules,
    }))
    """
)


def test_the_handler_imports_from_the_zip_alone(lambda_zip: Path) -> None:
    # -I: no PYTHONPATH, no user site, no current folder; site-packages (boto3) stays.
    result = subprocess.run(
        [sys.executable, "-I", "-c", _ISOLATED_IMPORT, str(lambda_zip)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout)
    assert seen["package"].startswith(str(lambda_zip) + "/")
    assert seen["handler"] == "secret_keyring.rotation.aws"
    assert "missing SecretId, ClientRequestToken, Step" in seen["outcome"]
    assert not seen["django"]
    assert not seen["hvac"]


def test_cli_lambda_zip(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "out.zip"
    assert main(["lambda-zip", str(path)]) == 0
    out = capsys.readouterr().out
    assert HANDLER in out
    assert str(path) in out
    assert zipfile.is_zipfile(path)


def test_cli_lambda_zip_unwritable(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert main(["lambda-zip", str(blocker / "out.zip")]) == 1
    assert "lambda-zip" in capsys.readouterr().err


def test_the_command_line_docs_quote_the_real_file_count(lambda_zip: Path) -> None:
    """docs/cli.md shows the command's output; its file count is the zip's."""
    docs = (Path(__file__).resolve().parents[2] / "docs" / "cli.md").read_text("utf-8")
    quoted = re.search(r"wrote build/rotation\.zip: (\d+) files; handler (\S+)", docs)
    assert quoted is not None, "docs/cli.md no longer shows the lambda-zip output"
    with zipfile.ZipFile(lambda_zip) as archive:
        count = len(archive.namelist())
    assert (int(quoted.group(1)), quoted.group(2)) == (count, HANDLER)


# -- the Vault backend -------------------------------------------------------------------------

VAULT_BUNDLE = {"hvac", "requests", "urllib3", "certifi", "idna", "charset-normalizer"}


@pytest.fixture(scope="module")
def vault_zip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("lambda") / "vault-rotation.zip"
    build_lambda_zip(path, backend="vault")
    return path


def test_vault_bundle_is_hvac_and_its_requirements() -> None:
    bundled = {dist.metadata["Name"].lower() for dist in bundled_distributions("vault")}
    assert bundled == VAULT_BUNDLE
    assert bundled_distributions("aws") == []  # the runtime provides boto3


def test_vault_zip_contents(vault_zip: Path) -> None:
    with zipfile.ZipFile(vault_zip) as archive:
        names = archive.namelist()
        assert archive.testzip() is None
    tops = {name.split("/")[0] for name in names}
    packages = {top for top in tops if not top.endswith(".dist-info")}
    assert packages == {"secret_keyring", "hvac", "requests", "urllib3", "certifi", "idna",
                        "charset_normalizer"}  # fmt: skip
    assert HANDLERS["vault"].rsplit(".", 1)[0].replace(".", "/") + ".py" in names
    assert "certifi/cacert.pem" in names  # requests verifies TLS with it
    # Pure Python: the zip runs on either Lambda architecture whoever built it.
    assert not [n for n in names if n.endswith((".so", ".pyd", ".pyc"))]
    assert not [n for n in names if "__pycache__" in n or n.startswith("secret_keyring/django/")]
    # Licences travel with the code; the installer's records of this machine do not.
    assert any(n.startswith("requests-") and "LICENSE" in n for n in names)
    assert not [n for n in names if n.endswith(("/RECORD", "/INSTALLER", "/direct_url.json"))]
    assert names == sorted(names)
    assert len(names) == len(set(names))


def test_vault_zip_is_reproducible(vault_zip: Path, tmp_path: Path) -> None:
    again = tmp_path / "again.zip"
    build_lambda_zip(again, backend="vault")
    assert again.read_bytes() == vault_zip.read_bytes()


def test_unknown_backend(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="unknown Lambda backend 'gcp'"):
        build_lambda_zip(tmp_path / "x.zip", backend="gcp")
    assert not (tmp_path / "x.zip").exists()


def test_a_missing_sdk_names_the_extra(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    real = metadata.distribution

    def without_hvac(name: str) -> metadata.Distribution:
        if name == "hvac":
            raise metadata.PackageNotFoundError(name)
        return real(name)

    monkeypatch.setattr(metadata, "distribution", without_hvac)
    with pytest.raises(ImportError, match=r"django-secret-keyring\[vault\]"):
        build_lambda_zip(tmp_path / "x.zip", backend="vault")


def test_cli_lambda_zip_vault(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "vault.zip"
    assert main(["lambda-zip", str(path), "--backend", "vault"]) == 0
    assert HANDLERS["vault"] in capsys.readouterr().out
    with zipfile.ZipFile(path) as archive:
        assert "hvac/__init__.py" in archive.namelist()


def test_cli_lambda_zip_unknown_backend(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["lambda-zip", "x.zip", "--backend", "gcp"])
    assert exit_.value.code == 2
    assert "invalid choice: 'gcp'" in capsys.readouterr().err
