"""Figures the tests measure, printed in the terminal summary, with or without pytest-xdist.

``make test`` runs the suite in pytest-xdist workers, whose own terminal summaries nobody sees: a
worker hands the sections it recorded to the controller when it finishes (xdist's
``workeroutput``), and the controller prints every section once, at the end of the run. Without
xdist the same process records and prints.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

import pytest

_KEY = "secret_keyring_summary"
#: section title -> {line name: line}; a later line of the same name replaces the earlier one.
_sections: dict[str, dict[str, str]] = {}
#: Sections rendered at the end of the session from what this process collected.
_renderers: dict[str, Callable[[], Iterable[str]]] = {}


def record(section: str, name: str, line: str) -> None:
    """Print ``line`` under ``section`` in the terminal summary (sorted by ``name``)."""
    _sections.setdefault(section, {})[name] = line


def render_at_end(section: str, render: Callable[[], Iterable[str]]) -> None:
    """Print the lines ``render()`` gives under ``section``, computed when this process's session
    ends (for a report that needs every result of the process together)."""
    _renderers[section] = render


def _collect(process: str = "") -> None:
    for section, render in _renderers.items():
        for number, line in enumerate(render()):
            # Each process renders its own results: number its lines apart from the others'.
            record(section, f"{process}{number:04d}", line)
    _renderers.clear()


def pytest_sessionfinish(session: pytest.Session) -> None:
    workerinput = getattr(session.config, "workerinput", None)
    _collect(f"{workerinput['workerid']}:" if workerinput is not None else "")
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:  # an xdist worker: hand the sections to the controller
        workeroutput[_KEY] = json.dumps(_sections)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object) -> None:
    """xdist's controller: a worker finished; keep what it recorded."""
    for section, lines in json.loads(getattr(node, "workeroutput", {}).get(_KEY, "{}")).items():
        _sections.setdefault(section, {}).update(lines)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    _collect()
    for section in sorted(_sections):
        terminalreporter.section(section)
        for name in sorted(_sections[section]):
            terminalreporter.write_line(_sections[section][name])
