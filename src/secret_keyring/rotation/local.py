"""Rotating the local sources: a keyring file (``file://``) or the ``dev://`` keyring, replaced
atomically. ``env://`` cannot be rotated from inside a process (its provider says so)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from secret_keyring.errors import RotationError
from secret_keyring.keygen import new_keyring, rotate
from secret_keyring.payload import keyring_to_json
from secret_keyring.rotation import IntervalGuard, RotationReport, zero_fallbacks_error

if TYPE_CHECKING:
    from secret_keyring.keyring import Keyring
    from secret_keyring.providers.local import DevProvider, FileProvider

__all__ = ["DevRotator", "FileRotator"]


class FileRotator:
    """The [Rotator][secret_keyring.rotation.Rotator] of a ``file://`` source."""

    def __init__(self, provider: FileProvider | DevProvider) -> None:
        self.provider = provider

    def rotate(self, *, keep_previous: int, guard: IntervalGuard) -> RotationReport:
        provider = self.provider
        path = provider.path
        if getattr(provider, "field", None):
            raise RotationError(
                f"{provider.source}: rotating one field of a JSON file is not supported; keep "
                "the keyring in a file of its own",
                source=provider.source,
            )
        if keep_previous < 1:
            # Even a plain key becomes keyring JSON here, with the old key as its only fallback.
            raise zero_fallbacks_error(provider.source)
        # The file's modification time is when it was last written: by a rotation, or by
        # whoever put the key there.
        reason = guard.too_soon(path.stat().st_mtime if path.exists() else None)
        if reason is not None:
            existing = provider.fetch()
            return guard.skipped(provider.source, reason, existing.version, lambda: existing)
        # A plain key has no `next`: rotate() then draws the new current itself, and the result
        # is keyring JSON from here on. Reading it back checks what was written parses.
        rotated = rotate(provider.fetch(), keep_previous)
        write_atomically(path, keyring_to_json(rotated))
        new = provider.fetch()
        return RotationReport(
            provider.source, new.version, True, "file replaced atomically", rotated.fingerprints
        )

    def init(self, adopt: Keyring | None = None) -> RotationReport:
        provider = self.provider
        if provider.path.exists():
            existing = provider.fetch()
            return RotationReport(
                provider.source,
                existing.version,
                False,
                "the file exists already; left as it is",
                existing.fingerprints,
            )
        if getattr(provider, "field", None):
            # The keyring JSON written here has no such member: the provider could not read it.
            raise RotationError(
                f"{provider.source}: writing a keyring into one field of a JSON file is not "
                "supported; keep the keyring in a file of its own (drop the '#field')",
                source=provider.source,
            )
        keyring = adopt or new_keyring()
        write_atomically(provider.path, keyring_to_json(keyring), exclusive=True)
        return RotationReport(provider.source, None, True, "file written", keyring.fingerprints)


class DevRotator(FileRotator):
    """The ``dev://`` keyring: rotated like a file; ``init`` is the first fetch."""

    def init(self, adopt: Keyring | None = None) -> RotationReport:
        if adopt is not None:
            raise RotationError(
                f"{self.provider.source}: a dev keyring is per machine and refused in "
                "deployments; adopt the site's key into the vault://, aws-secretsmanager:// or "
                "file:// source production reads",
                source=self.provider.source,
            )
        keyring = self.provider.fetch()  # creates it when missing
        return RotationReport(
            self.provider.source, keyring.version, False, "dev keyring ready", keyring.fingerprints
        )


def write_atomically(path: Path, text: str, *, exclusive: bool = False) -> None:
    """Replace (or, ``exclusive``, create) ``path`` with ``text`` in one step, keeping its mode
    (0600 for a new file): readers see the old content or the new, never half of it."""
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
