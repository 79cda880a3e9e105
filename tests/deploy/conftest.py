"""Fixtures for the deployment-shape tests: a keyring file to rotate and a site to start."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from devservers.processes import wait_until
from secret_keyring.keygen import new_keyring, rotate
from secret_keyring.keyring import Keyring, fingerprint
from secret_keyring.payload import keyring_to_json, parse_payload

REPO = Path(__file__).resolve().parents[2]

#: Generous for a loaded CI machine; the readiness checks return as soon as the server answers.
START_TIMEOUT = 60.0
#: How long a test waits for a rotation to reach a running process (its TTL is a fraction of it).
REFRESH_TIMEOUT = 15.0
#: The TTL of the sites the tests start: short, so a rotation arrives well inside the deadline.
SITE_TTL = 0.2


@dataclass
class KeyringFile:
    """A ``file://`` source a test rotates the way ``secret-keyring rotate`` does: atomically."""

    path: Path

    @property
    def url(self) -> str:
        return f"file://{self.path}"

    def stored(self) -> Keyring:
        return parse_payload(self.path.read_bytes()).to_keyring()

    def write(self, keyring: Keyring) -> None:
        temp = self.path.with_name(f".{self.path.name}.tmp")
        temp.write_text(keyring_to_json(keyring))
        temp.chmod(0o600)
        temp.replace(self.path)

    def rotate(self) -> Keyring:
        new = rotate(self.stored())
        self.write(new)
        return new


@pytest.fixture
def keyring_file(tmp_path: Path) -> KeyringFile:
    source = KeyringFile(tmp_path / "keyring.json")
    source.write(new_keyring())
    return source


def site_environ(source: KeyringFile, **extra: str) -> dict[str, str]:
    """The environment of a process of the deployment-shape site reading ``source``."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "SECRET_KEYRING_", "SKR_"))
    }
    env.update(
        DJANGO_SETTINGS_MODULE="tests.deploy.site.settings",
        DJANGO_SECRET_KEY_SOURCE=source.url,
        SKR_TTL=str(SITE_TTL),
        PYTHONPATH=str(REPO),
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


def python_module(module: str, *args: str) -> list[str]:
    """Run a module of this virtualenv's Python (celery, uvicorn, django)."""
    return [sys.executable, "-m", module, *args]


def celery_worker_command() -> list[str]:
    """A prefork Celery worker of the deployment-shape site, one process, no cluster chatter."""
    return python_module(
        "celery",
        "-A",
        "tests.deploy.site.tasks",
        "worker",
        "--pool=prefork",
        "--concurrency=1",
        "--without-heartbeat",
        "--without-gossip",
        "--without-mingle",
        "--loglevel=INFO",
    )


def signed_with(keyring: Keyring, answer: dict[str, str]) -> bool:
    """Whether a ``/sign/`` or task answer was signed with ``keyring.current`` itself."""
    from django.core import signing

    if answer["current"] != fingerprint(keyring.current):
        return False
    signing.loads(answer["signed"], key=keyring.current, fallback_keys=[])
    return True


def until_signed_with(keyring: Keyring, ask: Callable[[], dict[str, str]]) -> dict[str, str]:
    """Ask a running process to sign until it signs with ``keyring.current`` (or time out).

    The first answer past the TTL starts the background refresh; a later one carries the keys.
    """

    def rotated() -> dict[str, str] | None:
        answer = ask()
        return answer if signed_with(keyring, answer) else None

    answer: dict[str, str] = wait_until(
        rotated, REFRESH_TIMEOUT, f"a signature by {fingerprint(keyring.current)}"
    )
    return answer


# The Django test project's fixture that makes any provider the running site's keyring source.
from tests.django.conftest import live_site  # noqa: E402, F401
