"""docs/troubleshooting.md lists every exception, system check id and logged warning the library
emits, derived from the code: adding one without documenting it fails here."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from secret_keyring import errors

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src" / "secret_keyring"
PAGE = ROOT / "docs" / "troubleshooting.md"
LOG_LEVELS = {"warning", "error", "critical", "exception"}


def page() -> str:
    return PAGE.read_text("utf-8")


def section(name: str) -> str:
    """The text of one ``## name`` section of the page."""
    match = re.search(rf"^## {re.escape(name)}\n(.*?)(?=^## |\Z)", page(), re.M | re.S)
    assert match is not None, f"the page has no '## {name}' section"
    return match.group(1)


def headings(text: str) -> set[str]:
    return {h.strip("`") for h in re.findall(r"^### (.+?)\s*$", text, re.M)}


def sources() -> list[Path]:
    return sorted(SRC.rglob("*.py"))


def check_ids() -> set[str]:
    """Every ``id="secret_keyring.X000"`` a system check of the library can report."""
    found: set[str] = set()
    for path in sources():
        found |= set(re.findall(r"""id=["'](secret_keyring\.[A-Z]\d{3})["']""", path.read_text()))
    return found


def exception_classes() -> set[str]:
    return {
        name
        for name in dir(errors)
        if isinstance(getattr(errors, name), type)
        and issubclass(getattr(errors, name), errors.SecretKeyringError)
    }


def _logger_name(node: ast.expr) -> bool:
    name = node.id if isinstance(node, ast.Name) else getattr(node, "attr", "")
    return "log" in name.lower()


def log_templates() -> set[str]:
    """Message templates of every WARNING-or-above log call (``logger.warning(...)``,
    ``logger.log(level, ...)``) in the library, without the ``secret_keyring: `` prefix."""
    found: set[str] = set()
    for path in sources():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and _logger_name(node.func.value)
            ):
                continue
            args = node.args[1:] if node.func.attr == "log" else node.args
            if node.func.attr != "log" and node.func.attr not in LOG_LEVELS:
                continue
            if node.func.attr == "log" and _level_below_warning(node.args[0]):
                continue
            where = f"{path.name}:{node.lineno}"
            assert args, f"{where}: a log call without a message"
            assert isinstance(args[0], ast.Constant), (
                f"{where}: log with a constant message template, so that it can be documented"
            )
            found.add(str(args[0].value).removeprefix("secret_keyring: "))
    return found


def _level_below_warning(level: ast.expr) -> bool:
    return isinstance(level, ast.Attribute) and level.attr in ("DEBUG", "INFO")


def _flat(text: str) -> str:
    return " ".join(text.split())


def test_the_code_has_what_this_test_looks_for() -> None:
    # Guards against a collector that silently finds nothing.
    assert {"secret_keyring.E002", "secret_keyring.W004"} <= check_ids()
    assert {"WeakSecretKey", "RotationError"} <= exception_classes()
    assert len(log_templates()) >= 10


@pytest.mark.parametrize("check_id", sorted(check_ids()))
def test_every_check_id_is_documented(check_id: str) -> None:
    assert check_id in headings(section("System checks")), (
        f"add a '### `{check_id}`' entry (cause and fix) to docs/troubleshooting.md"
    )


def test_no_check_id_is_documented_that_the_code_does_not_emit() -> None:
    assert headings(section("System checks")) <= check_ids()


@pytest.mark.parametrize("name", sorted(exception_classes()))
def test_every_exception_is_documented(name: str) -> None:
    assert name in headings(section("Exceptions")), (
        f"add a '### {name}' entry (cause and fix) to docs/troubleshooting.md"
    )


def test_no_exception_is_documented_that_does_not_exist() -> None:
    assert headings(section("Exceptions")) <= exception_classes()


@pytest.mark.parametrize("template", sorted(log_templates()))
def test_every_logged_warning_is_documented(template: str) -> None:
    assert _flat(f"`{template}`") in _flat(section("Log messages")), (
        f"add a row for the log message {template!r} to docs/troubleshooting.md"
    )


def test_no_log_message_is_documented_that_the_code_does_not_log() -> None:
    documented = re.findall(
        r"^\| [A-Z, ]+(?:then [A-Z]+ )?\| `([^`]+)` \|", section("Log messages"), re.M
    )
    assert documented, "the log table was not found"
    assert set(documented) <= log_templates()
