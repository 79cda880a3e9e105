"""pytest plugins loaded by tests/conftest.py: the leak guard and the server fixtures."""

from __future__ import annotations

from typing import Protocol, TypeVar

import pytest

from devservers.processes import ServerStartError


class _Startable(Protocol):
    def start(self) -> _Startable: ...


S = TypeVar("S", bound=_Startable)


def started(server: S) -> S:
    """``server.start()``, reporting a server that does not come up as a plain test failure."""
    try:
        server.start()
    except ServerStartError as exc:
        pytest.fail(str(exc), pytrace=False)
    return server
