"""tests/README.md lists the fixtures a newcomer needs, checked against the code: every fixture a
``conftest.py`` or ``tests/plugins/`` module defines, and every fixture of a test module that
starts something. A new one fails here until it has its row; a row whose fixture is gone fails
too.

"Starts something" is read from the fixture's body: a fixture that stops, closes, terminates,
kills or shuts down something started it (a server, a process, a proxy, a cluster).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import NamedTuple

TESTS = Path(__file__).resolve().parents[1]
README = TESTS / "README.md"
SECTION = "## Servers and fixtures"
#: The calls that end what a fixture started.
ENDINGS = {"stop", "close", "terminate", "kill", "shutdown"}


class Fixture(NamedTuple):
    where: str  # the defining file, relative to tests/
    name: str
    scope: str  # as the README writes it: "test", "module", "session"; ", autouse" appended
    starts: bool  # its body ends something it started


class Row(NamedTuple):
    heading: str
    folders: tuple[str, ...]
    where: str
    name: str
    scope: str


def _fixture_decorator(node: ast.FunctionDef) -> ast.expr | None:
    for decorator in node.decorator_list:
        target = decorator.func if isinstance(decorator, ast.Call) else decorator
        if ast.unparse(target) == "pytest.fixture":
            return decorator
    return None


def _scope(decorator: ast.expr) -> str:
    options = (
        {k.arg: k.value for k in decorator.keywords} if isinstance(decorator, ast.Call) else {}
    )
    scope = options.get("scope")
    text = scope.value if isinstance(scope, ast.Constant) else "test"
    if text == "function":
        text = "test"
    autouse = options.get("autouse")
    if isinstance(autouse, ast.Constant) and autouse.value is True:
        text += ", autouse"
    return str(text)


def defined_fixtures() -> list[Fixture]:
    """Every fixture under tests/, with where it is defined and whether it starts something."""
    found = []
    for path in sorted(TESTS.rglob("*.py")):
        tree = ast.parse(path.read_text("utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.FunctionDef):
                continue
            decorator = _fixture_decorator(node)
            if decorator is None:
                continue
            calls = {
                call.func.attr
                for call in ast.walk(node)
                if isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)
            }
            where = path.relative_to(TESTS).as_posix()
            found.append(Fixture(where, node.name, _scope(decorator), bool(calls & ENDINGS)))
    return found


def must_be_listed(fixture: Fixture) -> bool:
    """A conftest's or plugin's fixture, or any fixture that starts something."""
    in_plugin = fixture.where.startswith("plugins/")
    return fixture.where.endswith("conftest.py") or in_plugin or fixture.starts


def readme_rows() -> list[Row]:
    text = README.read_text("utf-8")
    assert SECTION in text, f"tests/README.md: no {SECTION!r} section; restore it"
    section = text.split(SECTION, 1)[1].split("\n## ", 1)[0]
    rows = []
    heading, folders = "", ()
    for line in section.splitlines():
        if line.startswith("### "):
            heading = line[4:].strip()
            folders = tuple(re.findall(r"`([^`]+)`", heading))
        elif line.startswith("| `"):
            cells = [cell.strip() for cell in line.strip("|").split("|")]
            where = re.findall(r"`([^`]+)`", cells[1])
            assert len(where) == 1, f"tests/README.md: row {line!r} must name one defining file"
            names = re.findall(r"`([^`]+)`", cells[0])
            rows.extend(Row(heading, folders, where[0], name, cells[2]) for name in names)
    return rows


def test_the_detector_sees_fixtures_that_start_something() -> None:
    # A detector gone blind would make the next test pass vacuously.
    starting = {(f.where, f.name) for f in defined_fixtures() if f.starts}
    assert ("plugins/openbao.py", "openbao") in starting
    assert ("reliability/conftest.py", "make_proxy") in starting
    assert ("reliability/test_ha_failover.py", "cluster") in starting
    assert ("django/conftest.py", "site") not in starting


def test_every_fixture_that_must_be_listed_is_listed() -> None:
    listed = {(row.where, row.name) for row in readme_rows()}
    missing = [
        f"{f.name} ({f.where})"
        for f in defined_fixtures()
        if must_be_listed(f) and (f.where, f.name) not in listed
    ]
    assert not missing, (
        f"tests/README.md, section {SECTION!r}: add a row (fixture, defining file, scope, what it "
        f"starts) under its folder for: {', '.join(missing)}"
    )


def test_every_listed_fixture_exists_where_the_row_says() -> None:
    defined = {(f.where, f.name) for f in defined_fixtures()}
    stale = [
        f"{row.name} ({row.where})" for row in readme_rows() if (row.where, row.name) not in defined
    ]
    assert not stale, (
        f"tests/README.md lists fixtures that are not defined there: {', '.join(stale)}"
    )


def test_every_row_is_under_its_folder_and_gives_its_scope() -> None:
    scopes = {(f.where, f.name): f.scope for f in defined_fixtures()}
    for row in readme_rows():
        assert row.where.startswith(row.folders), (
            f"tests/README.md: {row.name} ({row.where}) is under {row.heading!r}; move its row "
            "to its folder's table"
        )
        expected = scopes.get((row.where, row.name), row.scope)
        assert row.scope == expected, (
            f"tests/README.md: {row.name} ({row.where}) is listed with scope {row.scope!r}, the "
            f"code says {expected!r}"
        )
