"""docs/troubleshooting.md lists every exception, system check id and logged warning the library
emits, and quotes every exception message, derived from the code: adding one without documenting
it fails here.

An exception message is found by its searchable phrase (see :func:`phrase`): the literal words a
user can paste into a search, taken from the code's message after the ``{source}: `` part that
names where it happened.
"""

from __future__ import annotations

import ast
import itertools
import re
from pathlib import Path
from typing import NamedTuple

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


#: A check id as the code spells it: an ``id="..."`` argument, or a constant named ``..._ID``
#: that one passes on (``COPY_ID = "secret_keyring.W010"`` in ``django/audit.py``).
CHECK_ID = re.compile(r"""(?:\bid=|\b[A-Z][A-Z_]*_ID\s*=\s*)["'](secret_keyring\.[A-Z]\d{3})["']""")


def check_ids() -> set[str]:
    """Every system check id of the library: ``id="secret_keyring.X000"`` literals and
    ``..._ID = "secret_keyring.X000"`` constants."""
    found: set[str] = set()
    for path in sources():
        found |= set(CHECK_ID.findall(path.read_text()))
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


# -- exception messages ------------------------------------------------------------------------

#: What a message's non-literal parts (f-string fields, ``str.format`` fields of a mapper
#: table, anything else concatenated) become while its phrase is extracted.
HOLE = "\x00"
_FORMAT_FIELD = re.compile(r"\{[^{}]*\}")
#: The part of a message that says where: ``{source}: ``, ``source {url!r}: `` and the like,
#: possibly several (``{source}: {step}: ``).
_WHERE = re.compile(r"\s*(?:source\s+)?\x00['\"]?:\s*")
#: Django's exception, raised by the settings helper: documented under "Other messages".
DJANGO_ERROR = "ImproperlyConfigured"
PHRASE_WORDS = 6


class Message(NamedTuple):
    exception: str
    phrase: str
    where: str
    text: str  # the message, HOLEs for its variable parts


