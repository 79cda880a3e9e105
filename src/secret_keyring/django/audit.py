"""What a rotation would break here: copies of the key in the settings, and key users without one.

Two questions, asked of ``django.conf.settings`` and the installed packages:

* **Pinned copies.** Any string in the settings (walking nested dicts, lists and tuples) equal to
  a key of the keyring, other than ``SECRET_KEY`` and ``SECRET_KEY_FALLBACKS`` themselves, is a
  copy that does not follow a rotation (``secret_keyring.W010``).
* **Known users** (:data:`secret_keyring.django.key_users.KNOWN_KEY_USERS`). A listed package
  that is installed and in use, and not configured with a key of its own, breaks at the next
  rotation: its tokens are rejected (signatures, ``secret_keyring.W011``) or its data can no
  longer be decrypted (encryption at rest, ``secret_keyring.E010``, a data-loss finding).

Findings name setting paths (``SIMPLE_JWT["SIGNING_KEY"]``) and key fingerprints, never a value.
The system checks (``checks.py``) and ``manage.py rotate_secret_key`` both ask :func:`audit`.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from importlib import metadata
from typing import Any

from django.core.exceptions import ImproperlyConfigured

from secret_keyring.django import build_only
from secret_keyring.django.key_users import KNOWN_KEY_USERS, KeyUser, Kind, render_path
from secret_keyring.keyring import fingerprint

__all__ = ["DOCS_PAGE", "Finding", "audit", "find_copies", "in_use", "setting_strings"]

#: Where the findings' hints send the reader.
DOCS_PAGE = "'What a rotation affects' in the django-secret-keyring docs"

COPY_ID = "secret_keyring.W010"
SIGNATURES_ID = "secret_keyring.W011"
ENCRYPTION_ID = "secret_keyring.E010"

#: Settings nest a few levels at most (CACHES, DATABASES, LOGGING); the walk stops well past them.
_MAX_DEPTH = 12
_OWN = ("SECRET_KEY", "SECRET_KEY_FALLBACKS")


@dataclass(frozen=True)
class Finding:
    """One thing a rotation would break. ``data_loss`` findings block ``rotate_secret_key``."""

    check_id: str
    message: str
    hint: str
    data_loss: bool = False


def setting_strings(settings: Any) -> Iterator[tuple[str, str]]:
    """Every string in the settings, with its path: ``('CACHES["default"]["KEY_PREFIX"]', ...)``.

    Walks dicts, lists and tuples only (never an object's attributes), to a bounded depth, and
    skips containers already on the path, so a self-referencing setting cannot loop.
    """
    for name in sorted(dir(settings)):
        if not name.isupper() or name in _OWN:
            continue
        try:
            value = getattr(settings, name)
        except Exception:  # noqa: BLE001, S112 - a broken lazy setting is not ours to report
            continue
        yield from _walk(value, name, 0, set())


def _walk(value: Any, path: str, depth: int, on_path: set[int]) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, bytes):
        try:
            yield path, value.decode("utf-8")
        except UnicodeDecodeError:
            return
    elif isinstance(value, (dict, list, tuple)) and depth < _MAX_DEPTH and id(value) not in on_path:
        on_path.add(id(value))
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for key, item in items:
            step = f"[{json.dumps(key)}]" if isinstance(key, str) else f"[{key!r}]"
            yield from _walk(item, path + step, depth + 1, on_path)
        on_path.discard(id(value))


def keyring_keys(settings: Any) -> dict[str, str]:
    """The keys a rotation moves, each with the name it goes by: ``{key: "SECRET_KEY"}``."""
    from secret_keyring.django import live

    keys: dict[str, str] = {}
    try:
        current = getattr(settings, "SECRET_KEY", None)
    except ImproperlyConfigured:
        current = None  # empty: Django refuses to read it (build-only mode does so on purpose)
    if isinstance(current, str) and current:
        keys[current] = "SECRET_KEY"
    for i, key in enumerate(getattr(settings, "SECRET_KEY_FALLBACKS", None) or []):
        if isinstance(key, str) and key:
            keys.setdefault(key, f"SECRET_KEY_FALLBACKS[{i}]")
    active = live.active()
    if active is not None:
        applied = active.applied
        for role, key in [("current", applied.current), ("next", applied.next)] + [
            (f"previous[{i}]", k) for i, k in enumerate(applied.previous)
        ]:
            if key:
                keys.setdefault(key, f"the keyring's {role}")
    return keys


def find_copies(
    strings: list[tuple[str, str]], keys: Mapping[str, str]
) -> list[tuple[str, str, str]]:
    """``(path, what it copies, fingerprint)`` for each setting string equal to a key.

    In build-only mode the empty ``SECRET_KEY`` is told from any other empty string by its type,
    so a copy made in ``settings.py`` is found there too.
    """
    copies = []
    for path, text in strings:
        if build_only.is_build_only_key(text):
            copies.append((path, "SECRET_KEY", "none: empty in build-only mode"))
        elif text in keys:
            copies.append((path, keys[text], fingerprint(text)))
    return copies


def installed(user: KeyUser) -> tuple[str, str] | None:
    """``(distribution, version)`` of the user's package when one of its distributions is here."""
    for name in (user.distribution, *user.forks):
        try:
            return name, metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return None


def in_use(user: KeyUser, strings: list[tuple[str, str]]) -> bool:
    """Imported, in ``INSTALLED_APPS``, or named by a dotted path somewhere in the settings."""
    for module in user.modules:
        if module in sys.modules:
            return True
        dotted = module + "."
        if any(text == module or text.startswith(dotted) for _, text in strings):
            return True
    return False


def _lookup(settings: Any, path: tuple[str, ...]) -> Any:
    value = getattr(settings, path[0], None)
    for part in path[1:]:
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def _own_key(user: KeyUser, settings: Any, keys: Mapping[str, str]) -> tuple[bool, str]:
    """Whether a setting gives the package a key of its own, and if not, why not.

    A setting is the package's own key when it is set and none of its strings (every element of
    a list such as ``FERNET_KEYS``, every value of a ``{kid: key}`` dict) is a key of the
    keyring: ``FERNET_KEYS = [own_key, SECRET_KEY]`` decrypts with the copy, which a rotation
    replaces.
    """
    reasons: list[str] = []
    for path in user.own_key:
        value = _lookup(settings, path)
        copies = find_copies(list(_walk(value, render_path(path), 0, set())), keys)
        if copies:
            # A dedicated secret that happens to hold a key of the keyring looks the same as
            # `X = SECRET_KEY`; only the copy moves with a rotation, so say both.
            reasons.extend(
                f"{where} holds the value of {what} (fingerprint {fp}): a copy made in settings.py "
                "moves with a rotation (a key kept in a secret of its own does not; this clears "
                "once that key has left the keyring)"
                for where, what, fp in copies
            )
        elif not value:
            reasons.append(f"{render_path(path)} is not set")
        else:
            return True, ""
    if not user.own_key:
        reasons.append("no setting gives it a key of its own")
    return False, "; ".join(reasons)


def audit(settings: Any = None, *, include_data_loss: bool = True) -> list[Finding]:
    """Everything a rotation of SECRET_KEY would break in this project, most severe first.

    Args:
        settings: a settings object (default ``django.conf.settings``).
        include_data_loss: include the encryption-at-rest findings (``E010``).
    """
    if settings is None:
        from django.conf import settings as django_settings

        settings = django_settings
    strings = list(setting_strings(settings))
    keys = keyring_keys(settings)
    findings: list[Finding] = []
    claimed: list[str] = []
    for user in KNOWN_KEY_USERS:
        found = installed(user)
        if found is None or not in_use(user, strings):
            continue
        ok, why = _own_key(user, settings, keys)
        if ok:
            continue
        encryption = user.kind is Kind.ENCRYPTION
        if encryption and not include_data_loss:
            continue
        # This finding names every copy in the package's own settings; W010 need not repeat it.
        claimed.extend(render_path(path) for path in user.own_key)
        name, version = found
        findings.append(
            Finding(
                ENCRYPTION_ID if encryption else SIGNATURES_ID,
                f"{name} {version} {user.uses}: {user.breaks}. Here {why}.",
                f"Fix: {user.fix}. See {DOCS_PAGE}.",
                data_loss=encryption,
            )
        )
    for path, what, fp in find_copies(strings, keys):
        if any(path == own or path.startswith(own + "[") for own in claimed):
            continue  # the known user's finding above speaks for its own settings
        findings.append(
            Finding(
                COPY_ID,
                f"settings.{path} holds a copy of {what} (fingerprint {fp}); a copy does not "
                "follow a rotation.",
                "Give this setting a key of its own, or read settings.SECRET_KEY (and "
                f"SECRET_KEY_FALLBACKS) where it is used. See {DOCS_PAGE}.",
            )
        )
    findings.sort(key=lambda f: (not f.data_loss, f.check_id))
    return findings
