"""A reader that spans an update: Django reads ``SECRET_KEY`` and then ``SECRET_KEY_FALLBACKS``
(``Signer.__init__``, ``get_user()``, the token generator), so whatever key it took, the keys
announced beside that key must verify with the fallbacks it reads afterwards."""

from __future__ import annotations

import io
import json
import sys
import threading
from typing import Any

import pytest
from django.conf import settings
from django.core import signing
from django.core.management import call_command

from secret_keyring.django import checks, live, refresh_settings
from secret_keyring.keyring import Keyring, fingerprint
from tests.django.conftest import LiveSite

SALT = "live-settle"
#: Live updates in the threaded test; every third lands inside the previous one's settle time.
UPDATES = 300


def _signed_by(key: str) -> str:
    return signing.Signer(key=key, salt=SALT).sign("value")


def _rejected(key: str, fallbacks: list[str], by: list[str]) -> list[str]:
    """The keys of ``by`` whose signatures Django rejects with these two settings."""
    checker = signing.Signer(key=key, fallback_keys=fallbacks, salt=SALT)
    rejected = []
    for signer in by:
        try:
            checker.unsign(_signed_by(signer))
        except signing.BadSignature:
            rejected.append(fingerprint(signer))
    return rejected


def _update(site: LiveSite) -> Keyring:
    """Rotate the source and apply it at once: no time passes on the clock."""
    new = site.rotate()
    site.cache.refresh()
    site.live.check()
    assert settings.SECRET_KEY == new.current
    return new


def test_a_reader_holding_the_old_key_verifies_the_new_current(site: LiveSite) -> None:
    """Deterministic: the reader takes ``SECRET_KEY`` before the update and reads the fallbacks
    after the request that applied it. A process that refreshed first already signs with the new
    current key."""
    old = site.cache.get()
    key = settings.SECRET_KEY  # Signer.__init__ has read SECRET_KEY ...
    new = site.rotate()
    site.pass_ttl()
    site.live.check()  # ... a request applies the update ...
    fallbacks = settings.SECRET_KEY_FALLBACKS  # ... and the reader takes the fallbacks.
    assert key == old.current
    assert _rejected(key, fallbacks, [new.current, old.current]) == []
    assert site.live.settling


class _ObservedLock:
    """A lock that says when a thread asks for it while another holds it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.contended = threading.Event()

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        if self._lock.locked():
            self.contended.set()
        return self._lock.acquire(blocking, timeout)

    def release(self) -> None:
        self._lock.release()


def test_a_check_that_finds_another_thread_applying_waits_for_it(
    site: LiveSite, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two threads of a worker (gthread, or ASGI's sync threads) reach the check as a new
    keyring lands: one writes it into the settings, the other finds the lock taken. Going on at
    once would serve its request with the keys being replaced, which in a worker forked from a
    master many rotations behind are keys the fleet no longer accepts. Deterministic: the writer
    is held inside its writes until the second thread is seen waiting for the lock."""
    new = site.rotate()
    site.pass_ttl()
    site.cache.refresh()
    lock = _ObservedLock()
    monkeypatch.setattr(site.live, "_lock", lock)
    monkeypatch.setattr(live, "_APPLY_WAIT", 30.0)  # a loaded host must not end the wait
    writing, release = threading.Event(), threading.Event()
    bridge = live.bridge_settings

    def held_bridge(keyring: Keyring, **options: Any) -> None:
        writing.set()
        assert release.wait(30)
        bridge(keyring, **options)

    monkeypatch.setattr(live, "bridge_settings", held_bridge)
    writer = threading.Thread(target=site.live.poll)
    writer.start()
    assert writing.wait(30)
    seen: list[Keyring] = []
    reader = threading.Thread(target=lambda: seen.append(site.live.poll()))
    reader.start()
    assert lock.contended.wait(30)
    release.set()
    writer.join(30)
    reader.join(30)
    assert [fingerprint(k.current) for k in seen] == [fingerprint(new.current)]
    assert settings.SECRET_KEY == new.current


