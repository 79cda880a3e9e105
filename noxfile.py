"""The supported Python x Django matrix.

``make matrix`` (``nox``) runs every cell; ``make compat`` runs the one ``make test`` keeps
(``nox -s "tests(python='3.10', django='4.2')"``). Each cell installs the project as a user
would (``.[all]``, not editable) with one Django series and the ``test`` dependency group, then
runs the unit, Django and integration tests; the integration fixtures start their own OpenBao
and moto servers. Arguments after ``--`` replace the default test paths.
"""

from __future__ import annotations

import os
import shutil
import subprocess

import nox

PYTHONS = ("3.10", "3.11", "3.12", "3.13")

#: Each supported Django series and the oldest Python it supports.
DJANGOS = {"4.2": "3.10", "5.2": "3.10", "6.0": "3.12", "6.1": "3.12"}

TEST_PATHS = ("tests/unit", "tests/django", "tests/integration")


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


CELLS = [
    (python, django)
    for python in PYTHONS
    for django, oldest_python in DJANGOS.items()
    if _version(python) >= _version(oldest_python)
]


def _activate_pyenv_versions() -> None:
    """Let pyenv's shims answer for every Python in the matrix.

    A pyenv shim such as ``python3.10`` runs only the *active* versions (``pyenv global``,
    ``pyenv local``, ``PYENV_VERSION``), so an installed 3.10 stays invisible to nox while the
    global version is 3.11. Append the newest installed patch release of each matrix Python to
    the active list, in this process only; versions pyenv does not have are left for nox to
    report as missing.
    """
    pyenv = shutil.which("pyenv")
    if pyenv is None:
        return

    def ask(*args: str) -> str:
        done = subprocess.run([pyenv, *args], capture_output=True, text=True, check=False)
        return done.stdout.strip() if done.returncode == 0 else ""

    active = [name for name in ask("version-name").split(":") if name]
    for python in PYTHONS:
        latest = ask("latest", python)
        if latest and latest not in active:
            active.append(latest)
    if active:
        os.environ["PYENV_VERSION"] = ":".join(active)


_activate_pyenv_versions()


def interpreter_available(python: str) -> bool:
    """Whether ``python{version}`` runs here, as nox will look for it (PATH, pyenv shims)."""
    found = shutil.which(f"python{python}")
    if found is None:
        return False
    done = subprocess.run([found, "--version"], capture_output=True, check=False)
    return done.returncode == 0


nox.options.sessions = ["tests"]
# A cell whose interpreter is missing is a failure, not a silent skip.
nox.options.error_on_missing_interpreters = True


@nox.session
@nox.parametrize(("python", "django"), CELLS)
def tests(session: nox.Session, django: str) -> None:
    """Run the test suite against the installed package with one Django series."""
    session.install(
        ".[all]",
        f"Django~={django}.0",
        *nox.project.dependency_groups(nox.project.load_toml("pyproject.toml"), "test"),
    )
    session.run("python", "-m", "pytest", "-q", *(session.posargs or TEST_PATHS))
