"""Producing keyrings: the rotation handlers for AWS and Vault/OpenBao, and what they share.

A provider whose backend can be rotated from here has a ``rotator()`` method returning a
[Rotator][secret_keyring.rotation.Rotator] (see
[Rotatable][secret_keyring.rotation.Rotatable]); ``rotation.run`` asks for it instead of knowing
every provider. Key generation and the rotation rule itself are ``secret_keyring.keygen``.

Nothing here imports Django; ``rotation.aws`` needs only boto3 and ``rotation.vault`` only hvac.
"""

from __future__ import annotations

import dataclasses
import datetime
import logging
import os
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from secret_keyring._config import is_seconds
from secret_keyring.errors import ConfigurationError, InvalidSecret, RotationError, SecretNotFound
from secret_keyring.keyring import check_max_fallbacks

if TYPE_CHECKING:
    import argparse

    from secret_keyring.keyring import Keyring

__all__ = [
    "DEFAULT_MIN_INTERVAL",
    "IntervalGuard",
    "Rotatable",
    "RotationReport",
    "Rotator",
    "add_interval_options",
    "env_max_fallbacks",
    "env_seconds",
    "fleet_min_interval",
    "http_date",
    "lambda_logging",
    "zero_fallbacks_error",
]

logger = logging.getLogger(__name__)

#: Seconds that must pass between two rotations unless forced: 15 minutes, the floor of the
#: spacing rule (at least 2 x ttl + refresh_timeout of the processes that read the secret, so
#: every process has read ``next`` before it signs; docs/rotation.md says why).
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
    have never seen, and they reject what the others sign. Each backend asks the guard, before
    it writes anything, with the moment its current value was last promoted (Vault
    ``created_time``; for Secrets Manager the latest of the ``AWSCURRENT`` version's
    ``CreatedDate`` and the secret's ``LastRotatedDate`` and ``LastChangedDate``, since a
    rotation that Secrets Manager retried for hours promotes long after it created; a file's
    modification time) and with the server's own time of that answer (its ``Date`` header):
    both ends of the age come from one clock, so a rotating machine whose clock runs ahead
    cannot age a fresh version past the interval.

    Attributes:
        min_interval: seconds, 0 or more (0: no minimum). Validated here, once, for every
            entry point (API, command line, management command, scheduled handler).
        force: rotate whatever the age (the leak runbook's re-key).
        clock: wall-clock seconds since the epoch (injected by tests): "now" only where the
            backend gives no time of its own (a file, a reply without a ``Date`` header).
            Compared with the backend's timestamps, so not a monotonic clock.
        option: how the setting is spelt where it came from, for the error message.
        override: what rotates anyway where the guard came from, for the skip message
            (``--force`` on the command line; the scheduled handler has no such flag).

    Raises:
        ConfigurationError: ``min_interval`` is not a finite number of seconds, 0 or more.
    """

    min_interval: float = DEFAULT_MIN_INTERVAL
    force: bool = False
    clock: Callable[[], float] = dataclasses.field(default=time.time, repr=False)
    option: str = dataclasses.field(default="min_interval", compare=False)
    override: str = dataclasses.field(default="--force", compare=False)

    def __post_init__(self) -> None:
        value = self.min_interval
        if not is_seconds(value, minimum=0.0, finite=True):
            raise ConfigurationError(
                f"{self.option} must be a number of seconds, 0 or more (default "
                f"{DEFAULT_MIN_INTERVAL:.0f}; keep it at least 2 x ttl + refresh_timeout), "
                f"got {value!r}"
            )

    @property
    def active(self) -> bool:
        """Whether the age needs looking up at all (not forced, a minimum above 0)."""
        return not self.force and self.min_interval > 0

    def too_soon(self, last_written: float | None, *, now: float | None = None) -> str | None:
        """Why this run must not rotate, or ``None`` when it may.

        Args:
            last_written: when the current value was last promoted (epoch seconds); ``None``
                when the backend does not say, which never blocks a rotation.
            now: the backend's time of the answer that said so (epoch seconds, from its
                ``Date`` header); ``None`` when it gives none, and then :attr:`clock` is used.
        """
        if not self.active or last_written is None:
            return None
        # A Date header has whole seconds, so a version written within the same second can look
        # a fraction of a second from the future: a negative age is as young as it gets.
        age = max(0.0, (self.clock() if now is None else now) - last_written)
        if age >= self.min_interval:
            return None
        return (
            f"skipped: the last rotation is {int(age)} s old, less than the minimum interval "
            f"of {self.min_interval:.0f} s ({self.override} rotates anyway)"
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


def fleet_min_interval(ttl: float, refresh_timeout: float) -> float:
    """The least minimum interval that protects a fleet reading with this cache configuration:
    ``2 x ttl + refresh_timeout``, never below :data:`DEFAULT_MIN_INTERVAL`.

    A process may sign with a keyring up to one TTL old, plus a refresh that hangs up to
    ``refresh_timeout`` before the watchdog gives up; the ``next`` promoted by a rotation must
    have reached every process by then, and the one after it once more. Jitter only shortens a
    TTL, so the TTL itself is the bound.

    Args:
        ttl: the cache TTL, seconds.
        refresh_timeout: the cache's refresh watchdog, seconds.
    """
    return max(DEFAULT_MIN_INTERVAL, 2.0 * ttl + refresh_timeout)


def add_interval_options(
    parser: argparse.ArgumentParser,
    *,
    default: float | None = DEFAULT_MIN_INTERVAL,
    default_help: str | None = None,
) -> None:
    """``--min-interval S`` and ``--force``, shared by ``secret-keyring rotate`` and
    ``manage.py rotate_secret_key`` (the values are checked by the rotation, not here).

    Args:
        parser: the command's parser.
        default: the value when the option is not given (``None``: the command works it out).
        default_help: what ``--help`` says the default is (default: ``default`` in seconds).
    """
    if default_help is None:
        default_help = f"{DEFAULT_MIN_INTERVAL if default is None else default:.0f}"
    parser.add_argument(
        "--min-interval",
        type=float,
        default=default,
        metavar="S",
        help="skip the run (exit 0) when the current value was promoted less than S seconds "
        f"ago (default {default_help}; 0 disables the check)",
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="rotate even inside the minimum interval (a leaked key: see the leak runbook)",
    )


class Rotator(Protocol):
    """Rotates one source's keyring; what a [Rotatable][secret_keyring.rotation.Rotatable]
    provider's ``rotator()`` returns."""

    def rotate(self, *, keep_previous: int, guard: IntervalGuard) -> RotationReport:
        """Rotate once (the rule of ``keygen.rotate``), unless ``guard`` says it is too soon.

        Args:
            keep_previous: how many previous keys the rotated keyring keeps.
            guard: the minimum interval between rotations.

        Raises:
            RotationError: the stored value cannot be rotated.
            SourceError: the backend failed or refused.
        """
        ...

    def init(self, adopt: Keyring | None = None) -> RotationReport:
        """Write a first keyring (current + next) where none exists; leave one alone.

        Args:
            adopt: the keyring to write instead of a new one (a live site's existing key,
                see ``keygen.adopt_keyring``).

        Raises:
            RotationError: the source cannot be written from here.
            SourceError: the backend failed or refused.
        """
        ...


