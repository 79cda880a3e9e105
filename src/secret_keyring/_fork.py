"""Fork safety in one place: objects whose ``_after_fork()`` runs in every forked child.

gunicorn ``--preload``, uWSGI and Celery's prefork pool fork workers from a parent that already
holds locks, clients and threads. A child inherits the memory, not the threads, so a lock held by
a parent thread at fork time is never released there. Each registry below runs its objects'
``_after_fork()`` in the child (``os.register_at_fork``), holding them weakly.
"""

from __future__ import annotations

import os
import weakref
from typing import Generic, Protocol, TypeVar


class ForkAware(Protocol):
    def _after_fork(self) -> None: ...


T = TypeVar("T", bound=ForkAware)


class AfterFork(Generic[T]):
    """A weak set of objects reset in every forked child; ``run()`` does it by hand (tests)."""

    def __init__(self) -> None:
        self._objects: weakref.WeakSet[T] = weakref.WeakSet()
        if hasattr(os, "register_at_fork"):  # pragma: no branch - POSIX
            os.register_at_fork(after_in_child=self.run)

    def add(self, obj: T) -> None:
        """Reset ``obj`` in every child forked from now on, for as long as it lives."""
        self._objects.add(obj)

    def run(self) -> None:
        """Call ``_after_fork()`` on every live object (what a child does right after fork)."""
        for obj in list(self._objects):
            obj._after_fork()
