"""Fork safety in one place: the objects whose ``_after_fork()`` runs in every forked child.

gunicorn ``--preload``, uWSGI and Celery's prefork pool fork workers from a parent that already
holds locks, clients and threads. A child inherits the memory, not the threads, so a lock held by
a parent thread at fork time is never released there. Providers and caches register here when
they are built; the registry runs their ``_after_fork()`` in the child (``os.register_at_fork``),
holding them weakly.
"""

from __future__ import annotations

import os
import weakref
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # for type checkers only: creating a Protocol class is not free at import
    from typing import Protocol

    class ForkAware(Protocol):
        def _after_fork(self) -> None: ...


__all__ = ["register", "run_after_fork"]


_objects: weakref.WeakSet[ForkAware] = weakref.WeakSet()


def register(obj: ForkAware) -> None:
    """Reset ``obj`` in every child forked from now on, for as long as it lives."""
    _objects.add(obj)


def run_after_fork() -> None:
    """Call ``_after_fork()`` on every live object: what a child does right after ``fork()``
    (tests call it to stand in for one).

    Every object is reset even when one fails: the set is unordered, and one object's error
    (a provider whose construction raised, kept alive by a traceback) must not leave a live
    cache's lock held by a parent thread in the child. The first error is raised afterwards,
    so the fork machinery still reports it.
    """
    first: BaseException | None = None
    for obj in list(_objects):
        try:
            obj._after_fork()
        except Exception as exc:  # noqa: BLE001 - raised after the others are reset
            first = first or exc
    if first is not None:
        raise first


if hasattr(os, "register_at_fork"):  # pragma: no branch - POSIX
    os.register_at_fork(after_in_child=run_after_fork)
