"""Zero rejected signatures across rotations, proven on a real fleet.

The example site runs under gunicorn with 4 sync workers (once more with ``--preload``), its
settings reading keyring JSON from a real OpenBao with ``SECRET_KEYRING_TTL=2``. While 40 users
keep visiting (session cookie, signed cookie, password-reset token), the keyring is rotated 10
times, 3 seconds apart: longer than the TTL, so no worker is ever two rotations behind, yet after
every rotation some workers serve the previous keyring for up to a TTL.

What "zero failures" covers, and how the keys stay in the keyring: the claim is about the
rotation window, when workers with stale caches meet signatures made with a key they have not
been told is current yet (Django ticket #35400). It is not about keys older than the keyring
keeps. So the scenario (``driver.py``) has two kinds of users:

* half are *steady*: everything they hold was signed before the first rotation, with key #0,
  and is presented until the end. The rotations keep ``max_fallbacks=10`` previous keys, so key
  #0 is still a ``previous`` key after 10 rotations and every rejection of it would be a bug, not
  an expired key. (Their session cookie is re-signed by Django after a rotation, as a browser's
  is, so it also carries new keys to workers that have not refreshed yet.)
* half are *churning*: every second they log in again and fetch a new signed cookie and token
  from whichever worker answers, then present them to the others: new-key signatures meeting
  stale workers, continuously, through all 10 rotations.

A credential older (in rotations) than the keyring keeps keys is rejected whatever the library;
the rotation's ``max_fallbacks`` is what to size for the lifetime of signed values.

Without ``--preload`` the workers start ``TTL / 4`` apart, so their refresh phases spread over the
TTL as a real fleet's do; with ``--preload`` they inherit one fetch and refresh in near lockstep.

With ``--preload`` and ``--max-requests``, gunicorn replaces each worker after a few hundred
requests by forking the master again; the master fetched the keyring at boot and, serving no
requests, never refreshed it, so from the second rotation on every new worker starts with a
keyring that does not hold the fleet's current key. It must refresh that inherited keyring before
its first request is served.

The plain-payload run is a comparison, reported and not asserted to fail: fallbacks are only the
earlier KV versions, so a stale worker rejects what an updated one signs. Its rejections (printed
at the end of the run, beside the keyring runs) show that the load does put new-key signatures
in front of stale workers: the keyring runs' zero is not for lack of opportunity.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from devservers import fleet as driver

pytestmark = [pytest.mark.fleet, pytest.mark.vault, pytest.mark.slow]


def _assert_fleet_converged(result: driver.FleetResult) -> None:
    assert result.rotations == driver.ROTATIONS
    # Every worker, told apart by pid, signs with the final key; none was restarted (a fresh
    # worker would have fetched the newest keyring at boot and proven nothing).
    assert len(result.converged_pids) == driver.WORKERS
    assert set(result.signing_fingerprints.values()) == {result.final[0]}
    assert result.booted_workers == driver.WORKERS


@pytest.mark.parametrize("preload", [False, True], ids=["workers", "preload"])
def test_keyring_json_fleet_rejects_nothing_across_ten_rotations(
    preload: bool,
    fleet_vault: driver.Vault,
    fleet_database: Path,
    fleet_report: list[driver.FleetResult],
    tmp_path: Path,
) -> None:
    result = driver.run_fleet(
        fleet_vault, tmp_path, payload="keyring", preload=preload, database=fleet_database
    )
    fleet_report.append(result)
    print(result.summary())

    # The load reached every check, steadily, during the whole rotation window.
    for check in driver.CHECKS:
        assert result.counts[(check, "ok")] > 10 * driver.ROTATIONS, check
    assert result.renewals > driver.ROTATIONS * driver.USERS // 4

    assert result.outcome("logged_out") == 0, result.summary()
    assert result.outcome("bad_signature") == 0, result.summary()
    assert result.outcome("server_error") == 0, result.summary()
    assert result.outcome("unexpected") == 0, result.summary()
    assert result.outcome("transport_error") == 0, result.summary()
    assert result.relogins == 0
    _assert_fleet_converged(result)


#: Requests after which gunicorn replaces a worker: small enough that the 4 workers are replaced
#: many times during the 10 rotations (each serves about 50 requests a second here).
RECYCLE_AFTER = 100


def test_recycled_workers_forked_from_an_idle_master_reject_nothing(
    fleet_vault: driver.Vault,
    fleet_database: Path,
    fleet_report: list[driver.FleetResult],
    tmp_path: Path,
) -> None:
    """``--preload --max-requests``: every replacement worker is forked from a master whose
    keyring is as old as the run, up to 10 rotations behind."""
    result = driver.run_fleet(
        fleet_vault,
        tmp_path,
        payload="keyring",
        preload=True,
        database=fleet_database,
        max_requests=RECYCLE_AFTER,
    )
    fleet_report.append(result)
    print(f"{result.summary()}; {result.booted_workers} workers booted")

    # Workers were replaced all through the rotations, not only at the start.
    assert result.booted_workers >= 2 * driver.WORKERS, result.booted_workers
    for check in driver.CHECKS:
        assert result.counts[(check, "ok")] > 10 * driver.ROTATIONS, check
    assert result.outcome("logged_out") == 0, result.summary()
    assert result.outcome("bad_signature") == 0, result.summary()
    assert result.outcome("server_error") == 0, result.summary()
    assert result.outcome("unexpected") == 0, result.summary()
    assert result.outcome("transport_error") == 0, result.summary()
    assert result.relogins == 0
    assert result.rotations == driver.ROTATIONS
    assert set(result.signing_fingerprints.values()) == {result.final[0]}


def test_plain_payload_fleet_for_comparison(
    fleet_vault: driver.Vault,
    fleet_database: Path,
    fleet_report: list[driver.FleetResult],
    tmp_path: Path,
) -> None:
    """The same fleet with a plain ``secret_key`` field: reported, not asserted to fail.

    How many requests a stale worker rejects depends on timing; the run only has to be a fair
    comparison: same load, same rotations, no errors of another kind, every worker converged.
    """
    result = driver.run_fleet(fleet_vault, tmp_path, payload="plain", database=fleet_database)
    fleet_report.append(result)
    print(result.summary())

    for check in driver.CHECKS:
        assert result.counts[(check, "ok")] > 10 * driver.ROTATIONS, check
    assert result.outcome("server_error") == 0, result.summary()
    assert result.outcome("unexpected") == 0, result.summary()
    assert result.outcome("transport_error") == 0, result.summary()
    _assert_fleet_converged(result)
