"""Kubernetes: ``file://`` on a mounted Secret (or Vault Agent / CSI / External Secrets files),
which the kubelet updates by the atomic ``..data`` symlink swap."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import Client

from secret_keyring import CachedKeyring, Keyring, Provider
from secret_keyring.django import live
from secret_keyring.errors import SecretNotFound
from secret_keyring.keygen import new_keyring, rotate
from secret_keyring.payload import keyring_to_json
from secret_keyring.providers import FileProvider
from secret_keyring.testing import FakeClock
from tests.deploy.kubelet import ProjectedVolume

LiveSite = Callable[[Provider, float], tuple[CachedKeyring, FakeClock]]


def _files(keyring: Keyring) -> dict[str, str]:
    # A Secret usually projects more than one key; the others swap along with ours.
    return {"keyring.json": keyring_to_json(keyring), "ca.crt": "not a key\n"}


def test_a_swapped_volume_is_applied_on_the_first_request_past_the_ttl(
    tmp_path: Path, live_site: LiveSite
) -> None:
    volume = ProjectedVolume(tmp_path / "secrets")
    first = new_keyring()
    volume.write(_files(first))
    cache, clock = live_site(FileProvider(volume.root / "keyring.json"), 60.0)
    assert settings.SECRET_KEY == first.current

    second = rotate(first)
    replaced = volume.current_dir()
    volume.write(_files(second))
    assert replaced is not None
    assert not replaced.exists()  # the version the first read came from is gone
    client = Client()
    clock.advance(59)
    client.get("/whoami/")
    assert settings.SECRET_KEY == first.current  # within the TTL: not even a read
    clock.advance(1.001)
    client.get("/whoami/")
    assert settings.SECRET_KEY == second.current
    clock.advance(live._SETTLE_SECONDS)
    client.get("/whoami/")  # the bridge fallbacks settle at a later request
    assert settings.SECRET_KEY_FALLBACKS == second.fallbacks
    assert cache.status()["source"] == f"file://{volume.root / 'keyring.json'}"
    assert cache.status()["failures"] == 0


def test_no_read_during_a_stream_of_swaps_is_torn(tmp_path: Path) -> None:
    """Every read while the volume is swapped as fast as possible is one whole version.

    The same loop against a file rewritten in place fails on nearly every read (an empty or
    half-written file), so the layout, not luck, is what keeps these reads whole.
    """
    volume = ProjectedVolume(tmp_path / "secrets")
    versions = [new_keyring()]
    for _ in range(99):
        versions.append(rotate(versions[-1]))
    written = {(k.current, k.next, k.previous) for k in versions}
    volume.write(_files(versions[0]))
    provider = FileProvider(volume.root / "keyring.json")
    done = threading.Event()

    def publish() -> None:
        try:
            for keyring in versions[1:]:
                volume.write(_files(keyring))
        finally:
            done.set()

    writer = threading.Thread(target=publish, name="kubelet")
    writer.start()
    reads: list[Keyring] = []
    try:
        while not done.is_set():
            reads.append(provider.fetch())  # any error (torn JSON, ENOENT) fails the test
    finally:
        writer.join()
    reads.append(provider.fetch())
    assert {(k.current, k.next, k.previous) for k in reads} <= written
    assert reads[-1].same_keys(versions[-1])
    assert len({k.version for k in reads}) > 1  # the reads did overlap the swaps


def test_a_read_that_resolved_the_deleted_version_is_tried_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The one interleaving of the atomic writer that a reader can lose, forced.

    The kernel resolves ``keyring.json -> ..data/keyring.json`` one component at a time. A reader
    that resolved ``..data`` to the old version just before the writer renamed ``..data_tmp``
    over it and removed the old directory looks for the file in a deleted directory and gets
    ENOENT, although the file exists before and after (seen under load in the stream test
    above). Here the writer publishes the new version exactly between the reader's resolution
    and its open: the read must return the new version instead of failing. A process starting
    at that instant would otherwise refuse to start (``SecretNotFound`` is not retried).
    """
    volume = ProjectedVolume(tmp_path / "secrets")
    first = new_keyring()
    second = rotate(first)
    volume.write(_files(first))
    old_file = volume.current_dir() / "keyring.json"  # type: ignore[operator]
    real_open = Path.open
    target = volume.root / "keyring.json"
    swapped: list[bool] = []

    def open_after_the_swap(self: Path, *args: Any, **kwargs: Any) -> Any:
        if self == target and not swapped:  # the reader resolved the old ..data ...
            swapped.append(True)
            volume.write(_files(second))  # ... and now the writer runs
            return real_open(old_file, *args, **kwargs)  # in a directory that is gone
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", open_after_the_swap)
    keyring = FileProvider(volume.root / "keyring.json").fetch()
    assert swapped
    assert not old_file.exists()
    assert keyring.same_keys(second)


def test_a_file_that_is_really_missing_is_still_not_found(tmp_path: Path) -> None:
    with pytest.raises(SecretNotFound, match="the file does not exist"):
        FileProvider(tmp_path / "secrets" / "keyring.json").fetch()
