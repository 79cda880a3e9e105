"""The example site's WSGI application plus ``/__fork__.json``, for the fork-safety test only.

Loaded by gunicorn as ``tests.reliability.forksite:application``. With ``--preload`` this module
is imported once, in the master, *before* the workers are forked: importing the example site runs
its settings, so ``secret_keys()`` fetches the keyring in the master and leaves an hvac client, a
requests session with a pooled keep-alive connection to OpenBao, and the cache's and provider's
locks behind. This module keeps strong references to those master objects (so a freed address
cannot be reused by a new object and fool an identity check) and notes the local ports of the
master's pooled connections.

``/__fork__.json`` then answers, in whichever worker serves it: its pid, the master's pid, whether
its client, session and locks are still the master's objects, and the local ports of its own
pooled connections. The library's fork hooks must have replaced all of them. Setting
``FORK_TEST_DISABLE_HOOKS=1`` neutralises the hooks of this cache and provider (a negative
control that shows the checks notice sharing). Nothing here reports key material: fingerprints
and versions only.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from typing import Any

from django_site.wsgi import application as site

from secret_keyring.django import live

_active = live.active()
assert _active is not None, "the example site's settings call secret_keys()"
_cache: Any = _active.cache
_provider: Any = _cache.provider
# The Vault provider's client lives in its session (a fork resets both).
_session: Any = _provider.session


def _pooled_ports(client: Any) -> list[int]:
    """Local ports of the idle keep-alive connections in ``client``'s requests session."""
    if client is None:
        return []
    ports: set[int] = set()
    for adapter in client.session.adapters.values():
        manager = adapter.poolmanager
        for key in list(manager.pools.keys()):
            queue = getattr(getattr(manager.pools.get(key), "pool", None), "queue", ())
            for connection in list(queue):
                sock = getattr(connection, "sock", None)
                if sock is not None:
                    ports.add(int(sock.getsockname()[1]))
    return sorted(ports)


# Strong references to what the master holds at fork time.
_MASTER: dict[str, Any] = {
    "pid": os.getpid(),
    "client": _session._client,
    "session": getattr(_session._client, "session", None),
    "provider_lock": _provider._lock,
    "cache_lock": _cache._lock,
    "cache_cond": _cache._cond,
    "ports": _pooled_ports(_session._client),
}

if os.environ.get("FORK_TEST_DISABLE_HOOKS") == "1":
    # Instance attributes shadow the methods the library's at-fork handlers call.
    _provider._after_fork = lambda: None
    _cache._after_fork = lambda: None


def report() -> dict[str, Any]:
    client = _session._client
    status = _cache.status()
    return {
        "pid": os.getpid(),
        "master_pid": _MASTER["pid"],
        "master_ports": _MASTER["ports"],
        "ports": _pooled_ports(client),
        "client_is_masters": client is not None and client is _MASTER["client"],
        "session_is_masters": client is not None and client.session is _MASTER["session"],
        "provider_lock_is_masters": _provider._lock is _MASTER["provider_lock"],
        "cache_lock_is_masters": _cache._lock is _MASTER["cache_lock"],
        "cache_cond_is_masters": _cache._cond is _MASTER["cache_cond"],
        "version": status["version"],
        "fetched_at": status["fetched_at"],
        "current": (status["fingerprints"] or {}).get("current"),
    }


def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    if environ.get("PATH_INFO") != "/__fork__.json":
        return site(environ, start_response)
    body = json.dumps(report()).encode()
    start_response(
        "200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    )
    return [body]
