"""with_headroom(): the start-up work runs on fresh frame stack, whatever the caller's depth.

CPython 3.11+ keeps frames in 16 KiB chunks and unmaps a chunk when the call at its start
returns. A loop whose calls land just past a chunk's end maps, touches (one minor page fault)
and unmaps a chunk on every call: that is the cost botocore's start-up paid at some call
depths (up to 3,900 ``mmap`` calls measured with ``strace -c``, 300 at others). The fault count
of the calling thread makes it visible without strace: these tests stand in for that
measurement, with a loop whose depth is swept across the chunk boundaries.
"""

from __future__ import annotations

import resource
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from secret_keyring._headroom import HEADROOM_SLOTS, with_headroom

CHUNKED_FRAMES = sys.implementation.name == "cpython" and sys.version_info >= (3, 11)
CALLS = 400


def _leaf() -> None:
    return None


# The leaf's frame is made larger than a frame of the recursion below: then, at each chunk
# boundary the recursion reaches, some depth leaves too little room for the leaf (were it
# smaller, the recursion could step over every spot where the leaf does not fit).
_leaf.__code__ = _leaf.__code__.replace(co_stacksize=64)


def _faults_of_a_loop_at(depth: int) -> int:
    if depth:
        return _faults_of_a_loop_at(depth - 1)
    before = resource.getrusage(resource.RUSAGE_THREAD).ru_minflt
    for _ in range(CALLS):
        _leaf()
    return resource.getrusage(resource.RUSAGE_THREAD).ru_minflt - before


def _worst_depth() -> int:
    """The most page faults the loop took at any of 300 depths below the caller (~40 KiB of
    frames: at least two chunk boundaries)."""
    return max(_faults_of_a_loop_at(depth) for depth in range(300))


needs_chunks = pytest.mark.skipif(
    not CHUNKED_FRAMES or not hasattr(resource, "RUSAGE_THREAD"),
    reason="CPython 3.11+ on Linux (frame-stack chunks, per-thread fault counts)",
)


@needs_chunks
def test_a_loop_across_a_chunk_boundary_faults_on_every_call_without_headroom() -> None:
    """The effect itself, so that the next test cannot pass for want of it."""
    assert _worst_depth() >= CALLS * 0.9


@needs_chunks
def test_under_headroom_no_depth_faults() -> None:
    assert with_headroom(_worst_depth) <= CALLS * 0.1


@needs_chunks
def test_headroom_nested_in_headroom_still_has_room() -> None:
    assert with_headroom(lambda: with_headroom(_worst_depth)) <= CALLS * 0.1


@needs_chunks
def test_headroom_in_a_new_thread() -> None:
    """The start-up fetch runs in a helper thread (``CachedKeyring.prime``)."""
    found: list[int] = []
    worker = threading.Thread(target=lambda: found.append(with_headroom(_worst_depth)))
    worker.start()
    worker.join()
    assert len(found) == 1
    assert found[0] <= CALLS * 0.1


def test_it_returns_the_result_and_raises_the_error() -> None:
    assert with_headroom(lambda: 42) == 42
    with pytest.raises(KeyError, match="boom"):
        with_headroom(lambda: {}["boom"])


def test_the_large_frame_is_only_reserved_where_frames_live_in_chunks() -> None:
    stack = with_headroom.__code__.co_stacksize
    if CHUNKED_FRAMES:
        assert stack >= HEADROOM_SLOTS
    else:
        assert stack < 100  # Python 3.10 allocates each frame on the heap: a plain call


# -- where it is used ---------------------------------------------------------------------------


@pytest.fixture
def headroom_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Records each call the library makes through with_headroom, and the thread it ran in."""
    from secret_keyring import cache
    from secret_keyring.providers import base

    calls: list[str] = []

    def recording(fn: Callable[[], object]) -> object:
        calls.append(threading.current_thread().name)
        return with_headroom(fn)

    monkeypatch.setattr(cache, "with_headroom", recording)
    monkeypatch.setattr(base, "with_headroom", recording)
    return calls


def test_an_sdks_first_import_runs_under_headroom_and_a_second_does_not(
    headroom_calls: list[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from secret_keyring.providers.base import require_extra

    (tmp_path / "headroom_probe_sdk.py").write_text("LOADED = True\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "headroom_probe_sdk", raising=False)
    assert require_extra("headroom_probe_sdk", "probe").LOADED
    assert require_extra("headroom_probe_sdk", "probe").LOADED
    assert len(headroom_calls) == 1


def test_the_first_fetch_runs_under_headroom_in_every_start_up_path(
    headroom_calls: list[str],
) -> None:
    from secret_keyring.cache import CachedKeyring
    from secret_keyring.testing import StaticProvider

    CachedKeyring(StaticProvider()).prime()  # in prime()'s helper thread
    CachedKeyring(StaticProvider()).prime(0)  # in the caller's thread
    CachedKeyring(StaticProvider()).get()  # a first get() without prime()
    main = threading.current_thread().name
    assert headroom_calls == ["secret-keyring-prime", main, main]
