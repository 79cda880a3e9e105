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

import secret_keyring.django as django_helper
from devservers.processes import wait_until
from secret_keyring.django import live, refresh_settings, secret_keys
from secret_keyring.errors import AccessDenied, SourceUnavailable
from secret_keyring.keygen import adopt_keyring, rotate
from secret_keyring.keyring import fingerprint
from secret_keyring.payload import keyring_to_json
from secret_keyring.testing import FakeClock, StaticProvider
from tests.plugins.leakguard import make_key, make_weak_key

pytestmark = pytest.mark.usefixtures("keep_live")


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
        "refresh_timeout",
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


def test_a_start_up_that_ran_out_of_time_is_not_retried_for_a_minute(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Django imports settings again after a failed import; the second ``secret_keys()`` for
    the same source must not wait another ``startup_timeout`` (see test_startup_faults). A host
    that retries the import later in the same process (mod_wsgi) gets a fresh attempt."""
    clock = FakeClock()
    monkeypatch.setattr(django_helper, "_clock", clock)
    provider = StaticProvider()
    provider.fail_with(SourceUnavailable("cannot connect", source=provider.source))
    with pytest.raises(ImproperlyConfigured, match="cannot connect"):
        secret_keys(provider, startup_timeout=0.05)
    tried = provider.fetches
    provider.fail_with(None)  # even a backend that answers now is not asked again at once
    with pytest.raises(ImproperlyConfigured, match="cannot connect") as info:
        secret_keys(provider, startup_timeout=0.05)
    assert "does not wait again" in str(info.value)
    assert provider.fetches == tried
    clock.advance(60)
    assert secret_keys(provider, startup_timeout=0.05)[0] == provider.keyring.current


def test_a_start_up_that_waited_for_nothing_is_not_remembered() -> None:
    """``startup_timeout=0`` makes one attempt and waits for nothing: nothing to save."""
    provider = StaticProvider()
    provider.fail_with(SourceUnavailable("cannot connect", source=provider.source))
    with pytest.raises(ImproperlyConfigured, match="cannot connect"):
        secret_keys(provider, startup_timeout=0)
    provider.fail_with(None)
    assert secret_keys(provider, startup_timeout=0)[0] == provider.keyring.current


def test_an_error_that_fails_at_once_is_not_remembered() -> None:
    provider = StaticProvider()
    provider.fail_with(AccessDenied("denied by policy", source=provider.source))
    with pytest.raises(ImproperlyConfigured, match="denied by policy"):
        secret_keys(provider)
    provider.fail_with(None)
    assert secret_keys(provider)[0] == provider.keyring.current


def test_bad_max_fallbacks() -> None:
    with pytest.raises(ImproperlyConfigured, match="max_fallbacks"):
        secret_keys("dev://", max_fallbacks=-1)


def test_bad_ttl_is_improperly_configured() -> None:
    with pytest.raises(ImproperlyConfigured, match="ttl"):
        secret_keys(StaticProvider(), ttl=0)


@pytest.mark.parametrize("value", [0, -1.0, float("nan"), "29", True])
def test_bad_refresh_timeout_is_improperly_configured(value: object) -> None:
    """Checked where it is owned (CachedKeyring); secret_keys() reports it like its other
    options: the source, the option, what it must be."""
    with pytest.raises(ImproperlyConfigured, match="static://test") as info:
        secret_keys(StaticProvider(), refresh_timeout=value)  # type: ignore[arg-type]
    assert "refresh_timeout must be" in str(info.value)


def test_refresh_timeout_reaches_the_cache() -> None:
    """A Lambda behind API Gateway (29 s per request) lowers it from settings; the default is
    the provider's own bound."""
    secret_keys(StaticProvider(), refresh_timeout=20)
    active = live.active()
    assert active is not None
    assert active.cache.refresh_timeout == 20.0
    secret_keys(StaticProvider())
    active = live.active()
    assert active is not None
    assert active.cache.refresh_timeout == 60.0


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


def test_an_adopted_weak_key_is_a_warning_at_start_up(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """While the keyring's ``adopted`` marker trusts a weak key, every process says so when it
    starts, not only where someone runs ``check --deploy``; a strong keyring says nothing."""
    weak = make_weak_key()
    path = tmp_path / "adopted.json"
    path.write_text(keyring_to_json(adopt_keyring(weak)))
    with caplog.at_level(logging.WARNING, logger="secret_keyring.django"):
        key, _ = secret_keys(f"file://{path}")
    assert key == weak
    (record,) = [r for r in caplog.records if r.levelno == logging.WARNING]
    message = record.getMessage()
    assert f"the adopted key {fingerprint(weak)} fails" in message
    assert "trusted as SECRET_KEY; rotate twice" in message

    caplog.clear()
    path.write_text(keyring_to_json(rotate(adopt_keyring(weak))))
    with caplog.at_level(logging.WARNING, logger="secret_keyring.django"):
        secret_keys(f"file://{path}")
    (record,) = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert "a SECRET_KEY_FALLBACKS entry; rotate once more" in record.getMessage()

    caplog.clear()
    path.write_text(keyring_to_json(rotate(rotate(adopt_keyring(weak)))))
    with caplog.at_level(logging.WARNING, logger="secret_keyring.django"):
        secret_keys(f"file://{path}")
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
