"""The minimum interval between two rotations: the guard itself, and ``rotate_source`` and
``secret-keyring rotate`` on files, whose age is their modification time. Time is an injected
clock or a modification time set in the past, never a sleep. The Vault and Secrets Manager
ages (``created_time``, ``CreatedDate``) are tested against their servers in
tests/integration/test_rotation_interval.py."""

from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path

import pytest

from secret_keyring.cli import main
from secret_keyring.errors import ConfigurationError
from secret_keyring.keygen import new_keyring
from secret_keyring.payload import keyring_to_json, parse_payload
from secret_keyring.providers.local import FileProvider
from secret_keyring.rotation import (
    DEFAULT_MIN_INTERVAL,
    IntervalGuard,
    fleet_min_interval,
    http_date,
)
from secret_keyring.rotation.run import rotate_source
from tests.plugins.leakguard import assert_no_key_material

NOW = 1_800_000_000.0


def clock_at(now: float) -> IntervalGuard:
    return IntervalGuard(clock=lambda: now)


# -- the guard ---------------------------------------------------------------------------------


def test_default_is_fifteen_minutes_over_twice_the_default_ttl() -> None:
    from secret_keyring.cache import CachedKeyring

    default_ttl = CachedKeyring.__init__.__kwdefaults__["ttl"]  # type: ignore[index]
    assert DEFAULT_MIN_INTERVAL == IntervalGuard().min_interval == 900
    assert DEFAULT_MIN_INTERVAL > 2 * default_ttl


@pytest.mark.parametrize(
    ("age", "blocked"),
    [(0.0, True), (899.9, True), (900.0, False), (86400.0, False), (-30.0, True)],
)
def test_too_soon_compares_the_age_with_the_interval(age: float, blocked: bool) -> None:
    """A negative age (the backend's clock ahead of ours) counts as brand new."""
    reason = clock_at(NOW).too_soon(NOW - age)
    assert (reason is not None) == blocked
    if reason is not None:
        assert reason.startswith(f"skipped: the last rotation is {max(0, int(age))} s old")
        assert "900 s" in reason


def test_the_skip_message_names_what_rotates_anyway() -> None:
    """The reader of a skip is on a command line (``--force``) or reads the scheduled handler's
    result, which has no flag: there a minimum of 0 is the way."""
    assert clock_at(NOW).too_soon(NOW).endswith("(--force rotates anyway)")  # type: ignore[union-attr]
    handler = IntervalGuard(clock=lambda: NOW, override="SECRET_KEYRING_MIN_INTERVAL=0")
    assert handler.too_soon(NOW).endswith(  # type: ignore[union-attr]
        "(SECRET_KEYRING_MIN_INTERVAL=0 rotates anyway)"
    )


def test_force_zero_and_unknown_age_never_block() -> None:
    assert IntervalGuard(force=True, clock=lambda: NOW).too_soon(NOW) is None
    assert IntervalGuard(0, clock=lambda: NOW).too_soon(NOW) is None
    assert clock_at(NOW).too_soon(None) is None
    assert not IntervalGuard(force=True).active
    assert not IntervalGuard(0).active
    assert IntervalGuard().active


@pytest.mark.parametrize("value", [-1, -0.5, math.nan, math.inf, True, "900", None])
def test_bad_intervals_are_refused_naming_the_option(value: object) -> None:
    with pytest.raises(ConfigurationError, match=r"min_interval must be a number of seconds") as e:
        IntervalGuard(value)  # type: ignore[arg-type]
    assert "keep it at least 2 x ttl + refresh_timeout" in str(e.value)  # the docs' one rule
    with pytest.raises(ConfigurationError, match=r"^--min-interval must be"):
        IntervalGuard(value, option="--min-interval")  # type: ignore[arg-type]


def test_whole_and_fractional_seconds_are_accepted() -> None:
    assert IntervalGuard(0).min_interval == 0
    assert IntervalGuard(1800).min_interval == 1800
    assert IntervalGuard(0.5).min_interval == 0.5


# -- rotate_source on a file -------------------------------------------------------------------


@pytest.fixture
def keyring_file(tmp_path: Path) -> Path:
    path = tmp_path / "keyring.json"
    path.write_text(keyring_to_json(new_keyring()))
    os.utime(path, (NOW, NOW))  # written at NOW by the injected clock's reckoning
    return path


def test_a_file_younger_than_the_interval_is_left_alone(keyring_file: Path) -> None:
    before = keyring_file.read_bytes()
    provider = FileProvider(str(keyring_file))

    report = rotate_source(provider, clock=lambda: NOW + 600)

    assert report.skipped
    assert not report.written
    assert report.how.startswith("skipped: the last rotation is 600 s old")
    assert report.fingerprints == provider.fetch().fingerprints
    assert keyring_file.read_bytes() == before


def test_a_file_older_than_the_interval_is_rotated(keyring_file: Path) -> None:
    old = parse_payload(keyring_file.read_bytes()).to_keyring()

    report = rotate_source(FileProvider(str(keyring_file)), clock=lambda: NOW + 901)

    assert (report.skipped, report.written) == (False, True)
    assert parse_payload(keyring_file.read_bytes()).to_keyring().current == old.next


