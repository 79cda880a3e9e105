"""The benchmark scripts' structure and the figures they put on the docs pages.

``make bench`` takes minutes of both cores, so nothing here measures: the import graph is read
from the sources, and the figures are drawn from synthetic results shaped like a real run's.
"""

from __future__ import annotations

import ast
import collections
import struct
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"

#: mkdocs-material's content column on a desktop screen, in CSS pixels: a wider figure is
#: shrunk to it, its text with it.
DOCS_COLUMN_PX = 800
#: The smallest text a figure may show at the size the page shows it. The docs' body text is
#: about 16 px; 12 px is the usual floor for labels read without zooming.
SMALLEST_TEXT_PX = 12.0


def imports_among(folder: Path) -> dict[str, set[str]]:
    """Module -> the modules of ``folder`` it imports, wherever the import statement is (at
    the top, in a function, under ``TYPE_CHECKING``): each is an edge a reader follows."""
    local = {path.stem for path in folder.glob("*.py")}
    graph: dict[str, set[str]] = {}
    for path in sorted(folder.glob("*.py")):
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                # ``import bench_aws`` (benchmarks/ on sys.path) or ``benchmarks.bench_aws``.
                parts = name.split(".")
                stem = parts[1] if parts[0] == folder.name and len(parts) > 1 else parts[0]
                if stem in local and stem != path.stem:
                    found.add(stem)
        graph[path.stem] = found
    return graph


def find_circle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle of ``graph`` as ``[a, b, ..., a]``, or ``None`` when it has none."""
    done: set[str] = set()
    path: list[str] = []

    def visit(module: str) -> list[str] | None:
        if module in path:
            return [*path[path.index(module) :], module]
        if module in done:
            return None
        path.append(module)
        for imported in sorted(graph.get(module, ())):
            circle = visit(imported)
            if circle is not None:
                return circle
        path.pop()
        done.add(module)
        return None

    for module in sorted(graph):
        circle = visit(module)
        if circle is not None:
            return circle
    return None


def test_find_circle_finds_one() -> None:
    """The checker below can fail: a circle three modules long is found and named."""
    graph = {"run": {"pages", "scale"}, "pages": {"model"}, "model": {"run"}, "scale": set()}
    assert find_circle(graph) == ["model", "run", "pages", "model"]
    assert find_circle({"run": {"pages"}, "pages": {"model"}, "model": set()}) is None


def test_benchmark_modules_import_no_circle() -> None:
    """Measuring (``run.py`` and the ``bench_*.py`` sections), rendering (``pages.py``) and a
    section run on its own (``bench_fleet_scale.py``) each import the other one way only: the
    shared record is ``results.py``, the shared servers ``servers.py``."""
    graph = imports_among(BENCHMARKS)
    assert {"run", "pages", "bench_fleet_scale"} <= set(graph)
    circle = find_circle(graph)
    assert circle is None, f"import circle among benchmarks/ modules: {' -> '.join(circle)}"
    # What this layout is for: the renderer never reaches the measuring driver.
    reached, todo = set(), ["pages"]
    while todo:
        for imported in graph[todo.pop()] - reached:
            reached.add(imported)
            todo.append(imported)
    assert "run" not in reached


# -- figures --------------------------------------------------------------------------------------


@pytest.fixture
def bench(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, ModuleType]]:
    """``pages`` and ``results`` imported as ``run.py`` imports them (benchmarks/ on
    ``sys.path``); the modules and the path are put back afterwards."""
    # The bench dependency group; the compatibility cell installs only the test group, and
    # the figures do not change with the Python or Django version.
    pytest.importorskip("matplotlib", reason="the figures need the bench group (matplotlib)")
    before = set(sys.modules)
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    import pages
    import results

    yield {"pages": pages, "results": results}
    for name in set(sys.modules) - before:
        if str(getattr(sys.modules[name], "__file__", "") or "").startswith(str(BENCHMARKS)):
            del sys.modules[name]


def synthetic_results(results: Any) -> Any:
    """Results with every section a full run has, shaped like one (thirteen cold-start
    variants, five primed readers, two fleets) with made-up numbers."""
    import bench_fleet_scale
    import bench_load
    import bench_refresh
    import pages

    from devservers.fleet import FleetResult

    def spread(middle: float, count: int = 15) -> list[float]:
        return [middle * (0.8 + 0.4 * i / (count - 1)) for i in range(count)]

    after = {
        results.DICT: spread(87),
        results.CONSTANT: spread(66),
        results.MONOTONIC: spread(140),
        results.OURS: spread(216),
    }
    variants = list(pages.CHART_COLD_LABELS)  # every cold-start variant run.py measures
    cold = {name: spread(140 + 35 * index, 25) for index, name in enumerate(variants)}
    counts = collections.Counter({("whoami", "ok"): 17_500, ("whoami", "logged_out"): 320})
    counts[("signed", "bad_signature")] = 260
    clean = collections.Counter({("whoami", "ok"): 18_117})
    fleets = [
        FleetResult(
            payload=payload,
            preload=False,
            counts=clean if payload == "keyring" else counts,
            renewals=0,
            relogins=0,
            rejection_delays=[] if payload == "keyring" else [0.4, 1.1, 1.9],
            load_seconds=40.0,
            total_seconds=45.0,
            rotations=10,
            final=(None, None),
            converged_pids={1, 2, 3, 4},
            booted_workers=4,
            signing_fingerprints={},
        )
        for payload in ("keyring", "plain")
    ]
    return results.Results(
        date="2026-01-01",
        machine="synthetic",
        versions="synthetic",
        baseline=results.BASELINE,
        primed={"after": after, "before": {**after, results.OURS: spread(315)}},
        peers={
            results.OURS: spread(249),
            results.CACHING: spread(118_455),
            results.POWERTOOLS: spread(7_286),
        },
        refresh=bench_refresh.RefreshOverhead(
            with_app=spread(3153),
            without_app=spread(3105),
            dispatch_with_ns=spread(18_806, 30),
            dispatch_without_ns=spread(17_050, 30),
        ),
        cold=cold,
        cold_requests={"aws_ours": {"GetSecretValue": 1}, "aws_before": {"GetSecretValue": 1}},
        describe_ms=spread(3.0),
        import_ms=spread(6.2, 5),
        import_own_ms=spread(2.1, 5),
        import_after_django_ms=spread(5.0, 5),
        load=[
            bench_load.LoadResult(64, 60.0, 5.0, jitter, 0.01, 15_360, reads, (0.0, 5.0))
            for jitter, reads in ((0.0, 12), (0.1, 13))
        ],
        fleet=fleets,
        scale=bench_fleet_scale.ScaleResult(
            processes=64,
            cpus=2,
            ttl=5.0,
            jitter=0.1,
            poll=0.05,
            window=30.0,
            startup_seconds=20.0,
            startup={},
            steady={bench_fleet_scale.VAULT_CHECK: 402, bench_fleet_scale.AWS_CHECK: 386},
        ),
        seconds={"total": 660.0},
    )


def png_size(path: Path) -> tuple[int, int]:
    """Width and height in pixels, from the PNG's header."""
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n", f"{path.name} is not a PNG"
    width, height = struct.unpack(">II", header[16:24])
    return int(width), int(height)


