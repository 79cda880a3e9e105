"""Per-request overhead of live refresh: requests/s of a minimal Django view through the test
client, with and without ``"secret_keyring.django"`` in ``INSTALLED_APPS``.

Each variant runs in fresh interpreters (``INSTALLED_APPS`` is read once per process), the two
alternating so that machine drift hits both alike. Both get their keys from ``secret_keys()``;
the only difference is the app, whose ``request_started`` receiver is the per-request check.
The view returns a constant under the example site's middleware (sessions, CSRF, auth), with no
database query: the cheapest request a real Django site serves, so the overhead is the largest
fraction it can be. Throughput is counted per CPU second of the process, with the garbage
collector off while timing (as timeit does), so other processes on the machine blur it less.

Two throughputs from different processes differ by a few percent whatever the variant (memory
layout, a busy neighbour), more than the effect measured. So a child with the app also times
``request_started.send()`` as Django's handler sends it, with and without our receiver,
alternating in one process: the difference is everything the app adds to a request, and its
ratio to the time of one request is the overhead without that noise.

    python benchmarks/bench_refresh.py [--pairs 4]
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import json
import os
import statistics
import subprocess
import sys
import time
import timeit
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

WARMUP = 1_000
REQUESTS = 2_000
REPEAT = 5
DISPATCH_CALLS = 20_000


@dataclasses.dataclass(frozen=True)
class RefreshOverhead:
    """Requests per CPU second, per run, for each variant; ``request_started.send()`` costs."""

    with_app: list[float]
    without_app: list[float]
    dispatch_with_ns: list[float]
    dispatch_without_ns: list[float]

    @staticmethod
    def spread(values: list[float]) -> tuple[float, float, float]:
        return statistics.median(values), min(values), max(values)

    @property
    def measured_overhead(self) -> float:
        """Fraction of throughput lost with the app (medians); noise can make it negative."""
        return 1.0 - statistics.median(self.with_app) / statistics.median(self.without_app)

    @property
    def request_ns(self) -> float:
        return 1e9 / statistics.median(self.without_app)

    @property
    def added_ns(self) -> float:
        """What the receiver adds to ``request_started.send()``: difference of the medians."""
        return statistics.median(self.dispatch_with_ns) - statistics.median(
            self.dispatch_without_ns
        )

    @property
    def computed_overhead(self) -> float:
        """The added nanoseconds as a fraction of one request without the app."""
        return self.added_ns / self.request_ns


def _child(with_app: bool) -> None:
    import django
    from django.conf import settings
    from django.http import HttpRequest, HttpResponse
    from django.urls import path

    from secret_keyring.django import secret_keys
    from secret_keyring.testing import StaticProvider

    def minimal(request: HttpRequest) -> HttpResponse:
        return HttpResponse("ok")

    secret_key, fallbacks = secret_keys(StaticProvider(), ttl=3600.0)
    apps = ["django.contrib.auth", "django.contrib.contenttypes", "django.contrib.sessions"]
    settings.configure(
        SECRET_KEY=secret_key,
        SECRET_KEY_FALLBACKS=fallbacks,
        DEBUG=False,
        ALLOWED_HOSTS=["testserver"],
        INSTALLED_APPS=[*apps, "secret_keyring.django"] if with_app else apps,
        MIDDLEWARE=[
            "django.middleware.security.SecurityMiddleware",
            "django.contrib.sessions.middleware.SessionMiddleware",
            "django.middleware.common.CommonMiddleware",
            "django.middleware.csrf.CsrfViewMiddleware",
            "django.contrib.auth.middleware.AuthenticationMiddleware",
        ],
        ROOT_URLCONF=__name__,
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
        SESSION_ENGINE="django.contrib.sessions.backends.signed_cookies",
        USE_TZ=True,
        LOGGING_CONFIG=None,
    )
    sys.modules[__name__].urlpatterns = [path("min/", minimal)]  # type: ignore[attr-defined]
    django.setup()
    from django.core.signals import request_started
    from django.test import Client

    from secret_keyring.django.apps import _on_request_started

    hooked = any(
        receiver() is _on_request_started
        for _, receiver, *_ in request_started.receivers
        if callable(receiver)
    )
    if hooked != with_app:
        raise SystemExit(f"receiver connected: {hooked}, app installed: {with_app}")
    client = Client()
    for _ in range(WARMUP):
        client.get("/min/")
    runs = [REQUESTS / _timed(client, REQUESTS) for _ in range(REPEAT)]
    dispatch: dict[str, list[float]] = {"with": [], "without": []}
    if with_app:
        dispatch = _dispatch_cost(request_started, _on_request_started)
    print(json.dumps({"runs": runs, "dispatch": dispatch}))


def _toggle(signal: Any, receiver: Any, connected: bool) -> None:
    uid = "secret_keyring.django.request_started"
    if connected:
        signal.connect(receiver, dispatch_uid=uid)
    else:
        signal.disconnect(receiver, dispatch_uid=uid)


def _dispatch_cost(signal: Any, receiver: Any) -> dict[str, list[float]]:
    """Nanoseconds of ``request_started.send()`` as Django's handler sends it, with and without
    our receiver (alternating): their difference is everything the app adds to a request."""
    costs: dict[str, list[float]] = {"with": [], "without": []}
    environ = {"PATH_INFO": "/min/"}
    for index in range(REPEAT * 2):
        for connected in (True, False) if index % 2 == 0 else (False, True):
            _toggle(signal, receiver, connected)
            seconds = timeit.Timer(
                lambda: signal.send(sender=None, environ=environ), timer=time.process_time
            ).timeit(number=DISPATCH_CALLS)
            costs["with" if connected else "without"].append(seconds / DISPATCH_CALLS * 1e9)
    _toggle(signal, receiver, True)
    return costs


def _timed(client: Any, requests: int) -> float:
    """CPU seconds for ``requests`` requests, with the garbage collector off, as timeit does:
    a collection landing in one run and not the other is noise, not a cost of either."""
    gc.collect()
    gc.disable()
    try:
        started = time.process_time()
        for _ in range(requests):
            client.get("/min/")
        return time.process_time() - started
    finally:
        gc.enable()


def _run_child(with_app: bool) -> dict[str, Any]:
    """A child's report: ``runs`` (requests per CPU second) and ``dispatch`` (``with`` and
    ``without``: ns per ``request_started.send()``)."""
    result = subprocess.run(
        [
            sys.executable,
            str(Path(__file__).resolve()),
            "--child",
            "with" if with_app else "without",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
        cwd=str(ROOT),
        # One hash seed for every child: dict layouts then differ only by the variant.
        env={**os.environ, "PYTHONHASHSEED": "0"},
    )
    if result.returncode != 0:
        raise RuntimeError(f"bench_refresh child failed:\n{result.stderr[-2000:]}")
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


def measure(pairs: int = 4) -> RefreshOverhead:
    """Alternate ``pairs`` children of each variant and pool their runs."""
    with_app: list[float] = []
    without_app: list[float] = []
    dispatch_with: list[float] = []
    dispatch_without: list[float] = []
    for index in range(pairs):
        # Alternate which goes first, so neither always runs on a warmer machine.
        order = (True, False) if index % 2 == 0 else (False, True)
        for variant in order:
            data = _run_child(variant)
            (with_app if variant else without_app).extend(data["runs"])
            dispatch_with.extend(data["dispatch"]["with"])
            dispatch_without.extend(data["dispatch"]["without"])
    return RefreshOverhead(with_app, without_app, dispatch_with, dispatch_without)


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--child", choices=["with", "without"])
    parser.add_argument("--pairs", type=int, default=4)
    args = parser.parse_args()
    if args.child:
        _child(args.child == "with")
        return 0
    result = measure(args.pairs)
    for name, runs in (("with the app", result.with_app), ("without it", result.without_app)):
        med, low, high = result.spread(runs)
        print(f"{name:>13}: {med:,.0f} requests/s ({low:,.0f}-{high:,.0f})")
    for name, runs in (("with", result.dispatch_with_ns), ("without", result.dispatch_without_ns)):
        med, low, high = result.spread(runs)
        print(f"request_started.send() {name} the receiver: {med:.0f} ns ({low:.0f}-{high:.0f})")
    print(
        f"overhead: measured {result.measured_overhead:+.2%} (throughput medians); computed "
        f"{result.computed_overhead:.3%} ({result.added_ns:.0f} ns added to a request of "
        f"{result.request_ns / 1000:.0f} us)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