@pytest.mark.parametrize("options", [{"force": True}, {"min_interval": 0}])
def test_force_or_no_minimum_rotates_at_once(
    keyring_file: Path, options: dict[str, object]
) -> None:
    old = parse_payload(keyring_file.read_bytes()).to_keyring()
    report = rotate_source(FileProvider(str(keyring_file)), clock=lambda: NOW, **options)  # type: ignore[arg-type]
    assert report.written
    assert parse_payload(keyring_file.read_bytes()).to_keyring().current == old.next


def test_a_custom_interval(keyring_file: Path) -> None:
    provider = FileProvider(str(keyring_file))
    assert rotate_source(provider, min_interval=60, clock=lambda: NOW + 59).skipped
    assert rotate_source(provider, min_interval=60, clock=lambda: NOW + 61).written


def test_a_bad_interval_fails_before_anything_is_read(tmp_path: Path) -> None:
    missing = FileProvider(str(tmp_path / "missing"))  # reading it would be SecretNotFound
    with pytest.raises(ConfigurationError, match="min_interval must be a number of seconds"):
        rotate_source(missing, min_interval=-1)


# -- secret-keyring rotate ---------------------------------------------------------------------


def _age(path: Path, seconds: float) -> None:
    stamp = time.time() - seconds
    os.utime(path, (stamp, stamp))


def test_cli_skips_within_the_interval_and_exits_0(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "keyring.json"
    path.write_text(keyring_to_json(new_keyring()))
    _age(path, 120)
    before = path.read_bytes()

    assert main(["rotate", f"file://{path}"]) == 0

    out = capsys.readouterr().out
    assert "skipped: the last rotation is 12" in out  # 120 s, give or take the run itself
    assert "(--force rotates anyway)" in out
    assert path.read_bytes() == before
    assert_no_key_material(out, "rotate output")


def test_cli_rotates_once_the_interval_has_passed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "keyring.json"
    old = new_keyring()
    path.write_text(keyring_to_json(old))
    _age(path, 16 * 60)

    assert main(["rotate", "--json", f"file://{path}"]) == 0

    report = json.loads(capsys.readouterr().out)
    assert (report["written"], report["skipped"]) == (True, False)
    assert parse_payload(path.read_bytes()).to_keyring().current == old.next


@pytest.mark.parametrize("args", [["--force"], ["--min-interval", "0"], ["--min-interval", "60"]])
def test_cli_force_and_min_interval(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str]
) -> None:
    path = tmp_path / "keyring.json"
    old = new_keyring()
    path.write_text(keyring_to_json(old))
    _age(path, 120)

    assert main(["rotate", *args, "--json", f"file://{path}"]) == 0

    assert json.loads(capsys.readouterr().out)["written"] is True
    assert parse_payload(path.read_bytes()).to_keyring().current == old.next


@pytest.mark.parametrize("value", ["-5", "nan", "inf"])
def test_cli_bad_min_interval(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], value: str
) -> None:
    path = tmp_path / "keyring.json"
    before = keyring_to_json(new_keyring())
    path.write_text(before)

    assert main(["rotate", "--min-interval", value, f"file://{path}"]) == 1

    err = capsys.readouterr().err
    assert "ConfigurationError: min_interval must be a number of seconds, 0 or more" in err
    assert path.read_text() == before


def test_cli_min_interval_must_be_a_number(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["rotate", "--min-interval", "15m", "file:///x"])
    assert exit_.value.code == 2
    assert "--min-interval" in capsys.readouterr().err


# -- the server's clock ------------------------------------------------------------------------


def test_the_servers_now_wins_over_the_local_clock() -> None:
    """A local clock a whole interval ahead of the server's does not age a fresh version."""
    guard = IntervalGuard(clock=lambda: NOW + DEFAULT_MIN_INTERVAL)
    reason = guard.too_soon(NOW - 10, now=NOW)
    assert reason is not None
    assert reason.startswith("skipped: the last rotation is 10 s old")
    assert guard.too_soon(NOW - 10) is None  # without the server's time, the local clock


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("Tue, 15 Nov 1994 08:12:31 GMT", 784887151.0),  # IMF-fixdate (RFC 9110)
        ("Tuesday, 15-Nov-94 08:12:31 GMT", 784887151.0),  # obsolete RFC 850 form
        ("Tue Nov 15 08:12:31 1994", 784887151.0),  # obsolete asctime form
        ("Tue, 15 Nov 1994 08:12:31 -0000", 784887151.0),
        ("", None),
        ("yesterday", None),
        (None, None),
        (1994, None),
    ],
)
def test_http_date(header: object, expected: float | None) -> None:
    assert http_date(header) == expected


@pytest.mark.parametrize(
    ("ttl", "refresh_timeout", "expected"),
    [(300, 60, 900), (60, 60, 900), (400, 100, 900), (3600, 300, 7500), (1800, 60, 3660)],
)
def test_fleet_min_interval(ttl: float, refresh_timeout: float, expected: float) -> None:
    """Twice the TTL plus a hung refresh, never below the 900 s default."""
    assert fleet_min_interval(ttl, refresh_timeout) == expected
