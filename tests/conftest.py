"""Suite-wide fixtures. Server fixtures live in tests/plugins/ so every test folder shares them."""

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest_plugins = [
    "tests.plugins.leakguard",
    "tests.plugins.openbao",
    "tests.plugins.moto_server",
    "tests.plugins.summary",
]


@pytest.fixture(autouse=True)
def _forget_failed_startups() -> Iterator[None]:
    """``secret_keys()`` remembers a start-up that ran out of time, for the life of the process;
    the test process is many processes' worth of start-ups."""
    yield
    helper = sys.modules.get("secret_keyring.django")
    if helper is not None:
        helper._failed_startups.clear()


@pytest.fixture
def vault_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """No ``VAULT_*``, ``BAO_*`` or ``SECRET_KEYRING_*`` variables from the machine and an empty
    HOME (no ``~/.vault-token``): a Vault source sees only what the test sets. There is no default
    address, so a test that builds a provider sets ``VAULT_ADDR`` or passes ``?addr=``."""
    for name in list(os.environ):
        if name.startswith(("VAULT_", "BAO_", "SECRET_KEYRING_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(tmp_path))
    return monkeypatch


@pytest.fixture
def keep_live() -> Iterator[None]:
    """``secret_keys()`` makes its cache the process's live keyring; put the one that was active
    before the test back, and the settings it had applied."""
    from secret_keyring.django import live

    original = live.active()
    applied = original.applied if original is not None else None
    try:
        yield
    finally:
        live._active = original
        if original is not None and applied is not None:
            live.apply_to_settings(applied)
            original.applied = applied
