"""The fork registry resets every live object in a child, whatever one of them does."""

from __future__ import annotations

import threading
import weakref

import pytest

from secret_keyring import _fork
from secret_keyring.errors import ConfigurationError
from secret_keyring.providers.aws import AwsSecretsManagerProvider
from secret_keyring.providers.vault import VaultProvider


@pytest.fixture(autouse=True)
def registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """A registry of this test's objects only (the suite's live caches stay out of it)."""
    monkeypatch.setattr(_fork, "_objects", weakref.WeakSet())


class _Lockholder:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.lock.acquire()  # held by a "parent thread" at fork time
        _fork.register(self)

    def _after_fork(self) -> None:
        self.lock = threading.Lock()


class _Broken:
    def __init__(self) -> None:
        _fork.register(self)

    def _after_fork(self) -> None:
        raise RuntimeError("this object cannot reset itself")


def test_one_failing_object_does_not_stop_the_others_and_its_error_is_raised() -> None:
    """WeakSet order is arbitrary: before, an object that raised first left every object after
    it un-reset (in the compat suite, a live cache's lock held in a forked child)."""
    broken = [_Broken() for _ in range(5)]
    holders = [_Lockholder() for _ in range(5)]
    with pytest.raises(RuntimeError, match="cannot reset itself"):
        _fork.run_after_fork()
    assert all(holder.lock.acquire(blocking=False) for holder in holders)
    assert broken  # alive until here


@pytest.mark.parametrize(
    "build",
    [
        lambda: VaultProvider("secret", "app", kv_version=3, environ={}),
        lambda: AwsSecretsManagerProvider("", region="us-east-1"),
    ],
    ids=["vault", "aws"],
)
def test_a_provider_whose_construction_raised_resets_quietly(build: object) -> None:
    """A provider registers itself before its own checks run; if one of them raises and a
    traceback keeps the half-built object alive, a fork must still go through."""
    with pytest.raises(ConfigurationError) as caught:
        build()  # type: ignore[operator]
    half_built = caught.value.__traceback__
    holder = _Lockholder()
    _fork.run_after_fork()
    assert holder.lock.acquire(blocking=False)
    del half_built
