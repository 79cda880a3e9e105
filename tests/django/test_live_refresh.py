"""The test project, driven by the test client: settings helper, rotation, live refresh."""

from __future__ import annotations

import sys
import threading

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.contrib.auth.tokens import default_token_generator
from django.core import signing
from django.test import Client

from secret_keyring.django import live
from secret_keyring.django.signals import keys_rotated
from secret_keyring.keyring import Keyring, fingerprint
from tests.django.conftest import LiveSite


def test_one_line_helper_sets_both_settings() -> None:
    current = live.active()
    assert current is not None
    assert current.applied.current == settings.SECRET_KEY
    assert current.applied.fallbacks == settings.SECRET_KEY_FALLBACKS
    assert isinstance(settings.SECRET_KEY_FALLBACKS, list)
    assert current.applied.next in settings.SECRET_KEY_FALLBACKS


def _login(client: Client) -> None:
    response = client.post("/login/", {"username": "alice", "password": "wonderland-pass"})
    assert response.status_code == 200


def test_signatures_made_before_rotations_stay_valid(site: LiveSite, user: User) -> None:
    client = Client()
    _login(client)
    client.get("/signed/set/", {"value": "before"})
    token = default_token_generator.make_token(user)
    signed = signing.dumps({"n": 1})
    first = site.cache.get()

    for round_ in range(3):
        site.rotate()
        site.pass_ttl()
        assert client.get("/whoami/").content == b"alice"  # this request applies the new keyring
        new = live.active().applied  # type: ignore[union-attr]
        assert new.current == settings.SECRET_KEY
        assert new.current != first.current
        # Made before: still valid while the signing key is current, next or previous.
        assert client.get("/signed/get/").content == b"before"
        assert default_token_generator.check_token(user, token), round_
        assert signing.loads(signed) == {"n": 1}

    # New signatures use the new key: they do not verify with the first keyring alone.
    fresh = signing.dumps({"n": 2})
    with pytest.raises(signing.BadSignature):
        signing.loads(fresh, key=first.current, fallback_keys=[])
    assert signing.loads(fresh, key=settings.SECRET_KEY) == {"n": 2}


def test_signature_by_a_dropped_key_is_rejected(site: LiveSite, user: User) -> None:
    signed = signing.dumps("old")
    for _ in range(5):  # the signing key falls out of previous (max 3)
        site.rotate(max_fallbacks=3)
        site.pass_ttl()
        Client().get("/whoami/")
    with pytest.raises(signing.BadSignature):
        signing.loads(signed)


def test_new_file_is_picked_up_on_the_first_request_past_the_ttl(site: LiveSite) -> None:
    before = settings.SECRET_KEY
    new = site.rotate()
    client = Client()
    site.clock.advance(site.cache.ttl - 1)
    client.get("/whoami/")
    assert before == settings.SECRET_KEY  # within the TTL: no backend read
    site.clock.advance(1.001)
    client.get("/whoami/")
    assert new.current == settings.SECRET_KEY
    assert new.fallbacks == settings.SECRET_KEY_FALLBACKS


def test_keys_rotated_signal(site: LiveSite) -> None:
    received: list[tuple[Keyring, Keyring]] = []

    def receiver(sender: object, keyring: Keyring, previous: Keyring, **kwargs: object) -> None:
        received.append((keyring, previous))

    keys_rotated.connect(receiver)
    try:
        old = site.cache.get()
        new = site.rotate()
        site.pass_ttl()
        Client().get("/whoami/")
        Client().get("/whoami/")
    finally:
        keys_rotated.disconnect(receiver)
    assert len(received) == 1
    assert received[0][0].same_keys(new)
    assert received[0][1].same_keys(old)


def test_status_endpoint_has_fingerprints_only(site: LiveSite) -> None:
    data = Client().get("/status/").json()
    assert data["fingerprints"]["current"] == fingerprint(settings.SECRET_KEY)


def test_settings_update_race(site: LiveSite) -> None:
    """Readers during repeated rotations never see a key outside the keyring of the moment,
    and nobody keeps a stale cached SECRET_KEY afterwards."""
    applied: list[Keyring] = [site.cache.get()]
    stop = threading.Event()
    problems: list[str] = []
    reads = [0]

    def reader() -> None:
        while not stop.is_set():
            index = len(applied) - 1
            key = settings.SECRET_KEY
            fallbacks = settings.SECRET_KEY_FALLBACKS
            allowed = set()
            for kr in applied[max(0, index - 1) :]:
                allowed |= {kr.current, *kr.fallbacks}
            if key not in allowed:
                problems.append(f"SECRET_KEY {fingerprint(key)} outside the keyring")
            if not isinstance(fallbacks, list):
                problems.append("SECRET_KEY_FALLBACKS is not a list")
            reads[0] += 1

    # A short switch interval makes threads interleave often (more chances to hit a race) and
    # keeps the writer from starving behind CPU-bound readers after each file write.
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    threads = [threading.Thread(target=reader) for _ in range(4)]
    for t in threads:
        t.start()
    try:
        for _ in range(100):
            new = site.rotate(max_fallbacks=3)
            site.pass_ttl()
            site.live.check()
            applied.append(new)
    finally:
        stop.set()
        for t in threads:
            t.join(10)
        sys.setswitchinterval(interval)
    assert not problems, problems[:5]
    assert reads[0] > 100
    final = applied[-1]
    assert final.current == settings.SECRET_KEY
    assert final.fallbacks == settings.SECRET_KEY_FALLBACKS
    cached = settings.__dict__.get("SECRET_KEY")
    assert cached in (None, final.current)


class _ReaderAtEveryWrite:
    """Wraps the real settings object; every write first lets a "concurrent" reader read the
    settings, at exactly the moment a thread switch would hurt most."""

    def __init__(self, real: object) -> None:
        object.__setattr__(self, "_real", real)

    def __getattr__(self, name: str) -> object:
        return getattr(object.__getattribute__(self, "_real"), name)

    def __setattr__(self, name: str, value: object) -> None:
        settings.SECRET_KEY  # noqa: B018 - the interleaved read is the point
        settings.SECRET_KEY_FALLBACKS  # noqa: B018
        setattr(object.__getattribute__(self, "_real"), name, value)


def test_settings_update_order_leaves_no_stale_cache(site: LiveSite) -> None:
    """Deterministic version of the race: a read interleaved with each write must not leave
    the old SECRET_KEY cached on LazySettings (the naive `settings.SECRET_KEY = x` does)."""
    real = settings._wrapped
    settings._wrapped = _ReaderAtEveryWrite(real)
    try:
        for _ in range(3):
            new = site.rotate()
            site.pass_ttl()
            site.live.check()
            assert new.current == settings.SECRET_KEY
            assert new.fallbacks == settings.SECRET_KEY_FALLBACKS
    finally:
        settings._wrapped = real
