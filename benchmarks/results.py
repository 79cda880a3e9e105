"""What one ``make bench`` run measured: the :class:`Results` that ``run.py`` fills and
``pages.py`` renders, the :class:`Config` it ran with, and the names both sides quote.

The measuring side (``run.py`` and the ``bench_*.py`` sections it calls) and the rendering side
(``pages.py``) both import this module and never each other's way back: ``run.py`` imports
``pages.py`` to write the pages after measuring, ``pages.py`` imports no measuring driver, and a
section that runs on its own (``bench_fleet_scale.py``) finds the servers and secrets of
``make bench`` in ``servers.py``. ``tests/unit/test_benchmarks.py`` keeps the imports among
``benchmarks/`` modules free of circles.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import bench_fleet_scale

if TYPE_CHECKING:
    import bench_load
    import bench_refresh

ROOT = Path(__file__).resolve().parents[1]
#: The raw results of the last run (git-ignored), so the pages can be rendered again.
SAVED = ROOT / ".benchmarks" / "run-results.pkl"
#: The last commit before the start-up and hot-path work; its rows are the "before" figures.
BASELINE = "2648e0e"
SDKS = ("boto3", "botocore", "hvac", "requests", "django")
Samples = list[float]

ALL_IMPORTS = "(all imports)"

#: Reader labels of section a, in table order. The first three are floors: what any cached read
#: costs.
DICT = "bare dict read"
CONSTANT = "module-level constant"
MONOTONIC = "time.monotonic() alone"
OURS = "CachedKeyring.get()"
CACHING = "aws-secretsmanager-caching get_secret_string"
POWERTOOLS = "Powertools get_secret(max_age=300)"

#: What each backend's cold-start target compares ours with: the peer libraries on Secrets
#: Manager (the fastest of them), the bare hvac read on OpenBao (there is no peer library).
TARGET_PEERS = {
    "vault_ours": ("vault_hvac",),
    "aws_ours": ("aws_caching", "aws_powertools"),
}
#: The peers each backend's cold start is compared with (the bare SDK call included).
PEERS = {
    "aws_ours": ("aws_caching", "aws_powertools", "aws_boto3"),
    "vault_ours": ("vault_hvac",),
}


@dataclass
class Config:
    cold_runs: int = 25
    import_runs: int = 5
    primed_processes: int = 4
    refresh_pairs: int = 3
    fleet: bool = True
    #: Count the target pairs' instructions under callgrind (when valgrind is on ``PATH``).
    instructions: bool = True
    scale_processes: int = bench_fleet_scale.PROCESSES
    scale_window: float = bench_fleet_scale.WINDOW


@dataclass
class ColdRuns:
    """One entry point's cold starts, per variant: wall ms, user and system CPU ms (from
    ``getrusage(RUSAGE_CHILDREN)``) and minor page faults (memory the process mapped or touched
    for the first time)."""

    wall: dict[str, Samples] = field(default_factory=dict)
    user: dict[str, Samples] = field(default_factory=dict)
    system: dict[str, Samples] = field(default_factory=dict)
    faults: dict[str, Samples] = field(default_factory=dict)

    def add(self, name: str, wall: float, before: Any, after: Any) -> None:
        self.wall.setdefault(name, []).append(wall)
        self.user.setdefault(name, []).append((after.ru_utime - before.ru_utime) * 1000)
        self.system.setdefault(name, []).append((after.ru_stime - before.ru_stime) * 1000)
        self.faults.setdefault(name, []).append(float(after.ru_minflt - before.ru_minflt))


@dataclass
class Results:
    """Raw samples; every statistic on the pages is computed from these."""

    date: str = ""
    machine: str = ""
    versions: str = ""
    baseline: str | None = None
    load_average: tuple[float, ...] = ()
    primed: dict[str, dict[str, Samples]] = field(default_factory=dict)
    peers: dict[str, Samples] = field(default_factory=dict)
    refresh: bench_refresh.RefreshOverhead | None = None
    cold: dict[str, Samples] = field(default_factory=dict)
    cold_requests: dict[str, dict[str, int]] = field(default_factory=dict)
    #: Every entry point's cold starts with their CPU time and page faults (``run.ENTRIES``);
    #: ``cold`` is the wall time of the first, kept for the pages and the charts.
    cold_runs: dict[str, ColdRuns] = field(default_factory=dict)
    #: Entry point -> variant -> millions of instructions of one cold start (callgrind); empty
    #: when valgrind was not installed. See ``run.instructions()``.
    instructions: dict[str, dict[str, float]] = field(default_factory=dict)
    imports: dict[str, dict[str, Samples]] = field(default_factory=dict)
    describe_ms: Samples = field(default_factory=list)
    import_ms: Samples = field(default_factory=list)
    import_own_ms: Samples = field(default_factory=list)
    import_after_django_ms: Samples = field(default_factory=list)
    imported: list[str] = field(default_factory=list)
    vault_requests: list[tuple[str, list[str], list[str], list[str]]] = field(default_factory=list)
    load: list[bench_load.LoadResult] = field(default_factory=list)
    fleet: list[Any] = field(default_factory=list)
    scale: bench_fleet_scale.ScaleResult | None = None
    seconds: dict[str, float] = field(default_factory=dict)


def save(path: Path, config: Config, results: Results) -> None:
    """Keep a run's results in ``path`` for ``run.py --render``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps((config, results)))


def load(path: Path) -> tuple[Config, Results]:
    """The config and results :func:`save` kept in ``path``.

    Raises:
        TypeError: ``path`` does not hold a run's config and results.
    """
    # Our own file, written by save() on this machine.
    config, results = pickle.loads(path.read_bytes())  # noqa: S301
    if not isinstance(config, Config) or not isinstance(results, Results):
        raise TypeError(f"{path}: not the results of a benchmarks/run.py run")
    return config, results
