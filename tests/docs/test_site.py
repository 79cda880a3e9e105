"""The documentation site as ``make docs`` builds it, read as a browser would load it.

A reader without network access (an air-gapped network, a laptop on a train) must see the same
site: the mermaid diagrams drawn, not their source text. mkdocs-material draws a ``mermaid`` block
with the page's global ``mermaid`` when the page defines one, and otherwise loads the script from
a CDN; these tests check that every page with a diagram defines it from a file the site ships.
They read the built HTML: CI has no browser. The long-line limit was measured once in headless
Chromium on the built site (see ``CODE_COLUMNS``).
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest

# The build takes about ten seconds (mkdocstrings renders the API pages).
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
VENDOR = ROOT / "docs" / "assets" / "vendor" / "mermaid"
#: Where the bundled script is served from, relative to the site's root.
MERMAID_PATH = "assets/vendor/mermaid/mermaid.min.js"

#: Columns of a code block a reader sees without scrolling, on every desktop layout. Measured in
#: headless Chromium on the built site: the content column is narrowest in a window just at a
#: breakpoint where a sidebar appears (960 px: the table of contents; 1220 px: the navigation)
#: with a scrollbar that takes room. There a block shows 76 columns of the 13.6 px monospace font
#: (DejaVu Sans Mono, the fallback offline; the theme's Roboto Mono is narrower) and the copy
#: button covers its first line from column 75 on. Phones scroll code sideways at any length.
CODE_COLUMNS = 74
#: The pages a newcomer copies commands from, top to bottom.
NEWCOMER_PAGES = ("index.html", "getting-started/index.html")


class Page(HTMLParser):
    """The scripts, stylesheets, diagrams and code blocks of one built page."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[dict[str, str | None]] = []
        self.links: list[dict[str, str | None]] = []
        self.diagrams = 0
        self.code_blocks: list[str] = []
        self._pre_depth = 0
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "script":
            self.scripts.append(found)
        elif tag == "link":
            self.links.append(found)
        elif tag == "pre":
            if "mermaid" in (found.get("class") or "").split():
                self.diagrams += 1
            elif self._pre_depth == 0:
                self._pre_depth = 1
                self._text = []
                return
            if self._pre_depth:
                self._pre_depth += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "pre" and self._pre_depth:
            self._pre_depth -= 1
            if self._pre_depth == 0:
                self.code_blocks.append("".join(self._text))

    def handle_data(self, data: str) -> None:
        if self._pre_depth:
            self._text.append(data)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site built from this checkout with the project's own configuration, as ``make docs``."""
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet", "--site-dir", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, f"mkdocs build failed:\n{done.stdout}\n{done.stderr}"
    return out


def pages(site: Path) -> dict[str, Page]:
    """Every built HTML page by its path under the site, parsed."""
    parsed: dict[str, Page] = {}
    for path in sorted(site.rglob("*.html")):
        page = Page()
        page.feed(path.read_text("utf-8"))
        parsed[path.relative_to(site).as_posix()] = page
    return parsed


def resolve(page_path: str, reference: str) -> str:
    """What a page's ``src``/``href`` points to: a path under the site, or an absolute URL."""
    joined = urljoin(f"http://site.invalid/{page_path}", reference)
    parts = urlsplit(joined)
    if parts.netloc != "site.invalid":
        return joined
    return parts.path.lstrip("/")


def recorded(field: str) -> str:
    """One field of the provenance notice beside the bundled script."""
    text = (VENDOR / "SOURCE.txt").read_text("utf-8")
    match = re.search(rf"^{field}:\s+(\S+)", text, re.M)
    assert match is not None, f"SOURCE.txt has no '{field}:' line"
    return match.group(1)


def recorded_version() -> str:
    text = (VENDOR / "SOURCE.txt").read_text("utf-8")
    match = re.search(r'npm package "mermaid", version (\d+\.\d+\.\d+)', text)
    assert match is not None, "SOURCE.txt does not say which mermaid version it holds"
    return match.group(1)


