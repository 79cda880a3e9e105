"""Key generation and the keyring rotation rule, as pure functions.

Keyring-level, not rotation-level: the ``dev://`` provider, ``secret-keyring generate`` and
``init --adopt-env``, and ``secret_keyring.testing`` draw keys here too.

The rule: ``previous = [current] + previous`` (trimmed to ``max_fallbacks``),
``current = next``, ``next = a new random key``. Because ``next`` is published one rotation
period before it signs anything, every process that holds a keyring up to one period old already
accepts signatures made with the new key.

A weak key (a live site's old key adopted with ``secret-keyring init --adopt-env``, named by
the keyring's ``adopted`` marker) is never written to ``current`` or ``next``: the first
rotation moves it from ``current`` to ``previous``, the second drops it, and the marker goes
with it.
"""

from __future__ import annotations

import secrets
import string

from secret_keyring.keyring import (
    Keyring,
    adoption_marker,
    check_max_fallbacks,
    is_weak,
    validate_key,
)

__all__ = ["ALPHABET", "KEY_LENGTH", "adopt_keyring", "generate_key", "new_keyring", "rotate"]

#: URL- and shell-safe: 64 symbols, 6 bits each; a key pastes into any env file unquoted.
ALPHABET = string.ascii_letters + string.digits + "-_"
#: 50 characters of a 64-symbol alphabet: 300 bits, and Django's W009 minimum length.
KEY_LENGTH = 50


def generate_key(length: int = KEY_LENGTH) -> str:
    """Return a new random key from ``secrets`` (at least 256 bits, Django-valid).

    Raises:
        ValueError: ``length`` is below 50 (Django's minimum; 43 would be 256 bits).
    """
    if length < KEY_LENGTH:
        raise ValueError(f"length must be at least {KEY_LENGTH}, got {length}")
    while True:
        key = "".join(secrets.choice(ALPHABET) for _ in range(length))
        # Vanishingly unlikely to fail, but never hand out a key Django would flag.
        try:
            return validate_key(key, field="generated")
        except ValueError:  # pragma: no cover - probability ~ 64**-45
            continue


def new_keyring() -> Keyring:
    """A first keyring: a ``current`` and a ``next`` key, no previous keys."""
    return Keyring(current=generate_key(), next=generate_key())


def adopt_keyring(current: str, *, source: str = "") -> Keyring:
    """A first keyring around a live site's existing key: ``current`` keeps signing (nobody is
    logged out), a new strong ``next`` is published, ``previous`` is empty.

    The key may fail Django's W009 rules (a ``django-insecure-`` key from ``startproject``):
    the keyring then records its marker as ``adopted``, the one thing that lets a weak key be
    trusted, and two rotations retire it. A strong key needs no marker. It must still be
    printable text without surrounding spaces.

    Raises:
        InvalidSecret: the key is empty, not printable text, or has surrounding whitespace.
    """
    # is_weak() only on a str: anything else is refused by Keyring() with a clear message.
    adopted = adoption_marker(current) if isinstance(current, str) and is_weak(current) else None
    return Keyring(current=current, next=generate_key(), source=source, adopted=adopted)


def rotate(keyring: Keyring, max_fallbacks: int = 3) -> Keyring:
    """Apply the rotation rule and return the new keyring (version and source are cleared).

    A keyring with no ``next`` (a plain payload promoted to keyring JSON) gets a fresh current
    key instead, so the result is always a full keyring. A weak key survives one rotation: the
    old ``current`` is kept in ``previous`` whatever it is, a weak key already in ``previous``
    is dropped, and ``adopted`` is kept only while the key it names is kept.

    Args:
        keyring: the keyring to rotate.
        max_fallbacks: how many previous keys the result keeps (a rotator's ``keep_previous``).

    Raises:
        ConfigurationError: ``max_fallbacks`` is not an integer from 0 to 18 (a ``ValueError``).
    """
    check_max_fallbacks(max_fallbacks)
    current = keyring.next if keyring.next is not None else generate_key()
    previous: list[str] = []
    for index, key in enumerate((keyring.current, *keyring.previous)):
        if key == current or key in previous or (index > 0 and is_weak(key)):
            continue
        previous.append(key)
    kept = tuple(previous[:max_fallbacks])
    # Only the adopted key can be weak (Keyring checked it): its marker goes when it goes.
    adopted = keyring.adopted if any(is_weak(key) for key in kept) else None
    return Keyring(current=current, next=generate_key(), previous=kept, adopted=adopted)
