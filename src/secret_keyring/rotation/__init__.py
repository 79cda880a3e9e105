"""Producing keyrings: key generation and the rotation handlers for AWS and Vault/OpenBao.

Nothing here imports Django; ``rotation.aws`` needs only boto3 and ``rotation.vault`` only hvac.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

__all__ = ["RotationReport"]


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
