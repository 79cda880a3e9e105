"""Rendering ``CachedKeyring.status()`` for people (a table) and machines (JSON)."""

from __future__ import annotations

import datetime
import json
from collections.abc import Mapping
from typing import Any

__all__ = ["render_status", "status_json"]

_PLAIN_NOTE = (
    "plain payload: fallbacks come from the backend's older versions, so during a rotation a "
    "process with a stale cache rejects signatures made with the new key; store keyring JSON "
    "(current/next/previous) for zero-failure fleet rotation"
)


def _seconds(value: object) -> str:
    if not isinstance(value, (int, float)):
        return "-"
    if value < 120:
        return f"{value:.1f}s"
    if value < 7200:
        return f"{value / 60:.1f}m"
    return f"{value / 3600:.1f}h"


def _when(epoch: object) -> str:
    if not isinstance(epoch, (int, float)):
        return "-"
    moment = datetime.datetime.fromtimestamp(epoch, tz=datetime.timezone.utc)
    return moment.isoformat(timespec="seconds")


def render_status(status: Mapping[str, Any]) -> str:
    """A readable table of a status dict; fingerprints only."""
    fps = status.get("fingerprints") or {}
    previous = fps.get("previous") or []
    rows = [
        ("source", str(status.get("source", "-"))),
        ("version", str(status.get("version") or "-")),
        ("fetched at", _when(status.get("fetched_at"))),
        ("age", _seconds(status.get("age"))),
        ("next refresh", "in " + _seconds(status.get("next_refresh"))),
        ("current", fps.get("current") or "-"),
        ("next", fps.get("next") or "- (none)"),
        ("previous", ", ".join(previous) if previous else "- (none)"),
        ("failures", str(status.get("failures", 0))),
        ("last error", str(status.get("last_error") or "-")),
    ]
    if status.get("stale"):
        rows.append(("stale", "YES: past max_stale"))
    ignored = (status.get("provider") or {}).get("ignored_pending")
    if ignored:
        rows.append(("ignored", f"AWSPENDING {ignored['version']}: {ignored['reason']}"))
    width = max(len(name) for name, _ in rows)
    lines = [f"{name.ljust(width)}  {value}" for name, value in rows]
    if fps and fps.get("next") is None:
        lines.append("")
        lines.append("note: " + _PLAIN_NOTE)
    return "\n".join(lines)


def status_json(status: Mapping[str, Any]) -> str:
    """The status dict as indented JSON, with ``kind`` added."""
    data = dict(status)
    fps = data.get("fingerprints") or {}
    data["kind"] = None if not fps else ("keyring" if fps.get("next") else "plain")
    return json.dumps(data, indent=2, sort_keys=True)
