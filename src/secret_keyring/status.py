"""Rendering ``CachedKeyring.status()`` for people (a table) and machines (JSON)."""

from __future__ import annotations

import datetime
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from secret_keyring.rotation import RotationReport

__all__ = ["fingerprint_rows", "render_report", "render_status", "status_json"]

_PLAIN_NOTE = (
    "plain payload: fallbacks come from the backend's older versions, so during a rotation a "
    "process with a stale cache rejects signatures made with the new key; store keyring JSON "
    "(current/next/previous) for zero-failure fleet rotation"
)


_NO_HISTORY_NOTE = (
    "plain key: this source keeps no older versions, so the key has no fallbacks and "
    "replacing it logs everybody out; store keyring JSON (current/next/previous) instead"
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


def fingerprint_rows(fps: Mapping[str, Any] | None) -> list[tuple[str, str]]:
    """``current``/``next``/``previous`` rows of a fingerprints dict, a weak key marked."""
    if not fps:
        return []
    weak = set(fps.get("weak") or [])

    def shown(fp: str, retired_by: str) -> str:
        return f"{fp} (weak: {retired_by})" if fp in weak else fp

    previous = [shown(fp, "the next rotation drops it") for fp in fps.get("previous") or []]
    current = fps.get("current")
    return [
        ("current", shown(current, "two rotations retire it") if current else "-"),
        ("next", fps.get("next") or "- (none)"),
        ("previous", ", ".join(previous) if previous else "- (none)"),
    ]


def render_report(report: RotationReport) -> str:
    """What a rotation or an init did, for people: the path taken, the version, fingerprints
    (a weak key marked); the same for ``secret-keyring`` and the management commands."""
    lines = [f"{report.source}: {report.how}", f"  version   {report.version or '-'}"]
    lines += [
        f"  {name.ljust(8)}  {value}" for name, value in fingerprint_rows(report.fingerprints)
    ]
    return "\n".join(lines)


def render_status(status: Mapping[str, Any]) -> str:
    """A readable table of a status dict; fingerprints only. The ``next refresh`` row is
    there only when the dict has ``next_refresh``: a one-shot command drops it."""
    fps = status.get("fingerprints") or {}
    rows = [
        ("source", str(status.get("source", "-"))),
        ("version", str(status.get("version") or "-")),
        ("fetched at", _when(status.get("fetched_at"))),
        ("age", _seconds(status.get("age"))),
        *(
            [("next refresh", "in " + _seconds(status["next_refresh"]))]
            if "next_refresh" in status
            else []
        ),
        *(
            fingerprint_rows(fps)
            or [("current", "-"), ("next", "- (none)"), ("previous", "- (none)")]
        ),
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
        if status.get("backend_history"):
            lines += ["", "note: " + _PLAIN_NOTE]
        elif not fps.get("previous"):
            lines += ["", "note: " + _NO_HISTORY_NOTE]
    return "\n".join(lines)


def status_json(status: Mapping[str, Any]) -> str:
    """The status dict as indented JSON, with ``kind`` added."""
    data = dict(status)
    fps = data.get("fingerprints") or {}
    data["kind"] = None if not fps else ("keyring" if fps.get("next") else "plain")
    return json.dumps(data, indent=2, sort_keys=True)
