"""secret_keys(): options, errors, providers."""

from __future__ import annotations

import gc
import inspect
import logging
import threading
import weakref
from pathlib import Path

import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from devservers.processes import wait_until
from secret_keyring.django import live, refresh_settings, secret_keys
from secret_keyring.errors import AccessDenied
from secret_keyring.testing import StaticProvider
from tests.plugins.leakguard import make_key


@pytest.fixture(autouse=True)
def _keep_active() -> object:
    original = live.active()
    yield
    live._active = original


def test_signature_is_pinned() -> None:
    params = inspect.signature(secret_keys).parameters
    assert list(params) == [
        "source",
        "ttl",
        "jitter",
        "max_stale",
        "max_fallbacks",
        "startup_timeout",
        "on_stale",
    ]
    assert all(p.kind is p.KEYWORD_ONLY for name, p in params.items() if name != "source")


def test_unknown_option_is_type_error() -> None:
    with pytest.raises(TypeError):
        secret_keys("dev://", colour="red")  # type: ignore[call-arg]


def test_accepts_a_provider() -> None:
    provider = StaticProvider()
    key, fallbacks = secret_keys(provider)
    assert key == provider.keyring.current
    assert fallbacks == provider.keyring.fallbacks


def test_errors_become_improperly_configured_naming_source(tmp_path: Path) -> None:
    with pytest.raises(ImproperlyConfigured, match=f"file://{tmp_path}/nope") as info:
        secret_keys(f"file://{tmp_path}/nope")
    assert "does not exist" in str(info.value)
    with pytest.raises(ImproperlyConfigured, match="unknown scheme"):
        secret_keys("ftp://x")
    provider = StaticProvider()
    provider.fail_with(AccessDenied("denied by policy", source="static://test"))
    with pytest.raises(ImproperlyConfigured, match="denied by policy"):
        secret_keys(provider)


def test_bad_max_fallbacks() -> None:
    with pytest.raises(ImproperlyConfigured, match="max_fallbacks"):
        secret_keys("dev://", max_fallbacks=-1)


def test_bad_ttl_is_improperly_configured() -> None:
    with pytest.raises(ImproperlyConfigured, match="ttl"):
        secret_keys(StaticProvider(), ttl=0)


def test_fail_policy_with_max_stale_below_the_ttl_is_improperly_configured() -> None:
    """A keyring lives up to ttl on a healthy backend: a shorter max_stale with on_stale="fail"
    would fail requests while nothing is wrong."""
    with pytest.raises(ImproperlyConfigured, match="max_stale") as info:
        secret_keys(StaticProvider(), ttl=300, max_stale=60, on_stale="fail")
    assert "ttl" in str(info.value)


def test_env_source_round_trip(monkeypatch: pytest.MonkeyPatch) -> None:
    key = make_key()
    monkeypatch.setenv("SKR_K", key)
    assert secret_keys("env://SKR_K") == (key, [])


def _refresh_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("secret-keyring-")]


def test_called_twice_the_last_call_wins_with_one_refresher(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A ``prod.py`` that star-imports a ``base.py`` calls ``secret_keys()`` twice."""
    saved = live.active()
    assert saved is not None
    base = StaticProvider(source="static://base")
    prod = StaticProvider(source="static://prod")
    secret_keys(base, ttl=0.05, jitter=0.0)
    first = live.active()
    assert first is not None
    first_cache = weakref.ref(first.cache)
    del first
    with caplog.at_level(logging.INFO, logger="secret_keyring.django"):
        key, fallbacks = secret_keys(prod, ttl=0.05, jitter=0.0)
    assert "static://prod replaces static://base" in caplog.text
    assert (key, fallbacks) == (prod.keyring.current, prod.keyring.fallbacks)
    active = live.active()
    assert active is not None
    assert active.cache.provider is prod
    live.apply_to_settings(active.applied)  # what settings.py's assignment does
    try:
        # The earlier cache is garbage: nothing (no listener, no thread) keeps it alive.
        gc.collect()
        assert first_cache() is None
        base_fetches = base.fetches
        base.rotate()
        new = prod.rotate()

        def applied() -> bool:
            refresh_settings()
            return bool(settings.SECRET_KEY == new.current)

        wait_until(applied, 10.0, "the second source's rotation in settings")
        # The bridge: the final fallbacks follow a settle time later (test_live_settle.py).
        assert set(new.fallbacks) <= set(settings.SECRET_KEY_FALLBACKS)
        assert base.fetches == base_fetches  # the first call's source is never read again
        wait_until(lambda: not _refresh_threads(), 10.0, "the refresh thread to finish")
    finally:
        live.apply_to_settings(saved.applied)
