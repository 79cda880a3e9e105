"""One entry point for ``secret-keyring rotate|init`` and ``manage.py rotate_secret_key``.

Dispatches on the provider: Vault/OpenBao (check-and-set), AWS (RotateSecret or the four steps),
and the local ``file://``/``dev://`` sources (an atomic file replace). ``env://`` cannot be
rotated from inside a process.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from secret_keyring.errors import RotationError, clears_locals
from secret_keyring.keyring import Keyring, check_max_fallbacks, fingerprint, keyring_to_json

# These modules import their SDKs lazily: importing them here costs nothing.
from secret_keyring.providers.aws import AwsSecretsManagerProvider
from secret_keyring.providers.base import Provider
from secret_keyring.providers.local import DevProvider, EnvProvider, FileProvider
from secret_keyring.providers.vault import VaultProvider
from secret_keyring.rotation import (
    DEFAULT_MIN_INTERVAL,
    IntervalGuard,
    RotationReport,
    zero_fallbacks_error,
)
from secret_keyring.rotation.keygen import new_keyring, rotate

__all__ = ["init_source", "rotate_source"]


@clears_locals
def rotate_source(
    provider: Provider,
    *,
    max_fallbacks: int = 3,
    min_interval: float = DEFAULT_MIN_INTERVAL,
    force: bool = False,
    clock: Callable[[], float] = time.time,
) -> RotationReport:
    """Rotate the keyring behind ``provider`` once, unless it was rotated too recently.

    Args:
        provider: the source to rotate.
        max_fallbacks: previous keys to keep.
        min_interval: seconds that must have passed since the latest version was written
            (Vault ``created_time``, AWS ``AWSCURRENT`` ``CreatedDate``, a file's mtime); a run
            inside it writes nothing and returns a report with ``skipped=True``. 0 disables it.
        force: rotate whatever the age (an emergency re-key).
        clock: wall-clock time in epoch seconds (injected by tests).

    Raises:
        ConfigurationError: ``max_fallbacks`` is not an integer from 0 to 18, or
            ``min_interval`` is not a number of seconds, 0 or more.
        RotationError: the source cannot be rotated from here, or its value cannot be rotated.
        SourceError: the backend failed or refused.
    """
    # Checked before anything is read, with the source in the message.
    check_max_fallbacks(max_fallbacks, source=provider.source)
    guard = IntervalGuard(min_interval, force=force, clock=clock)
    if isinstance(provider, VaultProvider):
        from secret_keyring.rotation.vault import rotate_keyring

        return rotate_keyring(provider, max_fallbacks=max_fallbacks, guard=guard)
    if isinstance(provider, AwsSecretsManagerProvider):
        from secret_keyring.rotation.aws import rotate_secret

        return rotate_secret(provider, max_fallbacks=max_fallbacks, guard=guard)
    if isinstance(provider, (FileProvider, DevProvider)):
        return _rotate_file(provider, max_fallbacks, guard)
    if isinstance(provider, EnvProvider):
        raise RotationError(
            f"{provider.source}: an environment variable cannot be rotated from here; write "
            "a new value where the variable is set and restart, or move to a vault://, "
            "aws-secretsmanager:// or file:// source",
            source=provider.source,
        )
    raise RotationError(
        f"{provider.source}: this source cannot be rotated by secret-keyring",
        source=provider.source,
    )


@clears_locals
def init_source(provider: Provider, *, adopt: Keyring | None = None) -> RotationReport:
    """Write a first keyring (current + next) where none exists; leave an existing one alone.

    Args:
        provider: where to write.
        adopt: a keyring around the site's existing key (``keygen.adopt_keyring``), written
            instead of a new one. Create-only: if the source holds a secret already, it is
            not overwritten and, unless that secret already signs with the adopted key,
            this is an error (the site's key would not be the one the keyring signs with).

    Raises:
        RotationError: the source cannot be written from here, or (adopting) it holds another
            secret already.
        SourceError: the backend failed or refused.
    """
    report = _init(provider, adopt)
    if adopt is None or report.written:
        return report
    if (report.fingerprints or {}).get("current") == fingerprint(adopt.current):
        return dataclasses.replace(report, how="this key was adopted already; left as it is")
    raise RotationError(
        f"{provider.source}: a secret exists here already, so the site's key was not adopted "
        "(init never overwrites). If nothing uses that secret, delete it and run init again; "
        "if the fleet reads it already, it is your keyring: rotate it instead",
        source=provider.source,
    )


def _init(provider: Provider, adopt: Keyring | None) -> RotationReport:
    if isinstance(provider, VaultProvider):
        from secret_keyring.rotation.vault import init_keyring

        return init_keyring(provider, adopt)
    if isinstance(provider, AwsSecretsManagerProvider):
        from secret_keyring.rotation.aws import init_secret

        return init_secret(provider, adopt)
    if isinstance(provider, DevProvider):
        if adopt is not None:
            raise RotationError(
                f"{provider.source}: a dev keyring is per machine and refused in deployments; "
                "adopt the site's key into the vault://, aws-secretsmanager:// or file:// "
                "source production reads",
                source=provider.source,
            )
        keyring = provider.fetch()  # creates it when missing
        return RotationReport(
            provider.source, keyring.version, False, "dev keyring ready", keyring.fingerprints
        )
    if isinstance(provider, FileProvider):
        if provider.path.exists():
            existing = provider.fetch()
            return RotationReport(
                provider.source,
                existing.version,
                False,
                "the file exists already; left as it is",
                existing.fingerprints,
            )
        if provider.field:
            # The keyring JSON written here has no such member: the provider could not read it.
            raise RotationError(
                f"{provider.source}: writing a keyring into one field of a JSON file is not "
                "supported; keep the keyring in a file of its own (drop the '#field')",
                source=provider.source,
            )
        keyring = adopt or new_keyring()
        _write_atomically(provider.path, keyring_to_json(keyring), exclusive=True)
        return RotationReport(provider.source, None, True, "file written", keyring.fingerprints)
    raise RotationError(
        f"{provider.source}: secret-keyring cannot write a first keyring to this source",
        source=provider.source,
    )


def _rotate_file(
    provider: FileProvider | DevProvider, max_fallbacks: int, guard: IntervalGuard
) -> RotationReport:
    path = provider.path
    field = getattr(provider, "field", None)
    if field:
        raise RotationError(
            f"{provider.source}: rotating one field of a JSON file is not supported; keep the "
            "keyring in a file of its own",
            source=provider.source,
        )
    if max_fallbacks < 1:
        # Even a plain key becomes keyring JSON here, with the old key as its only fallback.
        raise zero_fallbacks_error(provider.source)
    # The file's modification time is when it was last written: by a rotation, or by whoever
    # put the key there.
    reason = guard.too_soon(path.stat().st_mtime if path.exists() else None)
    if reason is not None:
        existing = provider.fetch()
        return guard.skipped(provider.source, reason, existing.version, lambda: existing)
    # A plain key has no `next`: rotate() then draws the new current itself, and the result is
    # keyring JSON from here on. Reading it back checks what was written parses.
    rotated = rotate(provider.fetch(), max_fallbacks)
    _write_atomically(path, keyring_to_json(rotated))
    new = provider.fetch()
    return RotationReport(
        provider.source, new.version, True, "file replaced atomically", rotated.fingerprints
    )


def _write_atomically(path: Path, text: str, *, exclusive: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o600
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text + "\n")
        if exclusive:
            os.link(temp, path)  # fails if someone created it meanwhile
        else:
            Path(temp).replace(path)
    finally:
        Path(temp).unlink(missing_ok=True)
