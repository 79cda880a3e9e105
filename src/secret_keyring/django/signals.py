"""Signals sent by django-secret-keyring.

``keys_rotated`` is sent after a new keyring has been applied to ``django.conf.settings``, with
``keyring`` (the new [Keyring][secret_keyring.Keyring]) and ``previous`` (the one it replaced).
Receivers run in the request thread that applied it; the keyring's ``repr`` is safe to log.
"""

from django.dispatch import Signal

__all__ = ["keys_rotated"]

keys_rotated = Signal()
