"""Key generation and the rotation rule."""

from __future__ import annotations

import math

import pytest

from secret_keyring.keygen import ALPHABET, KEY_LENGTH, generate_key, new_keyring, rotate
from secret_keyring.keyring import Keyring, validate_key


def test_generated_keys_are_django_valid_and_strong() -> None:
    keys = {generate_key() for _ in range(200)}
    assert len(keys) == 200
    for key in keys:
        validate_key(key)
        assert set(key) <= set(ALPHABET)
    assert KEY_LENGTH * math.log2(len(ALPHABET)) >= 256


def test_short_length_refused() -> None:
    with pytest.raises(ValueError, match="at least 50"):
        generate_key(40)


def test_rotation_rule() -> None:
    kr = new_keyring()
    assert kr.next is not None
    rotated = rotate(kr)
    assert rotated.current == kr.next
    assert rotated.previous == (kr.current,)
    assert rotated.next not in (kr.current, kr.next)
    again = rotate(rotated)
    assert again.previous == (rotated.current, kr.current)


def test_previous_trimmed_to_max_fallbacks() -> None:
    kr = new_keyring()
    history = []
    for _ in range(10):
        history.insert(0, kr.current)
        kr = rotate(kr, max_fallbacks=3)
        assert len(kr.previous) <= 3
    assert list(kr.previous) == history[:3]


def test_rotating_a_plain_keyring_makes_a_full_one() -> None:
    kr = Keyring(current=generate_key())
    rotated = rotate(kr)
    assert rotated.next is not None
    assert rotated.previous == (kr.current,)


def test_bad_max_fallbacks() -> None:
    with pytest.raises(ValueError, match="max_fallbacks"):
        rotate(new_keyring(), max_fallbacks=-1)
