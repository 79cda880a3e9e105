"""Fleet fixtures, and the side-by-side report printed at the end of the run."""

from __future__ import annotations

from pathlib import Path

import pytest

from devservers import fleet as driver
from devservers.openbao import BaoServer
from tests.plugins import summary

_results: list[driver.FleetResult] = []


@pytest.fixture(scope="module")
def fleet_vault(openbao: BaoServer) -> driver.Vault:
    """The session's OpenBao dev server, as root: the fleet's secret and its rotations."""
    return driver.Vault(openbao.addr, openbao.root_token)


@pytest.fixture(scope="module")
def fleet_database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated example database with the fleet's users, made once and copied per run."""
    return driver.prepare_database(tmp_path_factory.mktemp("fleet-db"), driver.user_table())


@pytest.fixture
def fleet_report() -> list[driver.FleetResult]:
    """Results appended here are printed side by side after the run (test_fleet.py is one
    module, so xdist's --dist loadscope runs its fleets in one worker, side by side)."""
    summary.render_at_end(
        "fleet rotation: rejected requests, keyring JSON vs plain payload",
        lambda: driver.describe(_results) if _results else [],
    )
    return _results
