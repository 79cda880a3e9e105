"""The distributions as a package index's users get them.

The sdist and the wheel are built once per session the way ``make dist`` builds them (an isolated
build of the sdist, then of the wheel from that sdist), both archives are inspected and passed
through ``twine check --strict``, and the wheel (never the source tree) is installed into a fresh
venv for each extra alone: none, ``[vault]``, ``[aws]``.
"""

from __future__ import annotations

import ast
import email.parser
import json
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import Message
from pathlib import Path, PurePosixPath

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "src" / "secret_keyring"
DISTRIBUTION = "django-secret-keyring"
SDKS = ("boto3", "botocore", "hvac", "requests", "django")
#: Each extra the smoke test installs alone ("" is the bare install) and the URL of the source it
#: enables, for checking that the command line names the extra when it is missing.
EXTRAS = {
    "": None,
    "vault": "vault://secret/myapp/django",
    "aws": "aws-secretsmanager://prod/myapp/django?region=eu-west-1",
}
#: What no archive may carry: caches, local state, virtualenvs, Terraform state.
JUNK_PARTS = {"__pycache__", ".venv", ".nox", ".terraform", ".secret-keyring", ".pytest_cache"}
JUNK_SUFFIXES = (".pyc", ".pyo", ".tfstate", ".tfstate.backup")
BUILD_TIMEOUT = 300.0
INSTALL_TIMEOUT = 600.0

# Runs inside each smoke venv: imports the package, records which SDKs that pulled in, then
# constructs both SDK-backed providers.
PROBE = """
import json, sys
import secret_keyring, secret_keyring.cli, secret_keyring.errors, secret_keyring.providers
imported = sorted({name.partition(".")[0] for name in sys.modules} & set(sys.argv[1:]))
from secret_keyring.providers import AwsSecretsManagerProvider, VaultProvider

def construct(factory):
    try:
        factory()
    except ImportError as exc:
        return "ImportError: " + str(exc)
    except Exception as exc:
        return type(exc).__name__
    return "constructed"

print(json.dumps({
    "file": secret_keyring.__file__,
    "imported": imported,
    "vault": construct(lambda: VaultProvider("secret", "myapp/django", environ={})),
    "aws": construct(lambda: AwsSecretsManagerProvider("prod/myapp", region="eu-west-1")),
}))
"""


