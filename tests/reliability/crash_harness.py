"""Runs one rotation in this process and kills it with SIGKILL at a named point.

Run as ``python crash_harness.py`` with the plan in the ``CRASH_PLAN`` environment variable (JSON):

* ``mode``: ``aws-lambda`` (the four steps through ``lambda_handler``, as Secrets Manager invokes
  them, for ``secret`` and ``token``), ``aws-cli`` or ``vault-cli`` (``secret-keyring rotate URL``);
* ``point``: where to die, ``WHEN:OPERATION#N`` where ``WHEN`` is ``before`` (the call is never
  made), ``after`` (it returned; the process dies before doing anything else) or ``inflight``
  (print ``INFLIGHT`` and wait for a line on stdin before making the call: the test then makes
  the network drop the answer and kills this process once the server has acted on it).
  ``OPERATION`` is a Secrets Manager call (``put_secret_value``...) or, for Vault, ``write`` or
  ``read``; ``N`` counts calls of that operation. ``after-step:STEP`` dies right after a step of
  the four-step protocol completed, before its success is reported.

The hooks are installed here, by wrapping library functions in this process only: the library
has no crash points of its own. A plan whose point is never reached exits with status 3, so a
test can tell "killed where asked" from "never got there".
"""

from __future__ import annotations

import collections
import json
import os
import signal
import sys
from typing import Any

from secret_keyring.providers.vault import VaultProvider, VaultSession
from secret_keyring.rotation import aws as rotation_aws

PLAN: dict[str, Any] = json.loads(os.environ["CRASH_PLAN"])
WHEN, _, TARGET = PLAN["point"].partition(":")
OPERATION, _, NTH = TARGET.partition("#")
COUNTS: collections.Counter[str] = collections.Counter()


def die() -> None:
    sys.stdout.flush()
    os.kill(os.getpid(), signal.SIGKILL)


def around(operation: str, call: Any) -> Any:
    """Run ``call()`` as operation ``operation``, dying where the plan says."""
    COUNTS[operation] += 1
    here = operation == OPERATION and str(COUNTS[operation]) == (NTH or "1")
    if here and WHEN == "before":
        die()
    if here and WHEN == "inflight":
        print("INFLIGHT", operation, flush=True)
        sys.stdin.readline()  # the test is now dropping answers; this call will not return
    result = call()
    if here and WHEN == "after":
        die()
    return result


# -- Secrets Manager --------------------------------------------------------------------------

_call = rotation_aws.SecretsManagerRotation.call
_run = rotation_aws.SecretsManagerRotation.run


def call(self: Any, operation: str, **params: Any) -> Any:
    return around(operation, lambda: _call(self, operation, **params))


def run(self: Any, step: str) -> None:
    _run(self, step)
    if WHEN == "after-step" and TARGET == step:
        die()


rotation_aws.SecretsManagerRotation.call = call  # type: ignore[method-assign]
rotation_aws.SecretsManagerRotation.run = run  # type: ignore[method-assign]

# -- Vault ------------------------------------------------------------------------------------

# Writes go through the session the provider and the rotation share.
_vault_run = VaultSession.run
_vault_read = VaultProvider.read_secret_version


def vault_run(self: Any, operation: Any, *, action: str = "read", idempotent: bool = True) -> Any:
    call_ = lambda: _vault_run(self, operation, action=action, idempotent=idempotent)  # noqa: E731
    return around(action, call_) if action == "write" else call_()


def vault_read(self: Any, version: int | None = None) -> Any:
    return around("read", lambda: _vault_read(self, version))


VaultSession.run = vault_run  # type: ignore[method-assign]
VaultProvider.read_secret_version = vault_read  # type: ignore[method-assign]


def main() -> int:
    mode = PLAN["mode"]
    if mode == "aws-lambda":
        for step in rotation_aws.STEPS:
            event = {"SecretId": PLAN["secret"], "ClientRequestToken": PLAN["token"], "Step": step}
            rotation_aws.lambda_handler(event, None)
    else:
        from secret_keyring.cli import main as cli

        # The secret was written moments ago: no minimum interval for the run under test.
        status = cli(["rotate", PLAN["url"], "--max-fallbacks", "3", "--min-interval", "0"])
        if status != 0:
            return status
    return 3  # the plan's point was never reached


if __name__ == "__main__":
    sys.exit(main())
