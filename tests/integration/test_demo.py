"""`make demo` keeps working: the script runs end to end against real OpenBao and gunicorn."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.vault
@pytest.mark.slow
def test_demo_runs_end_to_end() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "demo.py")],
        capture_output=True,
        text=True,
        timeout=170,
        check=False,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert [line[:5] for line in lines if line.startswith("[")] == [
        "[1/6]",
        "[2/6]",
        "[3/6]",
        "[4/6]",
        "[5/6]",
        "[6/6]",
    ]
    assert result.stdout.count("still says 'demo'") == 2
    # Every command is printed exactly as run: a copied `rotate` without the `--min-interval 0`
    # the demo needs would be skipped by the interval guard.
    commands = [line.strip()[2:] for line in lines if line.strip().startswith("$ ")]
    assert commands[0].startswith("export VAULT_ADDR=http://127.0.0.1:")
    assert commands[1:] == [
        "secret-keyring init vault://secret/demo/django",
        "secret-keyring rotate vault://secret/demo/django --min-interval 0 --json",
        "secret-keyring rotate vault://secret/demo/django --min-interval 0 --json",
    ]
    assert "zero logouts" in lines[-1]
