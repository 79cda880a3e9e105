"""``manage.py rotate_secret_key`` on a schedule: the minimum interval (by default derived from
the project's own cache configuration) and ``--force``, and the systemd unit and timer in
examples/systemd (shown in docs/rotation.md), whose command line is checked with the management
command's own parser."""

from __future__ import annotations

import configparser
import os
import shlex
import time
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from secret_keyring import CachedKeyring
from secret_keyring.django import live
from secret_keyring.django.management.commands.rotate_secret_key import Command
from secret_keyring.keygen import new_keyring
from secret_keyring.payload import keyring_to_json, parse_payload
from secret_keyring.providers.local import FileProvider
from tests.plugins.leakguard import assert_no_key_material

REPO = Path(__file__).resolve().parents[2]
UNIT = REPO / "examples" / "systemd" / "django-rotate-secret-key.service"
TIMER = REPO / "examples" / "systemd" / "django-rotate-secret-key.timer"


def run(*args: str) -> str:
    out = StringIO()
    call_command("rotate_secret_key", *args, stdout=out)
    assert_no_key_material(out.getvalue(), "rotate_secret_key output")
    return out.getvalue()


@pytest.fixture
def keyring_file(tmp_path: Path) -> Path:
    path = tmp_path / "keyring.json"
    path.write_text(keyring_to_json(new_keyring()))
    return path


def _age(path: Path, seconds: float) -> None:
    stamp = time.time() - seconds
    os.utime(path, (stamp, stamp))


def test_a_run_inside_the_interval_writes_nothing(keyring_file: Path) -> None:
    _age(keyring_file, 60)
    before = keyring_file.read_bytes()

    output = run("--source", f"file://{keyring_file}")

    assert "skipped: the last rotation is 6" in output  # 60 s, give or take the run
    assert keyring_file.read_bytes() == before


def test_force_and_the_interval_option(keyring_file: Path) -> None:
    old = parse_payload(keyring_file.read_bytes()).to_keyring()
    _age(keyring_file, 60)

    run("--source", f"file://{keyring_file}", "--min-interval", "30")
    once = parse_payload(keyring_file.read_bytes()).to_keyring()
    assert once.current == old.next

    run("--source", f"file://{keyring_file}", "--force")
    assert parse_payload(keyring_file.read_bytes()).to_keyring().current == once.next


def test_a_run_after_the_interval_rotates(keyring_file: Path) -> None:
    old = parse_payload(keyring_file.read_bytes()).to_keyring()
    _age(keyring_file, 16 * 60)
    output = run("--source", f"file://{keyring_file}")
    assert "skipped" not in output
    assert parse_payload(keyring_file.read_bytes()).to_keyring().current == old.next


@pytest.fixture
def hour_ttl_project(keyring_file: Path, keep_live: None) -> Path:
    """The running project reads ``keyring_file`` with ``secret_keys(ttl=3600)`` and a
    ``refresh_timeout`` of 300 s, as a project with a long TTL would (the cache and the live
    keyring are the real ones; the test project's own are put back afterwards)."""
    assert live.active() is not None, "the test settings call secret_keys()"
    cache = CachedKeyring(FileProvider(str(keyring_file)), ttl=3600, refresh_timeout=300)
    live.activate(cache, cache.get())
    return keyring_file


def test_the_default_interval_covers_a_long_ttl(hour_ttl_project: Path) -> None:
    """At ``ttl=3600`` a fixed 900 s protects nothing: a process may sign with a keyring an
    hour old. A keyring written 1,000 s ago (past 900 s) is still too young for this project:
    the default is 2 x 3600 + 300 = 7,500 s, and the output says so and why."""
    _age(hour_ttl_project, 1000)
    before = hour_ttl_project.read_bytes()

    output = run()

    assert "minimum interval 7500 s: 2 x ttl (3600 s) + refresh_timeout (300 s)" in output
    assert "skipped: the last rotation is 100" in output  # 1,000 s, give or take the run
    assert hour_ttl_project.read_bytes() == before

    _age(hour_ttl_project, 7600)
    assert "skipped" not in run()
    assert hour_ttl_project.read_bytes() != before


def test_the_default_interval_never_goes_below_fifteen_minutes(
    keyring_file: Path, keep_live: None
) -> None:
    """A project reading with ``ttl=60``: 2 x 60 + its refresh_timeout is less than 900 s, so
    the floor applies (and the output says which one it is)."""
    cache = CachedKeyring(FileProvider(str(keyring_file)), ttl=60, refresh_timeout=60)
    live.activate(cache, cache.get())
    output = run()
    assert output.startswith("minimum interval 900 s: the floor; 2 x ttl (60 s)")


def test_another_source_does_not_take_this_projects_ttl(
    hour_ttl_project: Path, keyring_file: Path, tmp_path: Path
) -> None:
    """``--source`` naming a secret other fleets read: this project's ``ttl=3600`` says nothing
    about them, so the default applies, and the output says why."""
    other = tmp_path / "other.json"
    other.write_bytes(hour_ttl_project.read_bytes())
    output = run("--source", f"file://{other}")
    assert output.startswith("minimum interval 900 s: the default; --source names another")


def test_the_interval_given_is_said_to_be_given(keyring_file: Path) -> None:
    output = run("--source", f"file://{keyring_file}", "--min-interval", "30", "--force")
    assert output.startswith("minimum interval 30 s: --min-interval; not applied (--force)")


def test_help_says_what_the_default_interval_is() -> None:
    text = " ".join(Command().create_parser("manage.py", "rotate_secret_key").format_help().split())
    assert "(default 2 x ttl + refresh_timeout of this project's secret_keys(), at least 900;" in (
        text
    )


def test_a_bad_interval_is_a_command_error(keyring_file: Path) -> None:
    with pytest.raises(CommandError, match="ConfigurationError: min_interval must be a number"):
        run("--source", f"file://{keyring_file}", "--min-interval", "-1")


# -- the systemd unit and timer ------------------------------------------------------------------


def _ini(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # systemd keys are case-sensitive
    parser.read_string(path.read_text(encoding="utf-8"))
    return parser


def test_the_unit_runs_the_command_with_valid_arguments() -> None:
    unit = _ini(UNIT)
    service = unit["Service"]
    assert service["Type"] == "oneshot"
    assert service["EnvironmentFile"]
    argv = shlex.split(service["ExecStart"])
    assert argv[1:3] == ["manage.py", "rotate_secret_key"]
    options = Command().create_parser("manage.py", "rotate_secret_key").parse_args(argv[3:])
    # No --min-interval: the command works it out from the project's TTL (900 s at least).
    assert options.min_interval is None
    assert options.force is False
    assert "network-online.target" in unit["Unit"]["After"]


def test_the_timer_starts_the_unit_monthly_and_catches_up() -> None:
    timer = _ini(TIMER)["Timer"]
    assert timer["OnCalendar"] == "*-*-01 04:00:00"
    assert timer["Persistent"] == "true"
    # The timer is named after the unit it starts.
    assert TIMER.stem == UNIT.stem


def test_the_docs_show_both_files_as_they_are() -> None:
    page = (REPO / "docs" / "rotation.md").read_text(encoding="utf-8")
    for path in (UNIT, TIMER):
        assert path.read_text(encoding="utf-8") in page, (
            f"docs/rotation.md does not show {path.name}"
        )
