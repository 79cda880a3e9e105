"""KV v2 metadata: which versions count as live."""

from __future__ import annotations

import datetime

import pytest

from secret_keyring.providers.vault import kv as vault

NOW = datetime.datetime(2026, 3, 1, 12, 0, 0, tzinfo=datetime.timezone.utc).timestamp()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-03-01T12:00:00Z", NOW),
        ("2026-03-01T12:00:00.123456789Z", NOW),
        ("2026-03-01T13:30:00+01:30", NOW),
        ("2026-03-01T10:00:00-02:00", NOW),
        ("2026-03-01 12:00:00Z", NOW),
        ("2026-03-01t13:30:00.5+01:30", NOW),
        ("yesterday", None),
        ("", None),
        ("2026-03-01T12:00:00", None),  # no zone
        ("2026-03-01T12:00:00.Z", None),  # a point without digits
        ("2026-03-01T12:00:00+0130", None),  # an offset without its colon
        ("2026-03-01T12:00:00Z ", None),
        ("2026-13-01T12:00:00Z", None),  # no such month
        ("2026-02-30T12:00:00Z", None),
        ("2026-03-01T12:00:00+1:30", None),
        ("\uff12026-03-01T12:00:00Z", None),  # a digit, but not an ASCII one
    ],
)
def test_parse_time(text: str, expected: float | None) -> None:
    assert vault._parse_time(text) == expected


@pytest.mark.parametrize(
    ("info", "live"),
    [
        ({"deletion_time": "", "destroyed": False}, True),
        ({"deletion_time": "2026-03-01T11:59:59Z", "destroyed": False}, False),
        ({"deletion_time": "2026-03-01T12:00:00Z", "destroyed": False}, False),
        # delete_version_after: a deletion time still ahead has not happened yet
        ({"deletion_time": "2026-03-01T12:00:01Z", "destroyed": False}, True),
        ({"deletion_time": "", "destroyed": True}, False),
        ({"deletion_time": "garbled", "destroyed": False}, False),
        (None, False),
        ("1", False),
    ],
)
def test_is_live(info: object, live: bool) -> None:
    assert vault._is_live(info, NOW) is live
