"""Fixtures of the unit tests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture
def no_ambient_aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No ambient AWS configuration (variables, config files, instance metadata); fake keys so
    clients can be built. Nothing is sent."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture
def vault_addr(monkeypatch: pytest.MonkeyPatch) -> str:
    """A ``VAULT_ADDR``, so that Vault providers can be built (there is no default address);
    nothing listens there and these tests send nothing."""
    address = "http://127.0.0.1:8200"
    monkeypatch.setenv("VAULT_ADDR", address)
    return address
