"""Fixtures of the reliability suite: a fault-injecting proxy, a clean Vault environment, and a
place to record the measured figures (printed in the terminal summary and used by the docs)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from secret_keyring.django import live
from tests.plugins import summary
from tests.reliability.proxy import FaultProxy


def record(name: str, value: str) -> None:
    """Keep a measured figure for the terminal summary (the docs quote these)."""
    summary.record("reliability measurements", name, f"{name}: {value}")


@pytest.fixture
def vault_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> pytest.MonkeyPatch:
    """No VAULT_*/BAO_* variables from the machine, and an empty HOME (no ~/.vault-token)."""
    for name in list(os.environ):
        if name.startswith(("VAULT_", "BAO_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(tmp_path))
    return monkeypatch


@pytest.fixture
def keep_live() -> Iterator[None]:
    """secret_keys() makes its cache the process's live keyring; put the test project's back."""
    original = live.active()
    try:
        yield
    finally:
        live._active = original


@pytest.fixture
def make_proxy() -> Iterator[Any]:
    """``make_proxy(upstream_port, mode=..., delay_seconds=...)``; closed after the test."""
    proxies: list[FaultProxy] = []

    def factory(upstream_port: int, **options: Any) -> FaultProxy:
        proxy = FaultProxy(upstream_port, **options)
        proxies.append(proxy)
        return proxy

    try:
        yield factory
    finally:
        for proxy in proxies:
            proxy.close()
