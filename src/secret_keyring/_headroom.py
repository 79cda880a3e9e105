"""Start-up work on a frame stack with room to spare, wherever the caller stands (CPython 3.11+).

CPython 3.11 and later keep a thread's Python frames in a stack of 16 KiB chunks. When a call
does not fit in the current chunk, a new one is mapped (``mmap``); when the call returns, that
chunk is unmapped again (``munmap``). A loop whose calls cross a chunk's end therefore pays a
system call pair and a page fault on every call, and the unmapping flushes the TLB. Whether the
SDK's start-up (importing botocore or hvac, building a client, the first request) has such a
loop depends on how deep the caller's stack is when it runs: manage.py, gunicorn, uwsgi, Celery
and a test runner each stand somewhere else. Measured with ``strace -c`` on botocore's import
and ``create_client`` alone: 300 to 3,900 ``mmap`` calls depending only on the caller's depth,
and up to ~35 ms more system time in a 450 ms start.

``with_headroom(fn)`` calls ``fn`` from a frame too large for any 16 KiB chunk. CPython gives that
frame a chunk of its own, sized to the next power of two with room after it, so ``fn`` and
everything it calls start on ~118 KiB of fresh frame stack: botocore's start-up then crosses no
chunk boundary (200 ``mmap`` calls at every depth measured). The large frame's value stack is
never written, so its pages are never touched; the cost is one ``mmap``/``munmap`` pair per call.
It is only used where the first, expensive work of a source happens: importing its SDK and its
first fetch. On Python 3.10 (heap-allocated frames) and other interpreters it is a plain call.
"""

from __future__ import annotations

import contextlib
import sys

TYPE_CHECKING = False  # not from typing: importing typing costs more than this whole module
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import TypeVar

    T = TypeVar("T")

#: The large frame's value-stack slots (pointers). With the frame's other slots and CPython's
#: minimum room of 1,000 slots after a frame, its chunk is rounded up to 256 KiB: the frame
#: takes ~141 KiB and leaves ~118 KiB. More than half, so a nested call (which should not
#: happen) gets its own chunk rather than squeezing into the remainder.
HEADROOM_SLOTS = 18_000


def with_headroom(fn: Callable[[], T]) -> T:
    """``fn()``, started at the beginning of a fresh frame-stack chunk (see the module)."""
    return fn()


def _reserve(version: tuple[int, ...], implementation: str) -> None:
    if implementation != "cpython" or version < (3, 11):
        return  # 3.10 allocates frames on the heap: a large one would only cost memory
    code = with_headroom.__code__
    # A future CPython that refuses the larger frame gets a plain call: correct, without headroom.
    with contextlib.suppress(TypeError, ValueError):
        with_headroom.__code__ = code.replace(co_stacksize=code.co_stacksize + HEADROOM_SLOTS)


_reserve(tuple(sys.version_info[:2]), sys.implementation.name)
