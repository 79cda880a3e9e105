"""A rotation applied while ``override_settings`` is active (a decorated test class, a ``with``
block, pytest-django's ``settings`` fixture) must still be in place when the override ends."""

from __future__ import annotations

import io
import json

import pytest
from django.conf import UserSettingsHolder, settings
from django.core.management import call_command
from django.test import Client, override_settings

from secret_keyring.django import checks
from secret_keyring.keyring import fingerprint
from tests.django.conftest import LiveSite
from tests.plugins.leakguard import make_key


def _reported_current() -> str:
    out = io.StringIO()
    call_command("secret_key_status", "--json", stdout=out)
    return str(json.loads(out.getvalue())["fingerprints"]["current"])


def test_a_rotation_applied_under_nested_overrides_outlives_them(site: LiveSite) -> None:
    """Two layers: the outer one (a test class's override) leaves the keys alone, the inner one
    pins a ``SECRET_KEY`` of its own. The update reaches the real settings beneath both, leaves
    the pinned key alone while its layer is active, and the final fallbacks, written while only
    the outer layer is active, reach the real settings too."""
    old = site.cache.get()
    pinned = make_key()
    with override_settings(DEBUG=True):
        with override_settings(SECRET_KEY=pinned):
            new = site.rotate()
            site.pass_ttl()
            assert Client().get("/whoami/").status_code == 200  # this request applies it
            assert settings.SECRET_KEY == pinned  # the layer that sets the key keeps it
            assert new.current in settings.SECRET_KEY_FALLBACKS  # not overridden: the bridge
        assert settings.SECRET_KEY == new.current
        site.settle()
        assert settings.SECRET_KEY_FALLBACKS == new.fallbacks
    assert settings.SECRET_KEY == new.current  # the real settings, the overrides gone
    assert settings.SECRET_KEY_FALLBACKS == new.fallbacks
    assert old.current in settings.SECRET_KEY_FALLBACKS
    assert checks.check_keys() == []  # no W001
    assert _reported_current() == fingerprint(settings.SECRET_KEY)


def test_the_override_layers_themselves_are_not_written(site: LiveSite) -> None:
    """The outer layer holds no key setting of its own after the update: it still reads
    through to the real settings, as Django's ``UserSettingsHolder`` does for what it does not
    override."""
    with override_settings(DEBUG=True):
        layer = settings._wrapped
        assert isinstance(layer, UserSettingsHolder)
        new = site.rotate()
        site.pass_ttl()
        site.live.check()
        site.settle()
        assert "SECRET_KEY" not in vars(layer)
        assert "SECRET_KEY_FALLBACKS" not in vars(layer)
        assert layer.default_settings.SECRET_KEY == new.current
        assert settings.SECRET_KEY == new.current


def test_a_rotation_applied_under_the_pytest_django_settings_fixture_outlives_it(
    site: LiveSite, request: pytest.FixtureRequest
) -> None:
    """pytest-django's ``settings`` fixture adds one override layer per assignment and removes
    them when the test ends (here: finalized by hand, to look at the settings afterwards)."""
    fixture = request.getfixturevalue("settings")
    fixture.DEBUG = True
    fixture.ALLOWED_HOSTS = ["testserver"]
    new = site.rotate()
    site.pass_ttl()
    site.live.check()
    site.settle()
    # What the fixture's teardown runs (finalize() in pytest-django releases before _finalize()).
    finalize = getattr(fixture, "_finalize", None) or fixture.finalize
    finalize()
    assert settings.SECRET_KEY == new.current
    assert settings.SECRET_KEY_FALLBACKS == new.fallbacks
    assert checks.check_keys() == []


def test_the_next_rotation_after_an_override_keeps_signatures_valid(site: LiveSite) -> None:
    """A value signed after the override ended, with the keys then in place, verifies after the
    next rotation (it would not if the process had kept signing with a stale key and the next
    update had then bridged from it)."""
    from django.core import signing

    with override_settings(DEBUG=True):
        first = site.rotate()
        site.pass_ttl()
        site.live.check()
    signed = signing.dumps("after the override")
    assert signing.loads(signed, key=first.current, fallback_keys=[]) == "after the override"
    for _ in range(3):  # the key that signed it stays in previous for max_fallbacks rotations
        site.rotate()
        site.pass_ttl()
        site.live.check()
        site.settle()
        assert signing.loads(signed) == "after the override"
