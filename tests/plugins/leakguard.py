"""Suite-wide leak guard: fails any test during which key material reaches a log record, an
exception message, or captured stdout/stderr.

Every key that passes validation (``Keyring`` construction, ``validate_key``) or that a test makes
with :func:`make_key` is remembered. Texts are then scanned in O(len(text)): keys are at least 50
characters long, so each is indexed by its first 50 characters and every 50-character window of a
text is looked up.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Iterator
from typing import Any

import pytest

from secret_keyring import errors, keyring
from secret_keyring.rotation import keygen

WINDOW = keyring.MIN_KEY_LENGTH
_prefixes: dict[str, str] = {}
_violations: list[str] = []


def remember(key: object) -> None:
    if isinstance(key, str) and len(key) >= WINDOW:
        _prefixes.setdefault(key[:WINDOW], key)


def make_key() -> str:
    """A fresh valid key that the guard knows about."""
    key = keygen.generate_key()
    remember(key)
    return key


def find_leak(text: str) -> str | None:
    """Return the fingerprint of a known key contained in ``text``, if any."""
    if not text or len(text) < WINDOW:
        return None
    for start in range(len(text) - WINDOW + 1):
        key = _prefixes.get(text[start : start + WINDOW])
        if key is not None and text.startswith(key, start):
            return keyring.fingerprint(key)
    return None


def assert_no_key_material(text: str, where: str = "output") -> None:
    leaked = find_leak(text)
    if leaked:
        pytest.fail(f"key material (fingerprint {leaked}) appeared in {where}", pytrace=False)


# -- instrument the library ----------------------------------------------------------------

_original_validate = keyring.validate_key


def _remembering_validate(key: object, *args: Any, **kwargs: Any) -> str:
    result = _original_validate(key, *args, **kwargs)
    remember(result)
    return result


keyring.validate_key = _remembering_validate  # type: ignore[assignment]
_original_post_init = keyring.Keyring.__post_init__


def _remembering_post_init(self: keyring.Keyring) -> None:
    _original_post_init(self)
    for key in (self.current, self.next, *self.previous):
        remember(key)


keyring.Keyring.__post_init__ = _remembering_post_init  # type: ignore[method-assign]
_original_error_init = errors.SecretKeyringError.__init__


def _checking_error_init(self: errors.SecretKeyringError, message: str, **kwargs: Any) -> None:
    _original_error_init(self, message, **kwargs)
    leaked = find_leak(message)
    if leaked:
        _violations.append(f"{type(self).__name__} message (fingerprint {leaked})")


errors.SecretKeyringError.__init__ = _checking_error_init  # type: ignore[method-assign]


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.NOTSET)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def _record_text(record: logging.LogRecord) -> str:
    text = record.getMessage()
    if record.exc_info and record.exc_info[1] is not None:
        text += "\n" + "".join(traceback.format_exception(*record.exc_info))
    return text


@pytest.fixture(autouse=True)
def _leak_guard() -> Iterator[None]:
    handler = _Capture()
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    _violations.clear()
    try:
        yield
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
    problems = list(_violations)
    _violations.clear()
    for record in handler.records:
        leaked = find_leak(_record_text(record))
        if leaked:
            problems.append(f"log record from {record.name!r} (fingerprint {leaked})")
    if problems:
        pytest.fail("key material leaked: " + "; ".join(problems), pytrace=False)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    texts = [("captured stdout", report.capstdout), ("captured stderr", report.capstderr)]
    if call.excinfo is not None and not isinstance(call.excinfo.value, AssertionError):
        texts.append(("an exception message", str(call.excinfo.value)))
    for where, text in texts:
        leaked = find_leak(text)
        if leaked and report.outcome != "failed":
            report.outcome = "failed"
            report.longrepr = f"key material (fingerprint {leaked}) appeared in {where}"
    return report