def test_a_check_gives_up_on_a_writer_stuck_past_the_bound(
    site: LiveSite, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A writer that never releases the lock must not hold every request: past _APPLY_WAIT the
    check serves what it applied and leaves the settings alone (a later check applies)."""
    old = site.live.applied
    site.rotate()
    site.pass_ttl()
    site.cache.refresh()
    monkeypatch.setattr(live, "_APPLY_WAIT", 0.01)
    stuck = threading.Lock()
    stuck.acquire()
    monkeypatch.setattr(site.live, "_lock", stuck)
    assert site.live.poll() is old
    assert fingerprint(settings.SECRET_KEY) == fingerprint(old.current)
    monkeypatch.setattr(site.live, "_lock", threading.Lock())
    new = site.live.poll()
    assert new is not old
    assert fingerprint(settings.SECRET_KEY) == fingerprint(new.current)


def test_a_second_rotation_inside_the_settle_time_keeps_every_current_key(site: LiveSite) -> None:
    """Two updates inside one settle time: a reader may still hold the key of either earlier
    keyring, so the bridge keeps, for each, its next and its predecessor's current key."""
    first = site.cache.get()
    second = _update(site)
    third = _update(site)
    fallbacks = settings.SECRET_KEY_FALLBACKS
    assert isinstance(fallbacks, list)
    for held, needed in (
        (first, [first.current, second.current]),
        (second, [second.current, third.current, first.current]),
        (third, [third.current, str(third.next), second.current]),
    ):
        assert _rejected(held.current, fallbacks, needed) == [], fingerprint(held.current)
    site.settle()
    assert settings.SECRET_KEY_FALLBACKS == third.fallbacks
    assert not site.live.settling


def test_the_final_fallbacks_wait_for_the_settle_time_on_the_injected_clock(
    site: LiveSite,
) -> None:
    """A process that serves no requests converges at its next ``refresh_settings()`` once the
    settle time has passed, and not before."""
    old = site.cache.get()
    new = site.rotate()
    site.pass_ttl()
    refresh_settings()
    bridge = settings.SECRET_KEY_FALLBACKS
    assert {old.current, new.current, *new.fallbacks} <= set(bridge)
    site.clock.advance(live._SETTLE_SECONDS - 0.01)
    refresh_settings()
    assert settings.SECRET_KEY_FALLBACKS == bridge
    site.clock.advance(0.01)
    refresh_settings()
    assert settings.SECRET_KEY_FALLBACKS == new.fallbacks


def test_a_repaired_settings_cache_restarts_the_settle_time(site: LiveSite) -> None:
    """A reader that re-cached the old ``SECRET_KEY`` (the race no write order prevents) may be
    between its two reads when the check drops that value: the bridge stays a settle time
    longer."""
    old = site.cache.get()
    new = site.rotate()
    site.pass_ttl()
    site.live.check()
    site.clock.advance(live._SETTLE_SECONDS - 1)
    settings.__dict__["SECRET_KEY"] = old.current  # what the racing reader leaves behind
    site.live.check()  # drops it
    assert settings.SECRET_KEY == new.current
    site.clock.advance(1)  # the update's own settle time has passed
    site.live.check()
    assert old.current in settings.SECRET_KEY_FALLBACKS
    assert site.live.settling
    site.clock.advance(live._SETTLE_SECONDS)
    site.live.check()
    assert settings.SECRET_KEY_FALLBACKS == new.fallbacks


def test_a_settling_process_is_not_reported_as_misconfigured(site: LiveSite) -> None:
    """W001 and ``secret_key_status`` compare the settings with the keyring: the bridge is the
    applied keyring in place, not a changed setting."""
    new = _update(site)
    assert site.live.settling
    assert checks.check_keys() == []
    out = io.StringIO()
    call_command("secret_key_status", "--json", stdout=out)
    status = json.loads(out.getvalue())
    assert status["fingerprints"]["current"] == fingerprint(settings.SECRET_KEY)
    assert status["fingerprints"]["current"] == fingerprint(new.current)


def test_readers_spanning_hundreds_of_updates_verify_the_keys_beside_their_key(
    site: LiveSite,
) -> None:
    """Real threads at a 1 µs switch interval read the settings as ``Signer.__init__`` does
    while the keyring rotates and is applied live, hundreds of times. Whatever ``SECRET_KEY`` a
    reader got, the ``next`` of the keyring that announced it and the current key before it
    must verify with the fallbacks it read after.

    The fake clock stands in for real time: it passes the settle time only after every reader
    has finished the read it was in when the last check ran (an event each reader sets after a
    read), which is what the settle time assumes of a real reader. Every third update lands
    inside the previous update's settle time instead. The readers wait while the writer rotates
    the source and fetches it (nothing in the settings changes then, and the run takes seconds),
    and are all reading again before the check that applies the update.
    """
    first = site.cache.get()
    signed: dict[str, str] = {}
    beside: dict[str, list[str]] = {}  # a current key -> the keys that must verify beside it

    def announce(keyring: Keyring, before: str | None) -> None:
        for key in (keyring.current, *keyring.fallbacks):
            signed.setdefault(key, _signed_by(key))
        beside[keyring.current] = [k for k in (keyring.next, before) if k]

    announce(first, first.previous[0] if first.previous else None)
    stop = threading.Event()
    writing = threading.Event()  # set while the settings may change
    finished = [threading.Event() for _ in range(2)]
    problems: list[str] = []
    reads = [0] * len(finished)

    def reader(index: int) -> None:
        while not stop.is_set():
            writing.wait()
            signer = signing.Signer(salt=SALT)  # SECRET_KEY, then SECRET_KEY_FALLBACKS
            needed = beside.get(signer.key)
            if needed is None:
                problems.append(f"SECRET_KEY {fingerprint(signer.key)} is in no keyring")
            for key in needed or []:
                try:
                    signer.unsign(signed[key])
                except signing.BadSignature:
                    problems.append(
                        f"SECRET_KEY {fingerprint(signer.key)} rejects {fingerprint(key)}"
                    )
            reads[index] += 1
            finished[index].set()

    def wait_for_reads_in_flight() -> None:
        for event in finished:
            event.clear()
        for event in finished:
            assert event.wait(30), "a reader stopped reading"

    threads = [threading.Thread(target=reader, args=(i,)) for i in range(len(finished))]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        for thread in threads:
            thread.start()
        before = first
        for update in range(UPDATES):
            writing.clear()
            new = site.rotate()
            announce(new, before.current)
            site.cache.refresh()  # no time passes: the next update may land while settling
            writing.set()
            wait_for_reads_in_flight()  # every reader is reading when the settings change
            site.live.check()
            before = new
            if update % 3 != 2:
                wait_for_reads_in_flight()
                site.settle()
    finally:
        stop.set()
        writing.set()
        for thread in threads:
            thread.join(30)
        sys.setswitchinterval(interval)
    assert not problems, f"{len(problems)} rejected of {sum(reads)} reads: {problems[:5]}"
    assert min(reads) >= UPDATES // 2  # every reader read across the updates
    site.settle()
    assert settings.SECRET_KEY == before.current
    assert settings.SECRET_KEY_FALLBACKS == before.fallbacks
