"""Fixtures of the reliability suite: a fault-injecting proxy, and a place to record the
measured figures (printed in the terminal summary and used by the docs). ``vault_env`` and
``keep_live`` are suite-wide, in tests/conftest.py."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.plugins import summary
from tests.reliability.proxy import FaultProxy


def record(name: str, value: str) -> None:
    """Keep a measured figure for the terminal summary (the docs quote these)."""
    summary.record("reliability measurements", name, f"{name}: {value}")


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