def _text(node: ast.expr, *, template: bool) -> str:
    """A message expression as text, every non-literal part a HOLE."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return _FORMAT_FIELD.sub(HOLE, node.value) if template else node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(
            str(part.value) if isinstance(part, ast.Constant) else HOLE for part in node.values
        )
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _text(node.left, template=template) + _text(node.right, template=template)
    return HOLE


def phrase(message: str) -> str:
    """The searchable phrase of a message (HOLEs for its variable parts).

    The rule: drop the leading ``{source}: `` parts (where it happened); keep the first clause
    (up to ``;``, after which comes the fix); of its literal runs between variable parts, take
    the first of at least two words, else the longest; keep at most six words, and no unclosed
    parenthesis. ``"{source}: no answer within {t}s while trying to {a}; check ..."`` gives
    ``"no answer within"``. An empty phrase means a message made only of other messages
    (``f"{source}: {exc}"``), whose own phrases are checked where they are made.
    """
    while match := _WHERE.match(message):
        message = message[match.end() :]
    clause = message.split(";")[0]
    runs = [" ".join(run.split()).strip(" .,:()") for run in clause.split(HOLE)]
    runs = [run for run in runs if run]
    picked = next((run for run in runs if len(run.split()) >= 2), max(runs, key=len, default=""))
    text = " ".join(picked.split()[:PHRASE_WORDS]).strip(" .,:")
    if text.count("(") > text.count(")"):
        text = text[: text.rindex("(")].rstrip(" .,:")
    return text


def _name(node: ast.expr) -> str:
    return node.id if isinstance(node, ast.Name) else getattr(node, "attr", "")


def _scopes(tree: ast.Module) -> list[tuple[ast.AST, dict[str, ast.expr]]]:
    """The module, then each function with what its local names were last assigned (a message
    built first and raised by name: ``message = f"..."; raise Error(message)``)."""
    scopes: list[tuple[ast.AST, dict[str, ast.expr]]] = [(tree, {})]
    for function in ast.walk(tree):
        if isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
            names = {
                node.targets[0].id: node.value
                for node in ast.walk(function)
                if isinstance(node, ast.Assign)
                and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name)
            }
            scopes.append((function, names))
    return scopes


def exception_messages() -> list[Message]:
    """Every message an exception of the library (or Django's ``ImproperlyConfigured``, raised
    by the settings helper) is made with: ``Error(message, ...)`` calls, raised or returned,
    and the rows of the SDK error mappers (``_Rule(..., AccessDenied, "template", ...)``)."""
    classes = exception_classes() | {DJANGO_ERROR}
    found: set[Message] = set()
    for path in sources():
        for scope, names in _scopes(ast.parse(path.read_text(), str(path))):
            for node in ast.walk(scope):
                if not isinstance(node, ast.Call):
                    continue
                where = f"{path.relative_to(SRC)}:{node.lineno}"
                if _name(node.func) in classes and node.args:
                    message = node.args[0]
                    if isinstance(message, ast.Name) and message.id in names:
                        message = names[message.id]
                    text = _text(message, template=False)
                    found.add(Message(_name(node.func), phrase(text), where, text))
                    continue
                # A mapper row: the class, then its message template.
                for cls, template in itertools.pairwise(node.args):
                    if (
                        isinstance(cls, ast.Name)
                        and cls.id in classes
                        and isinstance(template, ast.Constant)
                        and isinstance(template.value, str)
                    ):
                        text = _text(template, template=True)
                        found.add(Message(cls.id, phrase(text), where, text))
    return sorted(found)


def documented_messages(exception: str) -> str:
    if exception == DJANGO_ERROR:
        return _flat(section("Other messages"))
    text = section("Exceptions")
    match = re.search(rf"^### {exception}\n(.*?)(?=^### |\Z)", text, re.M | re.S)
    assert match is not None, f"docs/troubleshooting.md has no '### {exception}' entry"
    return _flat(match.group(1))


def test_the_code_has_what_this_test_looks_for() -> None:
    # Guards against a collector that silently finds nothing: one of each way it finds things.
    assert {"secret_keyring.E002", "secret_keyring.W004"} <= check_ids()  # id="..."
    assert {"secret_keyring.W010", "secret_keyring.E010"} <= check_ids()  # COPY_ID = "..."
    assert {"WeakSecretKey", "RotationError"} <= exception_classes()
    assert len(log_templates()) >= 10
    messages = {(m.exception, m.phrase) for m in exception_messages()}
    assert len(messages) >= 100
    assert ("ConfigurationError", "no Vault token") in messages  # an f-string
    assert ("SourceUnavailable", "cannot connect while trying to") in messages  # a mapper row
    assert ("AccessDenied", "access denied to") in messages  # the AWS mapper's other table
    assert ("ImproperlyConfigured", "SECRET_KEY could not be loaded from") in messages  # a name
    assert ("InvalidSecret", "the payload looks like JSON but") in messages  # f"..." + ...


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (f"{HOLE}: no answer within {HOLE}s while trying to {HOLE}; check", "no answer within"),
        (f"source {HOLE}: unknown scheme {HOLE}; use one of ", "unknown scheme"),
        (f"{HOLE}: {HOLE}: AWSCURRENT (version {HOLE}) is newer", "AWSCURRENT"),
        (f"{HOLE}: the key is empty", "the key is empty"),
        (f"{HOLE}: {HOLE}", ""),
        ("rotation needs KV v2 (check-and-set writes); KV v1", "rotation needs KV v2"),
    ],
)
def test_the_phrase_rule(message: str, expected: str) -> None:
    assert phrase(message).startswith(expected)
    assert "(" not in phrase(message) or ")" in phrase(message)


def test_a_message_without_a_phrase_only_wraps_other_messages() -> None:
    """An empty phrase is allowed only for ``f"{source}: {exc}"`` and the like, whose text is
    another message's: not for a message whose words the rule failed to find."""
    for message in exception_messages():
        if not message.phrase:
            words = re.findall(r"[A-Za-z]{2,}", message.text.split(";")[0])
            assert words in ([], ["source"]), (
                f"{message.where}: no searchable phrase found in {message.text!r}; adjust "
                "phrase() or the message"
            )


@pytest.mark.parametrize(
    "message",
    [m for m in exception_messages() if m.phrase],
    ids=lambda m: f"{m.exception}:{m.phrase}",
)
def test_every_exception_message_is_quoted(message: Message) -> None:
    heading = (
        "the '## Other messages' section"
        if message.exception == DJANGO_ERROR
        else f"the '### {message.exception}' entry"
    )
    assert message.phrase in documented_messages(message.exception), (
        f"{message.where} raises {message.exception} with a message users will search for: "
        f'quote "{message.phrase}" in {heading} of docs/troubleshooting.md, with its cause '
        "and fix (the phrase rule is in tests/unit/test_docs_troubleshooting.py::phrase)"
    )


@pytest.mark.parametrize("check_id", sorted(check_ids()))
def test_every_check_id_is_documented(check_id: str) -> None:
    assert check_id in headings(section("System checks")), (
        f"add a '### `{check_id}`' entry (cause and fix) to docs/troubleshooting.md"
    )


@pytest.mark.parametrize("check_id", sorted(check_ids()))
def test_every_check_id_is_in_the_django_page_table(check_id: str) -> None:
    table = (ROOT / "docs" / "django.md").read_text("utf-8")
    assert re.search(rf"^\| `{re.escape(check_id)}` \|", table, re.M), (
        f"add a row for `{check_id}` (level, when, which command runs it) to the system checks "
        "table of docs/django.md"
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