@runtime_checkable
class Rotatable(Protocol):
    """A provider whose keyring ``secret-keyring rotate`` and ``init`` can write."""

    @property
    def source(self) -> str: ...

    def rotator(self) -> Rotator:
        """The rotator of this source.

        Raises:
            RotationError: this source cannot be rotated from here (and says what to do).
        """
        ...


def http_date(value: object) -> float | None:
    """Epoch seconds of an HTTP ``Date`` header (RFC 9110's IMF-fixdate, or the obsolete forms
    ``email.utils`` also reads), ``None`` when it is missing or not a date."""
    if not isinstance(value, str) or not value:
        return None
    # Imported here: the email package costs a scheduled handler's cold start ~7 ms to load, and
    # only a rotation that checks the interval needs it.
    import email.utils

    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):  # Python 3.10 raises TypeError, later ValueError
        return None
    if moment.tzinfo is None:  # "-0000": HTTP dates are UTC whatever the zone says
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    try:
        return moment.timestamp()
    except (OverflowError, ValueError, OSError):
        return None


def env_seconds(name: str, default: float) -> float:
    """A number of seconds from environment variable ``name`` (a scheduled handler's setting).

    Raises:
        ConfigurationError: not a number.
    """
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return float(raw)
    except ValueError:
        raise ConfigurationError(
            f"environment variable {name} must be a number of seconds, e.g. 900"
        ) from None


def env_max_fallbacks(name: str = "SECRET_KEYRING_MAX_FALLBACKS", default: int = 3) -> int:
    """How many previous keys a scheduled rotation keeps, from environment variable ``name``.

    Raises:
        ConfigurationError: not an integer from 0 to 18.
    """
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    return check_max_fallbacks(
        int(raw) if raw.isdigit() else raw, name=f"environment variable {name}"
    )


def lambda_logging() -> None:
    """Called first by the scheduled handlers, which are a process's entry point: let this
    package's INFO records (what a rotation did, by fingerprint) reach the Lambda log.

    The Lambda runtime leaves the root logger at WARNING unless its logging configuration sets
    a level (``AWS_LAMBDA_LOG_LEVEL``); a level set on this package's logger or chosen in the
    function's configuration is left alone. Importing the library never sets a level.
    """
    package = logging.getLogger("secret_keyring")
    if package.level == logging.NOTSET and not os.environ.get("AWS_LAMBDA_LOG_LEVEL"):
        package.setLevel(logging.INFO)