def test_one_readable_figure_per_section(bench: dict[str, ModuleType], tmp_path: Path) -> None:
    """Each section's figure is drawn at most the docs column's width (shown at its own size,
    not shrunk), its smallest text is at least ``SMALLEST_TEXT_PX`` high as shown, and no text
    is cut off at the figure's edge. (The 3x2 grid drawn before was 1440 px wide: shrunk to
    the column, its smallest labels were 5 px high.)"""
    import matplotlib.text
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    pages, results = bench["pages"], bench["results"]
    synthetic = synthetic_results(results)
    written = pages.draw_charts(synthetic, tmp_path / "img")
    sections = ["primed", "refresh", "cold", "load", "fleet", "scale"]
    assert list(written) == sections
    for section, figure in pages.figures(synthetic).items():
        width, height = png_size(written[section])
        assert width <= DOCS_COLUMN_PX, f"{section}: {width} px wide, the column {DOCS_COLUMN_PX}"
        shown = min(1.0, DOCS_COLUMN_PX / width)  # how much the page shrinks it
        # Pixels per point in the file, from its size: whatever dpi the figure was saved at.
        px_per_point = width / figure.get_size_inches()[0] / 72
        renderer = FigureCanvasAgg(figure).get_renderer()
        figure.draw(renderer)  # lays it out as savefig() does
        for label in figure.findobj(matplotlib.text.Text):
            if label.get_visible() and label.get_text().strip():
                size_px = label.get_fontsize() * px_per_point * shown
                assert size_px >= SMALLEST_TEXT_PX, (
                    f"{section}: {label.get_text()!r} is {size_px:.1f} px high as shown"
                )
        # Everything drawn (labels, ticks, legend), in inches from the figure's corner.
        drawn = figure.get_tightbbox(renderer)
        wide, high = figure.get_size_inches()
        margin = 1 / figure.dpi  # a pixel of rounding
        inside = drawn.x0 >= -margin and drawn.y0 >= -margin
        inside = inside and drawn.x1 <= wide + margin and drawn.y1 <= high + margin
        assert inside, f"{section}: drawn {drawn}, cut off at the edge of {wide}x{high} in"
        assert height <= 2 * width, f"{section}: {width}x{height} px"


def test_render_shows_each_figure_in_its_section(
    bench: dict[str, ModuleType], tmp_path: Path
) -> None:
    """``run.py --render FILE`` measures nothing: from what a run saved it writes the pages and
    each section's figure, and the summary page shows that figure under the section's heading,
    once, at a path relative to the page; no figure is left out."""
    results = bench["results"]
    saved = tmp_path / "run-results.pkl"
    results.save(saved, results.Config(), synthetic_results(results))
    import run

    out = tmp_path / "docs" / "benchmarks.md"
    # An earlier run's figures that no page shows any more: the one-grid chart, a section
    # left out since.
    (out.parent / "img").mkdir(parents=True)
    (out.parent / "img" / "benchmarks.png").write_bytes(b"old")
    (out.parent / "img" / "benchmarks-gone.png").write_bytes(b"old")
    (out.parent / "img" / "logo.png").write_bytes(b"not ours")
    assert run.main(["--render", str(saved), "--out", str(out)]) == 0
    for page in ("benchmarks-core.md", "benchmarks-aws.md", "benchmarks-vault.md"):
        assert (out.parent / page).is_file()
    headings = {
        "primed": "## a. ",
        "refresh": "## b. ",
        "cold": "## c. ",
        "load": "## d. ",
        "fleet": "## e. ",
        "scale": "## f. ",
    }
    figures = sorted(path.name for path in (out.parent / "img").iterdir())
    assert figures == sorted([*(f"benchmarks-{section}.png" for section in headings), "logo.png"])
    lines = out.read_text(encoding="utf-8").splitlines()
    for section, heading in headings.items():
        image = [i for i, line in enumerate(lines) if f"](img/benchmarks-{section}.png)" in line]
        assert len(image) == 1, f"{section}: shown {len(image)} times"
        above = [line for line in lines[: image[0]] if line.startswith("## ")]
        assert above[-1].startswith(heading), f"{section}: shown under {above[-1]!r}"