def test_every_page_with_a_diagram_loads_the_bundled_mermaid_before_the_theme(site: Path) -> None:
    """A diagram is drawn only if its page defines ``mermaid`` by the time the theme looks, on
    DOMContentLoaded: a classic script from the site itself (``async`` would run too late)."""
    built = pages(site)
    with_diagrams = {path: page for path, page in built.items() if page.diagrams}
    assert {"architecture/index.html", "rotation/index.html"} <= set(with_diagrams)
    for path, page in with_diagrams.items():
        loads = [
            script
            for script in page.scripts
            if script.get("src") and resolve(path, str(script["src"])) == MERMAID_PATH
        ]
        assert loads, f"{path} has a mermaid diagram but does not load {MERMAID_PATH}"
        assert all("async" not in script and "type" not in script for script in loads), path
    assert (site / MERMAID_PATH).is_file()
    assert (site / MERMAID_PATH).read_bytes() == (ROOT / "docs" / MERMAID_PATH).read_bytes()
    assert (site / "assets" / "vendor" / "mermaid" / "LICENSE").is_file()


def test_no_page_loads_a_script_or_anything_mermaid_from_another_host(site: Path) -> None:
    """Scripts come from the site only; nothing named mermaid is fetched from elsewhere. (The
    theme's web fonts still come from Google Fonts; offline, the browser uses its own fonts.)"""
    for path, page in pages(site).items():
        for script in page.scripts:
            if script.get("src"):
                target = resolve(path, str(script["src"]))
                assert not urlsplit(target).scheme, f"{path} loads a script from {target}"
        for link in page.links:
            target = resolve(path, str(link.get("href") or ""))
            if "mermaid" in target.lower():
                assert not urlsplit(target).scheme, f"{path} links to {target}"


def test_the_theme_still_defers_to_a_page_provided_mermaid_of_the_same_major(site: Path) -> None:
    """The theme's loader fetches ``mermaid@<major>`` from a CDN only when ``mermaid`` is
    undefined, and configures it for that major version: the bundled copy must be the same major.
    A theme upgrade that changes either fails here; re-check how it finds mermaid."""
    bundles = list((site / "assets" / "javascripts").glob("bundle.*.min.js"))
    assert len(bundles) == 1, bundles
    theme = bundles[0].read_text("utf-8")
    assert re.search(r'typeof mermaid\s*={2,3}\s*"undefined"', theme), (
        "the theme no longer checks for a page-provided mermaid"
    )
    majors = set(re.findall(r"mermaid@(\d+)/", theme))
    bundled = recorded_version()
    assert majors == {bundled.split(".")[0]}, (
        f"the theme is written for mermaid {sorted(majors)}, the site ships {bundled}: "
        "bundle the major the theme asks for (docs/assets/vendor/mermaid/SOURCE.txt says how)"
    )


def test_the_bundled_mermaid_is_the_upstream_file_its_notice_names() -> None:
    digest = hashlib.sha256((VENDOR / "mermaid.min.js").read_bytes()).hexdigest()
    assert digest == recorded("sha256")
    assert "MIT License" in (VENDOR / "LICENSE").read_text("utf-8")


def test_sequence_diagrams_have_no_semicolon_in_their_text() -> None:
    """Mermaid ends a statement at ``;``, so a message or note with one in its text is a parse
    error and the theme shows the diagram's source instead (rotation.md had two)."""
    fences = re.compile(r"^(?P<indent> *)```mermaid\n(?P<body>.*?)^(?P=indent)```", re.M | re.S)
    found = []
    for path in sorted((ROOT / "docs").rglob("*.md")):
        for fence in fences.finditer(path.read_text("utf-8")):
            body = fence["body"]
            if body.lstrip().startswith("sequenceDiagram"):
                found += [
                    f"{path.name}: {line.strip()}" for line in body.splitlines() if ";" in line
                ]
    assert not found, "\n".join(found)


@pytest.mark.parametrize("page_path", NEWCOMER_PAGES)
def test_newcomer_code_lines_fit_beside_the_copy_button(site: Path, page_path: str) -> None:
    page = pages(site)[page_path]
    assert page.code_blocks, page_path
    too_long = [
        f"{len(line)}: {line}"
        for block in page.code_blocks
        for line in block.splitlines()
        if len(line) > CODE_COLUMNS
    ]
    assert not too_long, f"{page_path}: code lines over {CODE_COLUMNS} columns:\n" + "\n".join(
        too_long
    )
