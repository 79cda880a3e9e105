"""Producing keyrings: key generation and the rotation handlers for AWS and Vault/OpenBao.

Nothing here imports Django; ``rotation.aws`` needs only boto3 and ``rotation.vault`` only hvac.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from secret_keyring.errors import ConfigurationError, InvalidSecret, RotationError, SecretNotFound

if TYPE_CHECKING:
    import argparse

    from secret_keyring.keyring import Keyring

__all__ = [
    "DEFAULT_MIN_INTERVAL",
    "IntervalGuard",
    "RotationReport",
    "add_interval_options",
    "zero_fallbacks_error",
]

logger = logging.getLogger("secret_keyring.rotation")

#: Seconds that must pass between two rotations unless forced: 15 minutes, comfortably over
#: twice the default cache TTL (300 s), so every process has read ``next`` before it signs.
DEFAULT_MIN_INTERVAL = 900.0


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
        skipped: the run found the last rotation younger than the minimum interval and wrote
            nothing (``how`` says how old it is).
    """

    source: str
    version: str | None
    written: bool
    how: str
    fingerprints: Mapping[str, Any]
    skipped: bool = False


@dataclasses.dataclass(frozen=True)
class IntervalGuard:
    """The minimum interval between two rotations of one secret.

    A scheduler retries a run whose write was applied but whose answer was lost (Lambda's
    asynchronous retries, a Job's ``backoffLimit``, cron overlapping itself). A second rotation
    right after the first promotes a ``next`` that processes whose cache is up to one TTL old
    have never seen, and they reject what the others sign. Each backend asks the guard with the
    time its latest version was written (Vault ``created_time``, the ``AWSCURRENT`` version's
    ``CreatedDate``, a file's modification time) before it writes anything.

    Attributes:
        min_interval: seconds, 0 or more (0: no minimum). Validated here, once, for every
            entry point (API, command line, management command, scheduled handler).
        force: rotate whatever the age (the leak runbook's re-key).
        clock: wall-clock seconds since the epoch (injected by tests); compared with the
            backend's own timestamps, so not a monotonic clock.
        option: how the setting is spelt where it came from, for the error message.

    Raises:
        ConfigurationError: ``min_interval`` is not a finite number of seconds, 0 or more.
    """

    min_interval: float = DEFAULT_MIN_INTERVAL
    force: bool = False
    clock: Callable[[], float] = dataclasses.field(default=time.time, repr=False)
    option: str = dataclasses.field(default="min_interval", compare=False)

    def __post_init__(self) -> None:
        value = self.min_interval
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not math.isfinite(value)
            or value < 0
        ):
            raise ConfigurationError(
                f"{self.option} must be a number of seconds, 0 or more (default "
                f"{DEFAULT_MIN_INTERVAL:.0f}: twice the default cache TTL and then some), "
                f"got {value!r}"
            )

    @property
    def active(self) -> bool:
        """Whether the age needs looking up at all (not forced, a minimum above 0)."""
        return not self.force and self.min_interval > 0

    def too_soon(self, last_written: float | None) -> str | None:
        """Why this run must not rotate, or ``None`` when it may.

        Args:
            last_written: when the latest version was written (epoch seconds); ``None`` when
                the backend does not say, which never blocks a rotation.
        """
        if not self.active or last_written is None:
            return None
        # A backend clock ahead of ours gives a negative age: as young as it gets.
        age = max(0.0, self.clock() - last_written)
        if age >= self.min_interval:
            return None
        return (
            f"skipped: the last rotation is {int(age)} s old, less than the minimum interval "
            f"of {self.min_interval:.0f} s (force to rotate anyway)"
        )

    def skipped(
        self, source: str, reason: str, version: str | None, stored: Callable[[], Keyring]
    ) -> RotationReport:
        """The report of a run that :meth:`too_soon` stopped (and its log line), with the
        fingerprints of the keyring ``stored()`` parses (none if it does not parse)."""
        logger.info("%s: %s", source, reason)
        try:
            fingerprints: Mapping[str, Any] = stored().fingerprints
        except (InvalidSecret, SecretNotFound):
            fingerprints = {}
        return RotationReport(source, version, False, reason, fingerprints, skipped=True)


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


def add_interval_options(parser: argparse.ArgumentParser) -> None:
    """``--min-interval S`` and ``--force``, shared by ``secret-keyring rotate`` and
    ``manage.py rotate_secret_key`` (the values are checked by the rotation, not here)."""
    parser.add_argument(
        "--min-interval",
        type=float,
        default=DEFAULT_MIN_INTERVAL,
        metavar="S",
        help="skip the run (exit 0) when the latest version is younger than S seconds "
        f"(default {DEFAULT_MIN_INTERVAL:.0f}; 0 disables the check)",
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="rotate even inside the minimum interval (a leaked key: see the leak runbook)",
    )
