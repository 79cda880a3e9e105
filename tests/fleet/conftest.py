"""Fleet fixtures, and the side-by-side report printed at the end of the run."""

from __future__ import annotations

from pathlib import Path

import pytest

from devservers import fleet as driver
from devservers import fleet_sessions
from devservers.openbao import BaoServer
from tests.plugins import summary

_results: list[driver.FleetResult] = []
_session_results: list[fleet_sessions.SessionsResult] = []


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
    """Results appended here are printed side by side after the run (one table per test
    process: under xdist, each worker prints the fleets it ran)."""
    summary.render_at_end(
        "fleet rotation: rejected requests, keyring JSON vs plain payload",
        lambda: driver.describe(_results) if _results else [],
    )
    return _results


@pytest.fixture
def fleet_sessions_report() -> list[fleet_sessions.SessionsResult]:
    """Session results appended here are printed after the run, below the fleet's."""
    summary.render_at_end(
        "fleet sessions during convergence: concurrent page loads, database vs signed cookies",
        lambda: fleet_sessions.describe(_session_results) if _session_results else [],
    )
    return _session_results
