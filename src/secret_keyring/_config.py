"""The cache's defaults and the one check of "a number of seconds".

``secret_keys()``, ``CachedKeyring``, the rotation's ``IntervalGuard`` and both backends' timeout
options take their defaults and their duration check from here, so a default changes in one place
and every entry point accepts and refuses the same values. The message that names an option and
its fix stays with the option's owner (it knows the source and the default to suggest); what
counts as a number of seconds does not.

On the start-up path (``cache`` imports it): plain constants and functions, no dataclass and no
compiled pattern (``tests/unit/test_public_api.py`` checks both).
"""

from __future__ import annotations

import math
from typing import Final

from secret_keyring.errors import ConfigurationError

__all__ = [
    "DEFAULT_JITTER",
    "DEFAULT_MAX_STALE",
    "DEFAULT_STARTUP_TIMEOUT",
    "DEFAULT_TTL",
    "MAX_REQUEST_TIMEOUT",
    "check_seconds",
    "is_seconds",
]

#: Seconds a process serves a keyring before refreshing it (``ttl``).
DEFAULT_TTL: Final = 300.0
#: Fraction by which each TTL is randomly shortened, so a fleet spreads its reads (``jitter``).
DEFAULT_JITTER: Final = 0.1
#: Seconds the last good keyring is served while the backend fails (``max_stale``): a day.
DEFAULT_MAX_STALE: Final = 86400.0
#: Seconds a start-up waits for the first keyring (``startup_timeout``).
DEFAULT_STARTUP_TIMEOUT: Final = 30.0
#: The longest per-request timeout either backend accepts (Vault's ``timeout``, AWS's
#: ``connect_timeout`` and ``read_timeout``): beyond five minutes a request is hung, not slow.
MAX_REQUEST_TIMEOUT: Final = 300.0


def is_seconds(
    value: object,
    *,
    minimum: float = 0.0,
    maximum: float = math.inf,
    exclusive: bool = False,
    exclusive_max: bool = False,
    finite: bool = False,
) -> bool:
    """Whether ``value`` is a number of seconds in range: an ``int`` or ``float`` (not a
    ``bool``, which is an ``int`` to Python but never meant as a duration), not NaN, and
    between ``minimum`` and ``maximum``.

    Args:
        value: what the caller was given.
        minimum: the lowest value accepted (excluded with ``exclusive``).
        maximum: the highest value accepted (excluded with ``exclusive_max``).
        exclusive: refuse ``minimum`` itself.
        exclusive_max: refuse ``maximum`` itself.
        finite: refuse infinity too (a duration stored or compared as a finite number).
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        return False
    if finite and math.isinf(value):
        return False
    above = value > minimum if exclusive else value >= minimum
    below = value < maximum if exclusive_max else value <= maximum
    return above and below


def check_seconds(
    name: str,
    value: object,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    exclusive: bool = False,
    exclusive_max: bool = False,
) -> None:
    """Refuse ``value`` unless it is a number of seconds in range (see :func:`is_seconds`).

    For options whose message needs no source: the cache's and the settings helper's.

    Args:
        name: the option, as the caller spells it, for the message.
        value: what the caller was given.
        minimum: the lowest value accepted (excluded with ``exclusive``); ``None``: no bound.
        maximum: the highest value accepted (excluded with ``exclusive_max``); ``None``: no
            bound.
        exclusive: refuse ``minimum`` itself.
        exclusive_max: refuse ``maximum`` itself.

    Raises:
        ConfigurationError: not a number (a ``bool`` or NaN included), or out of range; the
            message names the option and its bounds.
    """
    if not is_seconds(value, minimum=-math.inf, maximum=math.inf):
        raise ConfigurationError(f"{name} must be a number of seconds, got {type(value).__name__}")
    in_range = is_seconds(
        value,
        minimum=-math.inf if minimum is None else minimum,
        maximum=math.inf if maximum is None else maximum,
        exclusive=exclusive and minimum is not None,
        exclusive_max=exclusive_max and maximum is not None,
    )
    if not in_range:
        bounds = []
        if minimum is not None:
            bounds.append(f"{'>' if exclusive else '>='} {minimum:g}")
        if maximum is not None:
            bounds.append(f"{'<' if exclusive_max else '<='} {maximum:g}")
        raise ConfigurationError(f"{name} must be {' and '.join(bounds)}, got {value!r}")
