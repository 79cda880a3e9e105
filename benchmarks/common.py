"""What the benchmark scripts share: running this interpreter on a program of ours."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_python(
    args: list[str], env: dict[str, str], cwd: Path = ROOT
) -> subprocess.CompletedProcess[str]:
    """``python ARGS`` with ``env``; its output, or ``RuntimeError`` with the end of stderr."""
    result = subprocess.run(
        [sys.executable, *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=str(cwd),
        check=False,
        timeout=120,
    )
    if result.returncode != 0:
        raise RuntimeError(f"{args[-1][:60]!r} failed:\n{result.stderr[-2000:]}")
    return result
