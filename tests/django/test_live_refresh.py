"""The test project, driven by the test client: settings helper, rotation, live refresh."""

from __future__ import annotations

import logging
import os
import sys
import threading
from typing import Any

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
    site.settle()
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
    site.settle()
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
            site.settle()
            assert new.fallbacks == settings.SECRET_KEY_FALLBACKS
    finally:
        settings._wrapped = real


def _verifies(key: str, signing_key: str, fallbacks: list[str]) -> bool:
    """Whether what ``key`` signs passes Django's check with these two settings."""
    signed = signing.Signer(key=key, salt="update-order").sign("value")
    checker = signing.Signer(key=signing_key, fallback_keys=fallbacks, salt="update-order")
    try:
        checker.unsign(signed)
    except signing.BadSignature:
        return False
    return True


def test_every_current_key_verifies_at_every_write_of_an_update(site: LiveSite) -> None:
    """The wrapped settings object is observed at each write (a spy on its ``__setattr__``):
    at every step, the old and the new ``current`` both verify, whether a reader looks at the
    wrapped object or through ``LazySettings`` at that instant."""
    old = site.cache.get()
    new = site.rotate()
    holder: Any = settings._wrapped
    real_class = type(holder)
    steps: list[tuple[str, str, str, list[str]]] = []

    class Spy(real_class):  # type: ignore[misc, valid-type]
        def __setattr__(self, name: str, value: object) -> None:
            super().__setattr__(name, value)
            if name in ("SECRET_KEY", "SECRET_KEY_FALLBACKS"):
                steps.append((name, "wrapped", self.SECRET_KEY, list(self.SECRET_KEY_FALLBACKS)))
                steps.append(
                    (name, "settings", settings.SECRET_KEY, list(settings.SECRET_KEY_FALLBACKS))
                )

    holder.__class__ = Spy
    try:
        site.pass_ttl()
        site.live.check()  # writes 1 and 2
        site.settle()  # write 3, at a later check
    finally:
        holder.__class__ = real_class

    assert len(steps) == 6  # three writes, two views each
    for index, (name, view, key, fallbacks) in enumerate(steps):
        assert isinstance(fallbacks, list)
        for current in (old.current, new.current):
            assert _verifies(current, key, fallbacks), (
                f"step {index // 2 + 1} (after writing {name}, seen through {view}): "
                f"a signature by {fingerprint(current)} is rejected"
            )
    assert settings.SECRET_KEY == new.current
    assert settings.SECRET_KEY_FALLBACKS == new.fallbacks


def test_a_reader_that_recaches_the_old_key_is_repaired_by_the_next_request(
    site: LiveSite,
) -> None:
    """Forced interleaving of the race no write order prevents: a reader inside
    ``LazySettings.__getattr__`` reads the wrapped value before the update and caches it after
    the update dropped the cache. The next request's check must drop it."""
    old = site.cache.get()
    new = site.rotate()
    holder: Any = settings._wrapped
    real_class = type(holder)
    has_read = threading.Event()
    may_cache = threading.Event()

    class PausesTheReader(real_class):  # type: ignore[misc, valid-type]
        def __getattribute__(self, name: str) -> Any:
            value = super().__getattribute__(name)
            if name == "SECRET_KEY" and threading.current_thread().name == "stale-reader":
                has_read.set()
                may_cache.wait(10)
            return value

    settings.__dict__.pop("SECRET_KEY", None)  # the reader goes through __getattr__
    holder.__class__ = PausesTheReader
    reader = threading.Thread(target=lambda: settings.SECRET_KEY, name="stale-reader")
    try:
        reader.start()
        assert has_read.wait(10)  # it holds the old value, not yet cached
        site.pass_ttl()
        site.live.check()  # the update: writes the wrapped object, drops the cache
        may_cache.set()
        reader.join(10)
    finally:
        holder.__class__ = real_class
    assert holder.SECRET_KEY == new.current
    assert settings.SECRET_KEY == old.current  # the race happened: LazySettings serves the old

    Client().get("/whoami/")  # the next request, at the same instant
    assert settings.SECRET_KEY == new.current
    assert old.current in settings.SECRET_KEY_FALLBACKS
    site.settle()
    assert settings.SECRET_KEY_FALLBACKS == new.fallbacks


def test_a_failing_keys_rotated_receiver_does_not_fail_the_request(
    site: LiveSite, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(sender: object, **kwargs: object) -> None:
        raise RuntimeError("a bug in a receiver")

    keys_rotated.connect(broken)
    try:
        new = site.rotate()
        site.pass_ttl()
        response = Client().get("/whoami/")
    finally:
        keys_rotated.disconnect(broken)
    assert response.status_code == 200
    assert settings.SECRET_KEY == new.current
    records = [r for r in caplog.records if r.name.startswith("secret_keyring.django")]
    failed = next(r for r in records if "keys_rotated receiver" in r.getMessage())
    assert failed.levelno == logging.ERROR
    assert "broken" in failed.getMessage()
    assert fingerprint(new.current) in failed.getMessage()
    assert failed.exc_info is not None
    assert isinstance(failed.exc_info[1], RuntimeError)
    assert failed.exc_info[2] is not None  # with its traceback


# Python 3.12+ warns about fork() with threads alive; the child below uses none of them.
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")
def test_a_forked_child_applies_keys_although_the_parent_held_the_lock(site: LiveSite) -> None:
    """gunicorn --preload: a thread of the parent was applying a keyring at fork time; the
    child inherits the held lock, but not the thread that would release it."""
    new = site.rotate()
    site.pass_ttl()
    site.live._lock.acquire()
    try:
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child reports through its exit code
            code = 1
            try:
                site.live.check()
                code = 0 if settings.SECRET_KEY == new.current else 2
            finally:
                os._exit(code)
    finally:
        site.live._lock.release()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
