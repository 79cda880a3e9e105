"""Producing keyrings: key generation and the rotation handlers for AWS and Vault/OpenBao.

Nothing here imports Django; ``rotation.aws`` needs only boto3 and ``rotation.vault`` only hvac.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from secret_keyring.errors import RotationError

__all__ = ["RotationReport", "zero_fallbacks_error"]


@dataclasses.dataclass(frozen=True)
class RotationReport:
    """What a rotation or an init did; fingerprints only, safe to print.

    Attributes:
        source: the redacted source.
        version: the backend version that is now current (KV version, AWS version id, digest).
        written: whether this call wrote it (False: another rotation won, or init found a
            keyring already).
        how: a short human description of the path taken.
        fingerprints: fingerprints of the keyring now stored.
    """

    source: str
    version: str | None
    written: bool
    how: str
    fingerprints: Mapping[str, Any]


def zero_fallbacks_error(source: str, setting: str = "max_fallbacks") -> RotationError:
    """The error for rotating a keyring while keeping no previous key.

    The rule puts the old ``current`` first in ``previous``; with room for none, the key that
    every process signs with until it refreshes would stop verifying at once (Django ticket
    #35400). ``testSecret`` refuses such a keyring, so it is refused before anything is written.
    """
    return RotationError(
        f"{source}: {setting} is 0, so rotating this keyring would drop the key every process "
        "signs with until it refreshes, and log everybody out; keep at least 1 previous key",
        source=source,
    )
