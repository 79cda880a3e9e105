"""Suite-wide leak guard: fails any test during which key material reaches

* a log record (its message, and for a record with ``exc_info`` the rendered exception),
* an exception message (every library exception is checked when it is created),
* the traceback of an exception that reached test code, rendered with its locals: an exception
  caught by ``pytest.raises``, escaping a test, or attached to a log record is rendered with
  ``traceback.StackSummary.extract(..., capture_locals=True)`` (what
  ``traceback.TracebackException(..., capture_locals=True)``, debug pages and error trackers
  show) for every frame of the library's own source files, along its cause and context chain;
* a warning (every ``warnings.WarningMessage`` made, and those pytest records),
* captured stdout/stderr, and the output of subprocesses a test reads with ``communicate()``
  (``subprocess.run(capture_output=True)``, ``check_output``): the CLI and management commands.

Frames outside the library are not checked for locals: a test, like a user, holds the keys it
passes in. The guarantee this checks is written down in docs/security.md.

Every key that passes validation (``Keyring`` construction, ``validate_key``) or that a test makes
with :func:`make_key` is remembered. Texts are then scanned in O(len(text)): keys are at least 50
characters long, so each is indexed by its first 50 characters and every 50-character window of a
text is looked up.
"""

from __future__ import annotations

import logging
import subprocess
import traceback
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import secret_keyring
from secret_keyring import errors, keygen, keyring

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


def make_weak_key() -> str:
    """A key like the one ``startproject`` writes (``django-insecure-`` and 50 characters),
    which fails Django's W009 rules; the guard knows about it."""
    key = keyring.INSECURE_PREFIX + keygen.generate_key()
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


def assert_no_key_material(text: str | bytes, where: str = "output") -> None:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    leaked = find_leak(text)
    if leaked:
        pytest.fail(f"key material (fingerprint {leaked}) appeared in {where}", pytrace=False)


# -- exceptions rendered with their locals ----------------------------------------------------

LIBRARY_DIR = str(Path(secret_keyring.__file__).resolve().parent)


def _in_library(frame: Any) -> bool:
    return str(Path(frame.f_code.co_filename).resolve()).startswith(LIBRARY_DIR)


def _chain(exc: BaseException) -> Iterator[BaseException]:
    pending: list[BaseException | None] = [exc]
    seen: set[int] = set()
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        pending += [current.__cause__, current.__context__]


def rendered_with_locals(exc: BaseException) -> str:
    """The exception chain as an error tracker shows it: the usual rendering, plus the locals
    (``repr``) of every library frame, captured as ``capture_locals=True`` does."""
    parts = traceback.format_exception(type(exc), exc, exc.__traceback__)
    for current in _chain(exc):
        frames = (
            (tb.tb_frame, tb.tb_lineno)
            for tb in _walk(current.__traceback__)
            if _in_library(tb.tb_frame)
        )
        summary = traceback.StackSummary.extract(frames, capture_locals=True, lookup_lines=False)
        for frame in summary:
            parts.extend(
                f"{frame.name}: {name} = {value}\n" for name, value in (frame.locals or {}).items()
            )
    return "".join(parts)


def _walk(tb: Any) -> Iterator[Any]:
    while tb is not None:
        yield tb
        tb = tb.tb_next


def exception_leak(exc: BaseException) -> str | None:
    """The fingerprint of a known key in ``exc``'s chain rendered with library locals, if any."""
    return find_leak(rendered_with_locals(exc))


def assert_exception_clean(exc: BaseException, where: str = "an exception") -> None:
    leaked = exception_leak(exc)
    if leaked:
        pytest.fail(
            f"key material (fingerprint {leaked}) appeared in {where} rendered with locals",
            pytrace=False,
        )


def _check_caught(exc: BaseException | None, where: str) -> None:
    if exc is None:
        return
    try:
        leaked = exception_leak(exc)
    except Exception as problem:  # noqa: BLE001 - reported as a failure of the test
        # Python < 3.12 calls repr() on each local without a safety net: a repr that raises
        # breaks every traceback renderer that shows locals.
        _violations.append(
            f"{where} {type(exc).__name__} cannot be rendered with locals "
            f"({type(problem).__name__}: {problem})"
        )
        return
    if leaked:
        _violations.append(f"{where} {type(exc).__name__} with locals (fingerprint {leaked})")


