"""What the benchmark scripts share: running this interpreter on a program of ours."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_python(
    args: list[str],
    env: dict[str, str],
    cwd: Path = ROOT,
    *,
    under: Sequence[str] = (),
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    """``python ARGS`` with ``env`` (run by the tool ``under`` names, if any: valgrind); its
    output, or ``RuntimeError`` with the end of stderr."""
    result = subprocess.run(
        [*under, sys.executable, *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=str(cwd),
        check=False,
        timeout=timeout,
    )
    if result.returncode != 0:
        raise RuntimeError(f"{args[-1][:60]!r} failed:\n{result.stderr[-2000:]}")
    return result
