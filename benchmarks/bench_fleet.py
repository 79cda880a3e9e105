"""The fleet scenario as a benchmark: rejected requests during 10 rotations, keyring JSON against
a plain payload, on the same 4-worker gunicorn fleet and the same load.

The scenario is ``devservers/fleet.py`` (the fleet test asserts zero rejections for keyring
JSON; here both are counted and reported). One local OpenBao dev server, started here on a free
loopback port.

    python benchmarks/bench_fleet.py
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

if TYPE_CHECKING:
    from devservers.fleet import FleetResult, Vault


def run(vault: Vault, workdir: Path) -> list[FleetResult]:
    """Keyring JSON, then a plain payload, each on a fresh gunicorn fleet and KV path."""
    from devservers import fleet as driver

    database = driver.prepare_database(workdir / "db", driver.user_table())
    results = []
    for payload in ("keyring", "plain"):
        result = driver.run_fleet(
            vault, workdir / payload, payload=payload, preload=False, database=database
        )
        print(result.summary(), file=sys.stderr, flush=True)
        results.append(result)
    return results


def main() -> int:
    from devservers import fleet as driver
    from devservers.openbao import BaoServer

    workdir = Path(tempfile.mkdtemp(prefix="bench-fleet-"))
    server = BaoServer(workdir / "openbao").start()
    try:
        results = run(driver.Vault(server.addr, server.root_token), workdir)
    finally:
        server.stop()
    for line in driver.describe(results):
        print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
