"""Key generation moved to [secret_keyring.keygen][]: it is the keyring's, not the rotation's
(the dev provider, the command line and ``secret_keyring.testing`` use it too). Importing it
from here keeps working."""

from __future__ import annotations

from secret_keyring.keygen import (
    ALPHABET,
    KEY_LENGTH,
    adopt_keyring,
    generate_key,
    new_keyring,
    rotate,
)

__all__ = ["ALPHABET", "KEY_LENGTH", "adopt_keyring", "generate_key", "new_keyring", "rotate"]