# -- instrument the library ----------------------------------------------------------------

_original_validate = keyring.validate_key


def _remembering_validate(key: object, *args: Any, **kwargs: Any) -> str:
    result = _original_validate(key, *args, **kwargs)
    remember(result)
    return result


keyring.validate_key = _remembering_validate  # type: ignore[assignment]
_original_keyring_init = keyring.Keyring.__init__


def _remembering_keyring_init(self: keyring.Keyring, *args: Any, **kwargs: Any) -> None:
    _original_keyring_init(self, *args, **kwargs)
    for key in (self.current, self.next, *self.previous):
        remember(key)


keyring.Keyring.__init__ = _remembering_keyring_init  # type: ignore[method-assign]
_original_error_init = errors.SecretKeyringError.__init__


def _checking_error_init(self: errors.SecretKeyringError, message: str, **kwargs: Any) -> None:
    _original_error_init(self, message, **kwargs)
    leaked = find_leak(message)
    if leaked:
        _violations.append(f"{type(self).__name__} message (fingerprint {leaked})")


errors.SecretKeyringError.__init__ = _checking_error_init  # type: ignore[method-assign]


def _install_raises_check() -> None:
    """Check every exception a ``pytest.raises`` block catches: that is what reached a caller."""
    try:
        from _pytest.raises import RaisesExc as RaisesContext  # pytest >= 8.4
    except ImportError:  # pragma: no cover - older pytest
        from _pytest.python_api import RaisesContext  # type: ignore[no-redef]
    original = RaisesContext.__exit__

    def checking_exit(self: Any, exc_type: Any, exc_val: Any, exc_tb: Any) -> bool:
        __tracebackhide__ = True
        handled = bool(original(self, exc_type, exc_val, exc_tb))
        if handled:
            _check_caught(exc_val, "an exception caught by pytest.raises:")
        return handled

    RaisesContext.__exit__ = checking_exit  # type: ignore[method-assign]


_install_raises_check()
_original_warning_init = warnings.WarningMessage.__init__


def _checking_warning_init(
    self: warnings.WarningMessage, message: Any, *args: Any, **kwargs: Any
) -> None:
    _original_warning_init(self, message, *args, **kwargs)
    leaked = find_leak(str(message))
    if leaked:
        _violations.append(f"a warning (fingerprint {leaked})")


warnings.WarningMessage.__init__ = _checking_warning_init  # type: ignore[method-assign]
_original_communicate = subprocess.Popen.communicate


def _checking_communicate(self: subprocess.Popen[Any], *args: Any, **kwargs: Any) -> Any:
    out, err = _original_communicate(self, *args, **kwargs)
    for name, text in (("stdout", out), ("stderr", err)):
        if text:
            leaked = find_leak(text.decode("utf-8", "replace") if isinstance(text, bytes) else text)
            if leaked:
                _violations.append(f"a subprocess's {name} (fingerprint {leaked})")
    return out, err


subprocess.Popen.communicate = _checking_communicate  # type: ignore[method-assign]


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.NOTSET)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def _record_text(record: logging.LogRecord) -> str:
    text = record.getMessage()
    if record.exc_info and record.exc_info[1] is not None:
        text += "\n" + rendered_with_locals(record.exc_info[1])
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
        texts.append(
            ("an exception rendered with locals", rendered_with_locals(call.excinfo.value))
        )
    for where, text in texts:
        leaked = find_leak(text)
        if leaked and report.outcome != "failed":
            report.outcome = "failed"
            report.longrepr = f"key material (fingerprint {leaked}) appeared in {where}"
    return report


def pytest_warning_recorded(warning_message: warnings.WarningMessage) -> None:
    leaked = find_leak(str(warning_message.message))
    if leaked:
        _violations.append(f"a recorded warning (fingerprint {leaked})")
