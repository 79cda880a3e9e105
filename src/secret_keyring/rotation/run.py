"""One entry point for ``secret-keyring rotate|init`` and ``manage.py rotate_secret_key``.

It asks the provider for its [Rotator][secret_keyring.rotation.Rotator] (a
[Rotatable][secret_keyring.rotation.Rotatable] provider's ``rotator()``): Vault/OpenBao
(check-and-set), AWS (RotateSecret or the four steps), ``file://``/``dev://`` (an atomic file
replace). A provider without one cannot be rotated from here; ``env://`` says why.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable

from secret_keyring.errors import RotationError, clears_locals
from secret_keyring.keyring import Keyring, check_max_fallbacks, fingerprint
from secret_keyring.providers.base import Provider
from secret_keyring.rotation import (
    DEFAULT_MIN_INTERVAL,
    IntervalGuard,
    Rotatable,
    RotationReport,
    Rotator,
)

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
    keep_previous = check_max_fallbacks(max_fallbacks, source=provider.source)
    guard = IntervalGuard(min_interval, force=force, clock=clock)
    return _rotator(provider, "this source cannot be rotated by secret-keyring").rotate(
        keep_previous=keep_previous, guard=guard
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
    rotator = _rotator(provider, "secret-keyring cannot write a first keyring to this source")
    report = rotator.init(adopt)
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


def _rotator(provider: Provider, refusal: str) -> Rotator:
    if not isinstance(provider, Rotatable):
        raise RotationError(f"{provider.source}: {refusal}", source=provider.source)
    return provider.rotator()