def _run(
    args: Sequence[str | Path],
    *,
    timeout: float = 120.0,
    check: bool = True,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [str(arg) for arg in args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        cwd=cwd,
        env=env,
    )
    if check and done.returncode != 0:
        pytest.fail(
            f"{' '.join(map(str, args))} exited {done.returncode}\n"
            f"--- stdout\n{done.stdout}\n--- stderr\n{done.stderr}",
            pytrace=False,
        )
    return done


def _matrix() -> tuple[list[str], list[str]]:
    """The Pythons and Django series the noxfile tests, read without importing nox."""
    values: dict[str, object] = {}
    for node in ast.parse((ROOT / "noxfile.py").read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
            if isinstance(target, ast.Name) and target.id in {"PYTHONS", "DJANGOS"}:
                values[target.id] = ast.literal_eval(node.value)
    pythons, djangos = values["PYTHONS"], values["DJANGOS"]
    assert isinstance(pythons, tuple)
    assert isinstance(djangos, dict)
    return [str(python) for python in pythons], [str(django) for django in djangos]


def _is_junk(name: str) -> bool:
    path = PurePosixPath(name)
    return bool(JUNK_PARTS.intersection(path.parts)) or name.endswith(JUNK_SUFFIXES)


@dataclass(frozen=True)
class Dists:
    sdist: Path
    wheel: Path

    def wheel_names(self) -> set[str]:
        with zipfile.ZipFile(self.wheel) as archive:
            return set(archive.namelist())

    def wheel_text(self, name: str) -> str:
        with zipfile.ZipFile(self.wheel) as archive:
            return archive.read(name).decode("utf-8")

    def dist_info(self) -> str:
        (name,) = {n.split("/")[0] for n in self.wheel_names() if n.endswith(".dist-info/METADATA")}
        return name

    def metadata(self) -> Message:
        return email.parser.Parser().parsestr(self.wheel_text(f"{self.dist_info()}/METADATA"))

    def sdist_names(self) -> set[str]:
        """Member paths relative to the sdist's top folder (files only)."""
        with tarfile.open(self.sdist) as archive:
            return {
                member.name.split("/", 1)[1]
                for member in archive.getmembers()
                if member.isfile() and "/" in member.name
            }


@pytest.fixture(scope="session")
def dists(tmp_path_factory: pytest.TempPathFactory) -> Dists:
    out = tmp_path_factory.mktemp("dist")
    _run([sys.executable, "-m", "build", "--outdir", out, ROOT], timeout=BUILD_TIMEOUT)
    (sdist,) = out.glob("*.tar.gz")
    (wheel,) = out.glob("*.whl")
    return Dists(sdist=sdist, wheel=wheel)


# ----------------------------------------------------------------------------- archives


def test_twine_check_strict_passes(dists: Dists) -> None:
    _run([sys.executable, "-m", "twine", "check", "--strict", dists.sdist, dists.wheel])


def test_wheel_holds_the_package_and_nothing_else(dists: Dists) -> None:
    names = dists.wheel_names()
    dist_info = dists.dist_info()
    assert {name.split("/")[0] for name in names} == {"secret_keyring", dist_info}
    assert not [name for name in names if _is_junk(name)]
    expected = {
        "secret_keyring/" + path.relative_to(PACKAGE).as_posix()
        for path in PACKAGE.rglob("*")
        if path.is_file() and not _is_junk(path.relative_to(ROOT).as_posix())
    }
    assert expected <= names, f"missing from the wheel: {sorted(expected - names)}"
    assert "secret_keyring/py.typed" in names
    commands = {n for n in names if n.startswith("secret_keyring/django/management/commands/")}
    assert {
        "secret_keyring/django/management/commands/__init__.py",
        "secret_keyring/django/management/commands/secret_key_status.py",
        "secret_keyring/django/management/commands/rotate_secret_key.py",
    } <= commands


def test_wheel_metadata(dists: Dists) -> None:
    meta = dists.metadata()
    assert meta["Name"] == DISTRIBUTION
    assert meta["License-Expression"] == "Apache-2.0"
    assert meta.get_all("License-File") == ["LICENSE"]
    license_text = dists.wheel_text(f"{dists.dist_info()}/licenses/LICENSE")
    assert license_text == (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert "Apache License" in license_text
    assert "Version 2.0" in license_text
    # The core installs nothing: every dependency belongs to an extra.
    requires = meta.get_all("Requires-Dist") or []
    assert requires
    assert all("extra ==" in requirement for requirement in requires), requires
    assert set(meta.get_all("Provides-Extra") or []) >= {"vault", "aws", "django", "all"}
    entry_points = dists.wheel_text(f"{dists.dist_info()}/entry_points.txt")
    assert "secret-keyring = secret_keyring.cli:main" in entry_points
    assert meta["Description-Content-Type"] == "text/markdown"
    description = meta.get_payload()
    assert isinstance(description, str)
    assert description.strip(), "README.md is the long description and must not be empty"


def test_classifiers_and_requires_python_follow_the_tested_matrix(dists: Dists) -> None:
    pythons, djangos = _matrix()
    meta = dists.metadata()
    classifiers = meta.get_all("Classifier") or []

    def versions(prefix: str) -> list[str]:
        return [c.removeprefix(prefix) for c in classifiers if c.startswith(prefix)]

    assert [v for v in versions("Programming Language :: Python :: ") if "." in v] == pythons
    assert versions("Framework :: Django :: ") == djangos
    assert meta["Requires-Python"] == f">={pythons[0]}"
    # PEP 639: the license expression replaces license classifiers.
    assert not versions("License :: ")
    assert "Typing :: Typed" in classifiers


def test_sdist_holds_sources_tests_docs_and_terraform(dists: Dists) -> None:
    names = dists.sdist_names()
    assert not [name for name in names if _is_junk(name)]
    for required in (
        "PKG-INFO",
        "pyproject.toml",
        "LICENSE",
        "README.md",
        "CHANGELOG.md",
        "Makefile",
        "noxfile.py",
        "src/secret_keyring/py.typed",
        "tests/conftest.py",
        "tests/packaging/test_dist.py",
    ):
        assert required in names, required
    for folder in ("src", "tests", "docs", "terraform", "devservers"):
        assert any(name.startswith(f"{folder}/") for name in names), f"{folder}/ is missing"
    if shutil.which("git") and (ROOT / ".git").exists():
        folders = ("src/", "tests/", "docs/", "terraform/", "examples/", "devservers/")
        tracked = _run(["git", "-C", ROOT, "ls-files", "--", *folders]).stdout.splitlines()
        present = {name for name in tracked if (ROOT / name).is_file()}
        assert present <= names, f"tracked but not in the sdist: {sorted(present - names)}"


# ----------------------------------------------------------------------------- smoke venvs


@dataclass(frozen=True)
class Installed:
    extra: str
    root: Path
    env: dict[str, str]

    def bin(self, name: str) -> Path:
        return self.root / ("Scripts" if os.name == "nt" else "bin") / name

    def run(self, *args: str | Path, check: bool = True) -> subprocess.CompletedProcess[str]:
        # Run from the venv, so neither the work tree nor the suite's sys.path leaks in.
        return _run(args, cwd=self.root, env=self.env, check=check)


def _isolated_env() -> dict[str, str]:
    drop = {"PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "VIRTUAL_ENV", "DJANGO_SETTINGS_MODULE"}
    env = {name: value for name, value in os.environ.items() if name not in drop}
    env["PYTHONNOUSERSITE"] = "1"
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


@pytest.fixture(scope="session", params=list(EXTRAS), ids=lambda extra: extra or "no-extra")
def installed(
    request: pytest.FixtureRequest, dists: Dists, tmp_path_factory: pytest.TempPathFactory
) -> Installed:
    """A fresh venv with the built wheel and one extra (or none), shared by that extra's tests."""
    extra: str = request.param
    root = tmp_path_factory.mktemp(f"venv-{extra or 'bare'}")
    env = _isolated_env()
    _run([sys.executable, "-m", "venv", "--clear", root], env=env)
    venv = Installed(extra=extra, root=root, env=env)
    requirement = f"{DISTRIBUTION}[{extra}]" if extra else DISTRIBUTION
    venv.run(
        venv.bin("python"),
        "-m",
        "pip",
        "install",
        "--quiet",
        "--no-input",
        f"{requirement} @ {dists.wheel.as_uri()}",
    )
    return venv


@pytest.fixture(scope="session")
def probe(installed: Installed) -> dict[str, object]:
    done = installed.run(installed.bin("python"), "-c", PROBE, *SDKS)
    result: dict[str, object] = json.loads(done.stdout)
    return result


def test_the_wheel_is_what_got_imported(installed: Installed, probe: dict[str, object]) -> None:
    imported_from = Path(str(probe["file"])).resolve()
    assert imported_from.is_relative_to(installed.root.resolve())
    assert not imported_from.is_relative_to(ROOT)


def test_import_pulls_in_no_sdk(probe: dict[str, object]) -> None:
    assert probe["imported"] == []


@pytest.mark.parametrize("provider", ["vault", "aws"])
def test_a_missing_extra_is_named(
    installed: Installed, probe: dict[str, object], provider: str
) -> None:
    outcome = str(probe[provider])
    if installed.extra == provider:
        assert not outcome.startswith("ImportError"), outcome
    else:
        assert outcome.startswith("ImportError"), outcome
        assert f"pip install '{DISTRIBUTION}[{provider}]'" in outcome


def test_console_script_runs(installed: Installed) -> None:
    commands: list[list[str | Path]] = [
        [installed.bin("secret-keyring"), "--help"],
        [installed.bin("python"), "-m", "secret_keyring", "--help"],
    ]
    for command in commands:
        done = installed.run(*command)
        assert "secret-keyring" in done.stdout
        assert "status" in done.stdout


def test_the_command_line_names_a_missing_extra(installed: Installed) -> None:
    for extra, url in EXTRAS.items():
        if not url or extra == installed.extra:
            continue
        done = installed.run(installed.bin("secret-keyring"), "status", url, check=False)
        assert done.returncode == 1, done.stderr
        assert f"{DISTRIBUTION}[{extra}]" in done.stderr


def test_the_django_integration_names_its_extra(installed: Installed) -> None:
    # None of the smoke-test venvs has Django: the settings helper must say how to get it.
    done = installed.run(installed.bin("python"), "-c", "import secret_keyring.django", check=False)
    assert done.returncode == 1
    assert f"pip install '{DISTRIBUTION}[django]'" in done.stderr
