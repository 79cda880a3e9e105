"""Hot-path costs of the core: a primed ``CachedKeyring.get()`` and the per-request check.

Plain script (no server needed). Each figure is the median of repeated timeit runs, with the
min-max range, next to the floor: reading a module-level constant.

A quick look without servers; ``make bench`` (``run.py``) measures the same loops among the
peers and writes ``docs/benchmarks-core.md``.

    python benchmarks/bench_core.py [--out FILE]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import timeit
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

NUMBER = 200_000
REPEAT = 7


def measure(stmt: Callable[[], object]) -> tuple[float, float, float]:
    runs = [t / NUMBER * 1e9 for t in timeit.repeat(stmt, number=NUMBER, repeat=REPEAT)]
    return statistics.median(runs), min(runs), max(runs)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--out", type=Path, help="also write the table there (make bench writes docs/)"
    )
    args = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.django.project.settings")
    import django

    django.setup()
    from django.core.signals import request_started

    from secret_keyring import CachedKeyring
    from secret_keyring.django import live
    from secret_keyring.testing import StaticProvider

    cache = CachedKeyring(StaticProvider(), ttl=3600)
    cache.get()
    active = live.active()
    assert active is not None
    constant = cache.keyring

    def read_constant() -> object:
        return constant

    def send_without_receivers() -> object:
        return request_started.send(sender=None, environ={})

    rows = [
        ("module-level constant (floor)", measure(read_constant)),
        ("CachedKeyring.get(), primed", measure(cache.get)),
        ("per-request check: LiveKeyring.check()", measure(active.check)),
        ("request_started.send() with our receiver", measure(send_without_receivers)),
    ]
    from secret_keyring.django.apps import _on_request_started

    request_started.disconnect(
        _on_request_started, dispatch_uid="secret_keyring.django.request_started"
    )
    rows.append(("request_started.send() without it", measure(send_without_receivers)))

    lines = [
        "| operation | median ns | min-max ns |",
        "|---|---:|---:|",
        *(f"| {name} | {med:.0f} | {lo:.0f}-{hi:.0f} |" for name, (med, lo, hi) in rows),
    ]
    table = "\n".join(lines)
    print(table)
    text = (
        "## Hot path: primed get and per-request check\n\n"
        f"Python {sys.version.split()[0]}, {NUMBER:,} calls x {REPEAT} runs each; median with "
        "min-max. The per-request check is what the app's `request_started` receiver does: one "
        "clock read and one comparison until a refresh is due.\n\n" + table + "\n"
    )
    if args.out is not None:
        args.out.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
