"""refresh_settings() and the Celery hook: the per-request check, for processes without requests."""

from __future__ import annotations

import sys
import weakref
from typing import Any

import pytest
from django.conf import settings

from secret_keyring.django import live, refresh_settings
from secret_keyring.django.apps import _on_task_prerun, connect_celery
from secret_keyring.django.signals import keys_rotated
from secret_keyring.keyring import fingerprint
from tests.django.conftest import LiveSite


def test_refresh_settings_applies_a_rotation_without_any_request(site: LiveSite) -> None:
    before = settings.SECRET_KEY
    new = site.rotate()
    site.clock.advance(site.cache.ttl - 1)
    refresh_settings()
    assert before == settings.SECRET_KEY  # within the TTL: one clock read, no backend read
    site.clock.advance(1.001)
    refresh_settings()
    assert new.current == settings.SECRET_KEY
    assert set(new.fallbacks) < set(settings.SECRET_KEY_FALLBACKS)  # the bridge, settling
    site.clock.advance(live._SETTLE_SECONDS)
    refresh_settings()  # a later call, as a loop without requests makes it
    assert new.fallbacks == settings.SECRET_KEY_FALLBACKS


def test_refresh_settings_without_secret_keys_does_nothing(site: LiveSite, keep_live: None) -> None:
    """With a rotation due, a process whose SECRET_KEY does not come from secret_keys() keeps
    its settings: no read, no update, no keys_rotated."""
    before = _applied()
    site.rotate()
    site.pass_ttl()
    live.deactivate()
    sent: list[object] = []

    def receiver(**kwargs: object) -> None:
        sent.append(kwargs)

    keys_rotated.connect(receiver)
    try:
        refresh_settings()
    finally:
        keys_rotated.disconnect(receiver)
    assert _applied() == before
    assert sent == []
    assert live.active() is None


def test_task_prerun_is_connected_when_celery_is_importable() -> None:
    from celery.signals import task_prerun

    # The app's ready() ran when the test project was set up.
    assert _receivers(task_prerun).count(_on_task_prerun) == 1
    assert connect_celery()  # idempotent: the dispatch uid keeps one connection
    assert _receivers(task_prerun).count(_on_task_prerun) == 1


def test_task_prerun_runs_the_check(site: LiveSite) -> None:
    from celery.signals import task_prerun

    new = site.rotate()
    site.pass_ttl()
    task_prerun.send(sender=None, task_id="t1", task=None, args=(), kwargs={})
    assert new.current == settings.SECRET_KEY


def test_without_celery_nothing_is_connected(monkeypatch: pytest.MonkeyPatch) -> None:
    # A None entry in sys.modules makes the import fail as it does where Celery is not installed.
    monkeypatch.setitem(sys.modules, "celery.signals", None)
    assert connect_celery() is False


def _applied() -> list[str]:
    """The fingerprints of the keys in the settings, current first (no key in a failure)."""
    return [fingerprint(key) for key in [settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS]]


def _receivers(signal: Any) -> list[object]:
    """The receivers connected to a Celery signal, weak references resolved."""
    return [r() if isinstance(r, weakref.ref) else r for _, r in signal.receivers]
