"""Rendering for ``make bench``: the summary page, the three detailed pages and the charts, all from
one :class:`results.Results`. Nothing here measures; every sentence that states a result is computed
from the samples (a comparison says "slower" when the numbers say so).

One convention throughout: a figure is the median of its samples with the min-max range in
parentheses, and every table or paragraph states its N.
"""

from __future__ import annotations

import math
import statistics
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import bench_aws
import bench_fleet_scale
from results import (
    ALL_IMPORTS,
    BASELINE,
    CACHING,
    CONSTANT,
    DICT,
    MONOTONIC,
    OURS,
    PEERS,
    POWERTOOLS,
    SDKS,
    TARGET_PEERS,
    ColdRuns,
    Config,
    Results,
)

if TYPE_CHECKING:
    import bench_refresh
    from matplotlib.figure import Figure

#: AWS Secrets Manager API price, from https://aws.amazon.com/secrets-manager/pricing/
#: ($0.05 per 10,000 API calls; $0.40 per secret per month), as published on 2026-09-20.
PRICE_PER_10K_CALLS = 0.05
PRICE_SOURCE = "https://aws.amazon.com/secrets-manager/pricing/"
PRICE_DATE = "2026-09-20"
FLEET_PROCESSES = 1000
DEFAULT_TTL = 300.0
DEFAULT_JITTER = 0.1
MONTH_SECONDS = 30 * 86400

STDLIB = "(standard library)"
COLD_LABELS = {
    "floor": "floor: constant SECRET_KEY",
    "vault_ours": "OpenBao: secret_keys('vault://...')",
    "vault_before": f"OpenBao: secret_keys(), before ({BASELINE})",
    "vault_hvac": "OpenBao: bare hvac read",
    "aws_ours": "Secrets Manager: secret_keys('aws-secretsmanager://...')",
    "aws_before": f"Secrets Manager: secret_keys(), before ({BASELINE})",
    "aws_with_boto3": "Secrets Manager: secret_keys() after `import boto3` (lever off)",
    "aws_with_describe": "Secrets Manager: secret_keys() after a DescribeSecret (lever off)",
    "aws_with_scan": "Secrets Manager: secret_keys() with botocore's service scan (lever off)",
    "aws_without_headroom": "Secrets Manager: secret_keys() without frame headroom (lever off)",
    "aws_caching": "Secrets Manager: aws-secretsmanager-caching",
    "aws_powertools": "Secrets Manager: Powertools get_secret",
    "aws_boto3": "Secrets Manager: bare boto3 get_secret_value",
}
CHART_COLD_LABELS = {
    "floor": "floor (constant)",
    "vault_ours": "OpenBao: secret_keys()",
    "vault_before": "OpenBao: secret_keys(), before",
    "vault_hvac": "OpenBao: bare hvac",
    "aws_ours": "AWS: secret_keys()",
    "aws_before": "AWS: secret_keys(), before",
    "aws_with_boto3": "AWS: + import boto3",
    "aws_with_describe": "AWS: + DescribeSecret",
    "aws_with_scan": "AWS: + service scan",
    "aws_without_headroom": "AWS: - headroom",
    "aws_caching": "AWS: aws-secretsmanager-caching",
    "aws_powertools": "AWS: Powertools",
    "aws_boto3": "AWS: bare boto3",
}


# -- statistics -----------------------------------------------------------------------------------


def med(samples: Sequence[float]) -> float:
    return statistics.median(samples)


def fmt(samples: Sequence[float], digits: int = 0) -> str:
    """``median (min-max)``."""
    return f"{med(samples):,.{digits}f} ({min(samples):,.{digits}f}-{max(samples):,.{digits}f})"


def compare(ours: float, other: float, unit: str = "ms", digits: int = 1) -> str:
    """``12.3 ms (8%) faster`` / ``slower`` / ``the same``, from two medians."""
    difference = ours - other
    if abs(difference) < 10**-digits / 2:
        return "the same"
    word = "slower" if difference > 0 else "faster"
    return f"{abs(difference):.{digits}f} {unit} ({abs(difference) / other:.0%}) {word}"


def overlaps(a: Sequence[float], b: Sequence[float]) -> bool:
    return min(a) <= max(b) and min(b) <= max(a)


def ratios(values: Sequence[float], base: Sequence[float]) -> list[float]:
    """Run-by-run ratios of two readers that took turns run by run (index ``i`` of each is the
    same run of the same process), so a run the machine slowed down slows both."""
    return [value / other for value, other in zip(values, base, strict=True)]


def fmt_ratio(values: Sequence[float]) -> str:
    """``2.91x (2.50-3.40)``: the median run-by-run ratio with its min-max."""
    return f"{med(values):.2f}x ({min(values):.2f}-{max(values):.2f})"


def median_interval(values: Sequence[float], confidence: float = 0.95) -> tuple[float, float]:
    """A distribution-free ``confidence`` interval for the median of ``values``: the order
    statistics that the binomial distribution (the sign test) puts at least ``confidence``
    between, whatever the samples' distribution. Min-max when N is too small for one."""
    ordered = sorted(values)
    n = len(ordered)
    cut, below = -1, 0.0  # below: the chance that at most cut + 1 samples fall under the median
    while cut + 1 < n:
        below += math.comb(n, cut + 1) / 2**n
        if below > (1 - confidence) / 2:
            break
        cut += 1
    cut = max(cut, 0)
    return ordered[cut], ordered[n - 1 - cut]


def n_of(samples: Sequence[float]) -> int:
    return len(samples)


def text(*parts: str) -> str:
    return "".join(parts)


# -- targets --------------------------------------------------------------------------------------


def targets(results: Results) -> list[tuple[str, str, str, bool]]:
    """(claim, goal, measured, met) for every target, each decided from the samples."""
    rows = []
    for entry, how in (("import", "settings import"), ("setup", "`django.setup()`")):
        cold = entry_runs(results, entry).wall
        if "aws_ours" in cold:
            measured, met = cold_decision(results, entry, "aws_ours", 1.0)
            rows.append(
                (
                    f"cold start, Secrets Manager, {how} (whole process, run by run)",
                    "no slower than the fastest peer library",
                    measured,
                    met,
                )
            )
        if "vault_ours" in cold:
            measured, met = cold_decision(results, entry, "vault_ours", 1.05)
            rows.append(
                (
                    f"cold start, OpenBao, {how} (whole process, run by run)",
                    "within 5% of a bare hvac read",
                    measured,
                    met,
                )
            )
    if results.primed:
        after = results.primed["after"]
        ours, floor = med(after[OURS]), med(after[DICT])
        ratio = med(ratios(after[OURS], after[DICT]))
        rows.append(
            (
                "primed get against a bare dict read (median of run-by-run ratios)",
                "3x or less",
                text(
                    f"{ours:.0f} ns against {floor:.0f} ns: {ratio:.2f}x ",
                    f"(`time.monotonic()` alone: {med(after[MONOTONIC]):.0f} ns, ",
                    f"{med(ratios(after[MONOTONIC], after[DICT])):.2f}x)",
                ),
                ratio <= 3,
            )
        )
    if results.peers:
        ours = med(results.peers[OURS])
        ratio = min(med(results.peers[CACHING]), med(results.peers[POWERTOOLS])) / ours
        rows.append(
            (
                "primed get against aws-secretsmanager-caching and Powertools",
                "at least 10x cheaper",
                f"{ratio:.0f}x cheaper than the faster of the two",
                ratio >= 10,
            )
        )
    if results.refresh is not None:
        refresh = results.refresh
        rows.append(
            (
                "live-refresh overhead, minimal request",
                "under 1%",
                text(
                    f"{refresh.computed_overhead:.2%} ({refresh.added_ns:.0f} ns of a ",
                    f"{refresh.request_ns / 1000:.0f} µs request)",
                ),
                refresh.computed_overhead < 0.01,
            )
        )
    if results.import_ms:
        rows.append(
            (
                "`import secret_keyring`",
                "under 20 ms, no SDK or Django imported",
                text(
                    f"{med(results.import_ms):.1f} ms; imported: ",
                    f"{', '.join(results.imported) or 'none'}",
                ),
                med(results.import_ms) < 20 and not results.imported,
            )
        )
    if results.load:
        exact = results.load[0]
        rows.append(
            (
                "backend reads of one process, 64 threads, 60 s, ttl=5",
                f"one per refresh period ({exact.periods})",
                f"{exact.fetches} reads for {exact.gets:,} get() calls",
                exact.fetches == exact.periods,
            )
        )
    keyring = [r for r in results.fleet if r.payload == "keyring"]
    if keyring:
        rows.append(
            (
                "fleet, 10 rotations, keyring JSON: rejected requests",
                "0",
                ", ".join(f"{r.rejected} of {r.requests:,}" for r in keyring),
                all(r.rejected == 0 and r.outcome("server_error") == 0 for r in keyring),
            )
        )
    scale = results.scale
    if scale is not None:
        low, high = scale.band_per_minute
        for name, label in (
            (bench_fleet_scale.VAULT_CHECK, "OpenBao"),
            (bench_fleet_scale.AWS_CHECK, "Secrets Manager"),
        ):
            rows.append(
                (
                    f"fleet scale, {scale.processes} processes: {label} reads per minute",
                    f"processes / TTL with jitter: {low:.0f}-{high:.0f}",
                    text(
                        f"{scale.per_minute(name):.0f} (formula's mean ",
                        f"{scale.expected_per_minute:.0f})",
                    ),
                    scale.within(name),
                )
            )
    return rows


#: How a cold-start target is decided, for the summary (``cold_decision`` implements it).
COLD_RULE = text(
    "Cold-start targets are decided run by run: each round starts every variant once, in a ",
    "shuffled order in which ours and the variants its targets compare it with start back to ",
    "back (in a shuffled order of their own), and the round's ratio compares two of those. The ",
    "median of those ratios decides when its 95% interval (distribution-free, from the order ",
    "statistics) lies on one side of the goal. When the interval spans the goal, this ",
    "machine's run-to-run noise cannot tell a pass from a fail at this N, and the ",
    "instructions the two starts execute (callgrind, a count that repeats to within 0.1%; user ",
    "space only, so the detail pages give each start's page faults beside it) decide. Without ",
    "valgrind the median decides, and the row says the result is not resolved.",
)


def cold_decision(results: Results, entry: str, ours: str, goal: float) -> tuple[str, bool]:
    """The measured text and the verdict of one cold-start target, by ``COLD_RULE``: ours
    against the fastest (by median) of its ``TARGET_PEERS``."""
    cold = entry_runs(results, entry).wall
    peer = min((p for p in TARGET_PEERS[ours] if p in cold), key=lambda name: med(cold[name]))
    paired = ratios(cold[ours], cold[peer])
    low, high = median_interval(paired)
    measured = text(
        f"{med(paired):.2f}x {short(peer)} (median of {len(paired)} rounds, 95% interval ",
        f"{low:.2f}-{high:.2f}, range {min(paired):.2f}-{max(paired):.2f}); medians ",
        f"{med(cold[ours]):.0f} ms against {med(cold[peer]):.0f} ms",
    )
    if high <= goal or low > goal:
        return measured, med(paired) <= goal
    counts = instruction_counts(results, entry)
    if ours in counts and peer in counts:
        ratio = counts[ours] / counts[peer]
        return (
            text(
                measured,
                f"; the interval spans the goal, so instructions decide: {ratio:.3f}x ",
                f"({counts[ours]:,.1f}M against {counts[peer]:,.1f}M)",
            ),
            ratio <= goal,
        )
    return measured + "; the interval spans the goal: not resolved at this N", med(paired) <= goal


def instruction_counts(results: Results, entry: str) -> dict[str, float]:
    """Millions of instructions per variant through ``entry``; empty for a run without them
    (valgrind missing, or results saved before they were counted)."""
    counted: dict[str, dict[str, float]] = getattr(results, "instructions", {})
    return counted.get(entry, {})


def instructions_verdict(results: Results, ours: str, entry: str = "import") -> str:
    """A sentence with the instruction counts of ours and each counted peer; empty without."""
    counts = instruction_counts(results, entry)
    peers = [p for p in PEERS[ours] if p in counts]
    if ours not in counts or not peers:
        return ""
    compared = "; ".join(
        f"{short(p)} {counts[p]:,.1f}M ({counts[ours] / counts[p]:.3f}x)" for p in peers
    )
    return text(
        " Instructions one start executes (callgrind, fixed hash seed; repeats to within 0.1%): ",
        f"ours {counts[ours]:,.1f}M; {compared}.",
    )


def short(name: str) -> str:
    return COLD_LABELS[name].split(": ", 1)[1]


# -- summary page ---------------------------------------------------------------------------------


def header(results: Results, title: str) -> list[str]:
    load = (
        f" Load average {', '.join(f'{x:.1f}' for x in results.load_average)} at the end."
        if results.load_average
        else ""
    )
    return [
        f"# {title}",
        "",
        text(
            "Generated by `make bench` (`benchmarks/run.py` measures, `benchmarks/pages.py` ",
            f"writes this page and its siblings from the same run): {results.date}, ",
            f"{results.machine}; {results.versions}.{load} The servers (an OpenBao dev server, ",
            "moto) run on the same machine, on loopback. Every figure is the median of N ",
            "samples with the min-max range in parentheses; N is given with each table. ",
            "Absolute numbers depend on the machine and on what else it runs; figures in one ",
            "table were measured interleaved, so they are comparable with each other.",
        ),
    ]


def with_figure(lines: list[str], section: str, charts: Mapping[str, str]) -> list[str]:
    """A section's lines (a blank line, its heading, ...) with its figure under the heading."""
    if section not in charts:
        return lines
    return [*lines[:2], "", f"![{CHARTS[section][0]}]({charts[section]})", *lines[2:]]


def summary(results: Results, config: Config, charts: Mapping[str, str]) -> str:
    """The summary page; ``charts`` maps a section to its figure's path relative to the page."""
    lines = header(results, "Benchmarks")
    lines += ["", "## Targets", "", "| claim | goal | measured | met |", "|---|---|---|:-:|"]
    lines += [
        f"| {claim} | {goal} | {measured} | {'pass' if met else '**fail**'} |"
        for claim, goal, measured, met in targets(results)
    ]
    if results.cold:
        lines += ["", COLD_RULE]
    if results.primed:
        lines += with_figure(section_primed(results, config), "primed", charts)
    if results.refresh is not None:
        lines += with_figure(section_refresh(results.refresh, config), "refresh", charts)
    if results.cold:
        lines += with_figure(section_cold(results, config), "cold", charts)
    if results.load:
        lines += with_figure(section_load(results), "load", charts)
    if results.fleet:
        lines += with_figure(section_fleet(results), "fleet", charts)
    if results.scale is not None:
        lines += with_figure(section_scale(results.scale), "scale", charts)
    lines += section_before_after(results, config)
    lines += [
        "",
        "## Details",
        "",
        text(
            "From the same run: [hot path](benchmarks-core.md), [Secrets Manager: cold start ",
            "by library, imports and requests](benchmarks-aws.md), [OpenBao: cold start, ",
            "imports and requests](benchmarks-vault.md).",
        ),
        "",
        "Seconds per section: "
        + ", ".join(f"{name} {seconds:.0f}" for name, seconds in results.seconds.items())
        + ".",
        "",
    ]
    return "\n".join(lines)


def primed_table(results: Results) -> list[str]:
    """The floors and the get, this tree's and (when measured) the baseline's."""
    variants = [v for v in ("after", "before") if v in results.primed]
    n = n_of(results.primed["after"][OURS])
    names = {"after": "this tree", "before": f"before ({results.baseline})"}
    head = " | ".join(
        f"{names[v]}: ns per call, N={n} | ratio to a dict read, run by run" for v in variants
    )
    lines = [f"| reader | {head} |", "|---|" + "---:|---:|" * len(variants)]
    for reader in (DICT, CONSTANT, MONOTONIC, OURS):
        cells = []
        for variant in variants:
            values = results.primed[variant][reader]
            cells += [fmt(values), fmt_ratio(ratios(values, results.primed[variant][DICT]))]
        lines.append(f"| {reader} | " + " | ".join(cells) + " |")
    return lines


def peers_table(results: Results) -> list[str]:
    peers = results.peers
    ours = med(peers[OURS])
    return [
        f"| reader | ns per call, N={n_of(peers[OURS])} | ratio to ours |",
        "|---|---:|---:|",
        *(
            f"| {name} | {fmt(values)} | {med(values) / ours:.1f}x |"
            for name, values in peers.items()
        ),
    ]


def section_primed(results: Results, config: Config) -> list[str]:
    after = results.primed["after"]
    ours, clock = med(after[OURS]), med(after[MONOTONIC])
    ours_ratio = med(ratios(after[OURS], after[DICT]))
    clock_ratio = med(ratios(after[MONOTONIC], after[DICT]))
    lines = [
        "",
        "## a. Primed get",
        "",
        text(
            "Nanoseconds per read of a key already cached. First against the floors, in fresh ",
            f"processes that do nothing else: {config.primed_processes} processes per variant, ",
            f"alternating, each making {bench_aws.PRIMED_REPEAT} runs of at least ",
            f"{bench_aws.PRIMED_MIN_SECONDS * 1000:.0f} ms per reader with the readers taking ",
            "turns run by run (N counts runs). Every read goes through one one-line function, ",
            "so the floors (a dict read, a module-level constant, `time.monotonic()`) pay the ",
            "same call.",
        ),
        "",
        *primed_table(results),
        "",
        text(
            f"A primed `get()` is {ours_ratio:.2f}x a dict read (goal: 3x or less; the median ",
            "of the run-by-run ratios, which a machine slowing down between runs does not move). ",
            "The clock read a TTL check cannot do without is ",
            f"{clock_ratio:.2f}x a dict read on its own, ",
            f"and `get()` costs {ours - clock:.0f} ns more than it: a method call, two ",
            "attribute reads (the clock, the deadline) and one comparison with a deadline that ",
            "already folds in ",
            "`max_stale`.",
        ),
    ]
    if results.peers:
        peers = results.peers
        cheapest = min(med(peers[CACHING]), med(peers[POWERTOOLS]))
        lines += [
            "",
            text(
                "Then against the peers, in one process, on the same keyring JSON in moto's ",
                "Secrets Manager, the readers taking turns run by run:",
            ),
            "",
            *peers_table(results),
            "",
            f"Ours is {cheapest / med(peers[OURS]):.0f}x cheaper than the cheaper peer.",
        ]
    return lines


def section_refresh(refresh: bench_refresh.RefreshOverhead, config: Config) -> list[str]:
    throughput_overlap = overlaps(refresh.with_app, refresh.without_app)
    n_runs = n_of(refresh.with_app)
    n_send = n_of(refresh.dispatch_with_ns)
    import bench_refresh as br

    return [
        "",
        "## b. Live refresh: per-request overhead",
        "",
        text(
            "A minimal view (a constant response under the example site's middleware, no ",
            f"query) through Django's test client: {br.REPEAT} runs of {br.REQUESTS:,} ",
            f"requests in each of {config.refresh_pairs} fresh processes per variant, ",
            f"alternating (N={n_runs} runs per variant); requests per CPU second, with the ",
            "garbage collector off while timing.",
        ),
        "",
        f"| variant | requests per CPU second, N={n_runs} |",
        "|---|---:|",
        f"| with `secret_keyring.django` installed | {fmt(refresh.with_app)} |",
        f"| without it | {fmt(refresh.without_app)} |",
        "",
        text(
            "Two processes running the same code differ by more than the receiver costs, so ",
            "the processes with the app also time `request_started.send()` as Django's handler ",
            "sends it, with and without the app's receiver, alternating in one process:",
        ),
        "",
        f"| `request_started.send()` | ns per request, N={n_send} |",
        "|---|---:|",
        f"| with the app's receiver | {fmt(refresh.dispatch_with_ns)} |",
        f"| without it | {fmt(refresh.dispatch_without_ns)} |",
        "",
        text(
            f"Overhead: **{refresh.computed_overhead:.2%}** of a request ",
            f"({refresh.added_ns:.0f} ns added to {refresh.request_ns / 1000:.0f} µs; goal ",
            f"under 1%). The throughput medians differ by {refresh.measured_overhead:+.1%}; ",
            "their min-max ranges "
            + (
                "overlap, so that difference is inside the run-to-run spread."
                if throughput_overlap
                else "do not overlap, so that difference is larger than the run-to-run spread."
            ),
        ),
    ]


def entry_runs(results: Results, entry: str = "import") -> ColdRuns:
    """One entry point's cold starts; a run saved before CPU time was measured has only the
    wall times of the settings import."""
    runs: dict[str, ColdRuns] = getattr(results, "cold_runs", {})
    if entry in runs:
        return runs[entry]
    return ColdRuns(wall=results.cold if entry == "import" else {})


def cold_table(results: Results, names: Sequence[str], entry: str = "import") -> list[str]:
    """Rows of section c; each backend's rows are compared with that backend's ours."""
    runs = entry_runs(results, entry)
    cold = runs.wall
    floor = med(cold["floor"])
    usage = bool(runs.user)
    lines = [
        f"| settings module | wall ms, N={n_of(cold['floor'])} | over floor ms | ours against it |"
        + (" CPU ms, user + system | minor page faults |" if usage else ""),
        "|---|---:|---:|---|" + ("---:|---:|" if usage else ""),
    ]
    for name in names:
        if name not in cold:
            continue
        values = cold[name]
        ours = "vault_ours" if name.startswith("vault_") else "aws_ours"
        over = f"{med(values) - floor:+.0f}" if name != "floor" else "-"
        versus = "-"
        if name not in ("floor", ours):
            versus = f"ours {compare(med(cold[ours]), med(values), digits=0)}"
        extra = ""
        if usage:
            extra = (
                f" {med(runs.user[name]):.0f} + {med(runs.system[name]):.0f} |"
                f" {med(runs.faults[name]):,.0f} |"
            )
        lines.append(f"| {COLD_LABELS[name]} | {fmt(values)} | {over} | {versus} |{extra}")
    return lines


def cpu_verdict(runs: ColdRuns, ours: str, peer: str) -> str:
    """Where a wall-time difference went, from the medians: user CPU, system CPU and minor page
    faults; empty when they were not measured."""
    if not (runs.user.get(ours) and runs.user.get(peer)):
        return ""

    def total(name: str) -> float:
        return med([u + s for u, s in zip(runs.user[name], runs.system[name], strict=True)])

    # Linux measures a process's CPU time exactly but splits it between user and system in
    # proportion to clock-tick samples: the total is the figure to compare, the split a hint.
    return text(
        f" In CPU time ours is {compare(total(ours), total(peer), digits=0)} than ",
        f"{short(peer)} (user + system; split by clock-tick samples, ours is ",
        f"{compare(med(runs.user[ours]), med(runs.user[peer]), digits=0)} in user time and ",
        f"{compare(med(runs.system[ours]), med(runs.system[peer]), digits=0)} in system time), ",
        f"with {med(runs.faults[ours]) - med(runs.faults[peer]):+,.0f} ",
        "minor page faults per start (medians).",
    )


def cold_verdict(results: Results, ours: str, entry: str = "import") -> str:
    runs = entry_runs(results, entry)
    cold = runs.wall
    sentences = []
    for peer in PEERS[ours]:
        if peer not in cold:
            continue
        verdict = compare(med(cold[ours]), med(cold[peer]), digits=0)
        spread = (
            "; the ranges overlap" if overlaps(cold[ours], cold[peer]) else "; the ranges are apart"
        )
        sentences.append(f"{verdict} than {short(peer)}{spread}")
    fastest = min((p for p in PEERS[ours] if p in cold), key=lambda name: med(cold[name]))
    return text(
        "ours is ",
        "; ".join(sentences),
        ".",
        cpu_verdict(runs, ours, fastest),
        instructions_verdict(results, ours, entry),
    )


def section_cold(results: Results, config: Config) -> list[str]:
    lines = [
        "",
        "## c. Cold start and import",
        "",
        text(
            'Wall milliseconds of the whole process `python -c "import django.conf, settings"`',
            " (Django imports the settings module in a process that has imported ",
            "`django.conf`), where the settings module loads the same keyring JSON (current, ",
            "next, one previous) with `secret_keys()`, with a peer library, or with the bare SDK ",
            "call (no validation, no cache, no refresh). ",
            f"{config.cold_runs} runs of every variant, interleaved, after one warm-up run. ",
            "Over floor: the median minus the floor's median.",
        ),
        "",
        *cold_table(results, list(COLD_LABELS)),
        "",
    ]
    if "aws_ours" in results.cold:
        lines.append("On Secrets Manager " + cold_verdict(results, "aws_ours"))
        lines.append("")
    if "vault_ours" in results.cold:
        lines.append("On OpenBao " + cold_verdict(results, "vault_ours"))
        lines.append("")
    lines += section_cold_setup(results)
    lines.append(
        text(
            f'`python -X importtime -c "import secret_keyring"`, N={n_of(results.import_ms)}: ',
            f"**{fmt(results.import_ms, 1)} ms** cumulative for the package (goal under 20 ",
            f"ms), of which {fmt(results.import_own_ms, 1)} ms in its own modules; after ",
            f"`import django.conf`, {fmt(results.import_after_django_ms, 1)} ms. Present after ",
            f"a bare import, among {', '.join(SDKS)}: ",
            f"**{', '.join(results.imported) or 'none'}**.",
        )
    )
    return lines


def section_cold_setup(results: Results) -> list[str]:
    """The same settings modules reached through ``django.setup()``, and what the two entry
    points' page faults say."""
    runs = entry_runs(results, "setup")
    if "floor" not in runs.wall:
        return []
    names = [name for name in COLD_LABELS if name in runs.wall]
    lines = [
        text(
            "The same settings modules started the way `manage.py`, WSGI and ASGI servers start ",
            "Django, `django.setup()` (which imports the settings module from further down the ",
            "call stack), interleaved with the rows above:",
        ),
        "",
        *cold_table(results, names, entry="setup"),
        "",
    ]
    for ours, label in (("aws_ours", "Secrets Manager"), ("vault_ours", "OpenBao")):
        if ours in runs.wall:
            lines += [
                f"On {label}, through `django.setup()`, " + cold_verdict(results, ours, "setup")
            ]
            lines.append("")
    lines += faults_note(results)
    return lines


def faults_note(results: Results) -> list[str]:
    """Whether the minor page faults of ours and of aws-secretsmanager-caching swap places
    between the two entry points (the cost of where in the call stack botocore is loaded, not
    of the work), decided from the medians."""
    first, second = entry_runs(results, "import"), entry_runs(results, "setup")
    pair = ("aws_ours", "aws_caching")
    if not all(name in runs.faults for runs in (first, second) for name in pair):
        return []
    extra = [med(runs.faults[pair[0]]) - med(runs.faults[pair[1]]) for runs in (first, second)]
    if extra[0] * extra[1] >= 0:
        return []
    return [
        text(
            "The same two processes swap places in minor page faults between the entry points: ",
            f"ours makes {extra[0]:+,.0f} against aws-secretsmanager-caching through the ",
            f"settings import and {extra[1]:+,.0f} through `django.setup()` (medians). The work ",
            "is the same; what moves is the depth of the Python call stack at which botocore is ",
            "imported and its models loaded. CPython keeps frames in 16 KiB chunks it maps and ",
            "unmaps as calls cross a chunk's end, so a loop that happens to run at that depth ",
            "maps and unmaps memory on every call (`strace -c` shows the `mmap`/`munmap` pairs). ",
            "Either library can land there; the entry point, not the library, decides.",
        ),
        "",
    ]


def section_load(results: Results) -> list[str]:
    lines = [
        "",
        "## d. Backend load of one process",
        "",
        text(
            "64 threads call `CachedKeyring.get()` every quarter of a simulated second for 60 ",
            "simulated seconds with `ttl=5`: the real cache with a `FakeClock`, each fetch held ",
            "until all 64 threads have read (`bench_load.py`). Reads are counted at the ",
            "provider; the start-up fetch is the first period's read. One run: the counts are ",
            "exact, not samples.",
        ),
        "",
        "| jitter | get() calls | backend reads | refresh periods | reads at simulated t (s) |",
        "|---|---:|---:|---:|---|",
    ]
    for load in results.load:
        low = math.ceil(load.seconds / load.ttl)
        high = math.ceil(load.seconds / (load.ttl * (1 - load.jitter)))
        periods = str(low) if low == high else f"{low}-{high}"
        times = ", ".join(f"{t:g}" for t in load.fetch_times)
        lines.append(
            f"| {load.jitter:.0%} | {load.gets:,} | {load.fetches} | {periods} | {times} |"
        )
    return lines


def section_fleet(results: Results) -> list[str]:
    lines = [
        "",
        "## e. Fleet: rejected requests during rotations (Django ticket #35400)",
        "",
        text(
            "The example site under gunicorn: 4 sync workers started a quarter TTL apart, ",
            "a 2 s cache TTL (`secret_keys(ttl=2.0)`), OpenBao on loopback. ",
            "40 users (half keep what they got ",
            "before the first rotation, half log in again and fetch new signed values every ",
            "second) visit `/whoami/`, `/signed/` and `/reset-token/` from 8 threads while the ",
            "secret is rotated 10 times, 3 s apart (`devservers/fleet.py`). The plain payload ",
            "is a `secret_key` field whose fallbacks are its earlier KV versions; the keyring ",
            "JSON keeps 10 previous keys. One run each (N=1: counts, not medians); rejected ",
            "means answered logged out or `BadSignature`.",
        ),
        "",
        text(
            "| payload | requests | rejected | logged out | BadSignature | 5xx | re-logins ",
            "| rejections, s after a rotation | workers on the final key |",
        ),
        "|---|---:|---:|---:|---:|---:|---:|---|---:|",
    ]
    for fleet in results.fleet:
        delays = fleet.rejection_delays
        window = "-"
        if delays:
            window = f"{med(delays):.1f} ({min(delays):.1f}-{max(delays):.1f})"
        lines.append(
            f"| {fleet.label} | {fleet.requests:,} | {fleet.rejected:,} | "
            f"{fleet.outcome('logged_out'):,} | {fleet.outcome('bad_signature'):,} | "
            f"{fleet.outcome('server_error')} | {fleet.relogins:,} | {window} | "
            f"{len(fleet.converged_pids)}/4 |"
        )
    lines += ["", fleet_verdict(results.fleet)]
    return lines


def fleet_verdict(fleet: Sequence[Any]) -> str:
    sentences = []
    for result in fleet:
        if result.rejected:
            share = result.rejected / result.requests
            sentences.append(
                f"With {result.label}, {result.rejected:,} of {result.requests:,} requests "
                f"({share:.1%}) were rejected."
            )
        else:
            sentences.append(f"With {result.label}, none of {result.requests:,} was rejected.")
    return " ".join(sentences) + text(
        " A worker whose cache is up to one TTL old rejects what an updated worker signs ",
        "unless the new key was already its fallback: keyring JSON makes it one, one rotation ",
        "earlier (`next`). A rejected count depends on how much traffic meets a stale worker: ",
        "a sample, not a constant.",
    )


def section_scale(scale: bench_fleet_scale.ScaleResult) -> list[str]:
    low, high = scale.band_per_minute
    rows = []
    for label, check, read in (
        ("OpenBao", bench_fleet_scale.VAULT_CHECK, bench_fleet_scale.VAULT_READ),
        ("Secrets Manager", bench_fleet_scale.AWS_CHECK, bench_fleet_scale.AWS_READ),
    ):
        rows.append(
            f"| {label} | {scale.startup.get(read, 0)} reads, {scale.startup.get(check, 0)} "
            f"checks | {scale.steady.get(check, 0):,} | {scale.steady.get(read, 0)} | "
            f"{scale.per_minute(check):.0f} | {scale.expected_per_minute:.0f} "
            f"({low:.0f}-{high:.0f}) | {'pass' if scale.within(check) else '**fail**'} |"
        )
    per_minute = bench_fleet_scale.expected_per_minute(FLEET_PROCESSES, DEFAULT_TTL, DEFAULT_JITTER)
    per_month = per_minute * MONTH_SECONDS / 60
    cost = per_month / 10_000 * PRICE_PER_10K_CALLS
    return [
        "",
        "## f. Fleet scale: backend reads per minute",
        "",
        text(
            f"{scale.processes} worker processes forked from one parent that imported the SDKs ",
            f"(as gunicorn `--preload` does), pinned round-robin to the machine's {scale.cpus} ",
            "cores; each holds a `CachedKeyring` for the OpenBao secret and one for the Secrets ",
            f"Manager secret (`ttl={scale.ttl:g}`, `jitter={scale.jitter:g}`) and calls `get()` ",
            f"on both every {scale.poll * 1000:.0f} ms. The servers count: moto per API action, ",
            "OpenBao through a file audit device. After every worker has primed (",
            f"{scale.startup_seconds:.1f} s), the counters are read twice, {scale.window:g} s ",
            "apart. One run (N=1: counts). The formula: each process checks the version once ",
            f"per refresh period, a period is the TTL shortened by up to {scale.jitter:.0%}, so ",
            "the mean rate is processes / (TTL x (1 - jitter / 2)); the band allows periods ",
            "from TTL x (1 - jitter) to TTL plus one poll, and one read per process either way ",
            "at the window's edges.",
        ),
        "",
        text(
            "| backend | start-up requests | version checks in the window | value reads in the ",
            "window | checks per minute | formula per minute (band) | within |",
        ),
        "|---|---|---:|---:|---:|---:|:-:|",
        *rows,
        "",
        text(
            "A refresh of an unchanged secret is one version check (`DescribeSecret`, or a KV ",
            "metadata read); the value is read again only after a rotation. **Expected load at ",
            f"scale:** {FLEET_PROCESSES:,} processes at the default `ttl={DEFAULT_TTL:g}` and ",
            f"`jitter={DEFAULT_JITTER:g}` make {per_minute:.0f} version checks per minute ",
            f"({per_minute / 60:.1f} per second) against the backend, plus one value read per ",
            "process per start and per rotation. On Secrets Manager that is ",
            f"{per_month / 1e6:.2f} million API calls in a 30-day month, ",
            f"**${cost:,.2f} a month** at ${PRICE_PER_10K_CALLS:.2f} per 10,000 API calls ",
            f"([AWS Secrets Manager pricing]({PRICE_SOURCE}), as published on {PRICE_DATE}), ",
            "plus $0.40 per secret per month; a longer TTL lowers it in proportion.",
        ),
    ]


def section_before_after(results: Results, config: Config) -> list[str]:
    cold = results.cold
    if "aws_before" not in cold:
        return []
    rows = []
    for name, earlier in (("aws_ours", "aws_before"), ("vault_ours", "vault_before")):
        rows.append(
            f"| cold start, {COLD_LABELS[name].split(':')[0]}, ms | {fmt(cold[earlier])} | "
            f"{fmt(cold[name])} | {compare(med(cold[name]), med(cold[earlier]), digits=0)} |"
        )
    primed = results.primed
    if "before" in primed:
        before, after = primed["before"], primed["after"]
        rows.append(
            f"| primed get, ns | {fmt(before[OURS])} | {fmt(after[OURS])} | "
            f"{compare(med(after[OURS]), med(before[OURS]), 'ns', 0)} |"
        )
        rows.append(
            "| primed get / dict read (run by run) | "
            f"{fmt(ratios(before[OURS], before[DICT]), 2)} | "
            f"{fmt(ratios(after[OURS], after[DICT]), 2)} | - |"
        )
    requests = results.cold_requests
    if "aws_before" in requests:
        rows.append(
            f"| Secrets Manager requests at start | {describe_requests(requests['aws_before'])} "
            f"| {describe_requests(requests['aws_ours'])} | - |"
        )
    return [
        "",
        "## Before and after",
        "",
        text(
            f"The baseline commit {results.baseline} (before the start-up and hot-path work) ",
            "against this tree, in the same run on the same machine: the cold starts are ",
            f"rows of section c (N={config.cold_runs}, interleaved); the primed get is section ",
            "a's, and its ratio to a dict read is taken run by run (each get run against the ",
            "dict run beside it in the same process).",
        ),
        "",
        "| figure | before | after | after against before |",
        "|---|---:|---:|---|",
        *rows,
    ]


def describe_requests(counts: dict[str, int]) -> str:
    return ", ".join(f"{count} {action}" for action, count in sorted(counts.items())) or "-"


# -- detailed pages -------------------------------------------------------------------------------


def page_core(results: Results, config: Config) -> str:
    lines = header(results, "Hot path: primed get and per-request check")
    if results.primed:
        lines += section_primed(results, config)[2:]
    if results.refresh is not None:
        refresh = results.refresh
        lines += [
            "",
            "## Per-request check",
            "",
            text(
                "`request_started.send()` as Django's handler sends it, with and without the ",
                "app's receiver (one clock read and one comparison until a refresh is due), ",
                f"alternating in one process, N={n_of(refresh.dispatch_with_ns)}:",
            ),
            "",
            "| `request_started.send()` | ns per request |",
            "|---|---:|",
            f"| with the app's receiver | {fmt(refresh.dispatch_with_ns)} |",
            f"| without it | {fmt(refresh.dispatch_without_ns)} |",
            "",
            f"Added by the receiver: {refresh.added_ns:.0f} ns (difference of the medians).",
        ]
    return "\n".join(lines) + "\n"


def imports_table(results: Results, names: Sequence[str]) -> list[str]:
    """Import self time per third-party package (and the standard library as one row)."""
    chosen = [n for n in names if n in results.imports]
    if not chosen:
        return []
    stdlib = sys.stdlib_module_names
    rows: dict[str, list[list[float]]] = {}
    for name in chosen:
        per_package = results.imports[name]
        runs = n_of(per_package[ALL_IMPORTS])
        library = [0.0] * runs
        for package, values in per_package.items():
            if package == ALL_IMPORTS:
                continue
            if package.lstrip("_") in stdlib or package in stdlib:
                library = [a + b for a, b in zip(library, values, strict=True)]
            else:
                rows.setdefault(package, [[0.0] * runs for _ in chosen])[chosen.index(name)] = (
                    values
                )
        rows.setdefault(STDLIB, [[] for _ in chosen])[chosen.index(name)] = library
        rows.setdefault(ALL_IMPORTS, [[] for _ in chosen])[chosen.index(name)] = per_package[
            ALL_IMPORTS
        ]
    shown = [p for p, cells in rows.items() if any(med(c) >= 1.0 for c in cells)]
    packages = sorted(
        (p for p in shown if p not in (ALL_IMPORTS, STDLIB)),
        key=lambda p: -max(med(c) for c in rows[p]),
    )
    n = n_of(rows[ALL_IMPORTS][0])
    lines = [
        text(
            "Import self time, ms, from `-X importtime` of the same cold-start processes ",
            f"(N={n} each, interleaved): the total, the standard library as one row, then each ",
            "third-party package that takes 1 ms or more somewhere (0.0: not imported).",
        ),
        "",
        "| package | " + " | ".join(short(c) for c in chosen) + " |",
        "|---|" + "---:|" * len(chosen),
    ]
    lines += [
        f"| {package} | " + " | ".join(fmt(c, 1) for c in rows[package]) + " |"
        for package in (ALL_IMPORTS, STDLIB, *packages)
    ]
    return lines


def lever_text(results: Results) -> str:
    """Each lever as a whole-process A/B: ours against ours with that lever switched off."""
    cold = results.cold
    parts = [
        "The levers, each switched off in a variant of the same loop: ",
        "the first fetch reads `AWSCURRENT` by label and skips `DescribeSecret` (one round trip ",
        f"of {fmt(results.describe_ms, 1)} ms against this moto, N={n_of(results.describe_ms)}, ",
        "in process on a warm connection); the client is built on botocore's session, which ",
        "holds boto3's whole configuration, so boto3's resource layer and s3transfer are not ",
        "imported; that session's data loader checks `secretsmanager` by its own directory ",
        "instead of listing every service directory of botocore's data first; and botocore's ",
        "import and the first fetch start on a fresh frame-stack chunk (CPython 3.11+), so a ",
        "loop of botocore's that runs across a chunk's end does not map and unmap a chunk on ",
        "every call, whatever the depth of the caller's stack.",
    ]
    for name, against in (
        ("aws_with_describe", "the DescribeSecret added back"),
        ("aws_with_boto3", "`import boto3` added back"),
        ("aws_with_scan", "botocore's service scan added back"),
        ("aws_without_headroom", "the frame headroom taken away"),
    ):
        if name in cold:
            verdict = compare(med(cold["aws_ours"]), med(cold[name]), digits=0)
            parts.append(f" Against {against}, ours is {verdict} (medians).")
    parts.append(" The import self time by package, from the same kind of processes:")
    return text(*parts)


def page_aws(results: Results, config: Config) -> str:
    names = [
        "floor",
        "aws_ours",
        "aws_before",
        "aws_with_boto3",
        "aws_with_describe",
        "aws_with_scan",
        "aws_without_headroom",
        "aws_caching",
        "aws_powertools",
        "aws_boto3",
    ]
    lines = header(results, "AWS Secrets Manager: cold start, imports, requests, primed get")
    lines += [
        "",
        "## Cold start",
        "",
        text(
            'Whole processes, `python -c "import django.conf, settings"`, the rows of section c ',
            f"of the [summary](benchmarks.md) (N={config.cold_runs}, interleaved). Requests: ",
            "what moto counted during each variant's warm-up start.",
        ),
        "",
        *cold_table(results, names),
        "",
        "Measured this way, " + cold_verdict(results, "aws_ours"),
        "",
        "| variant | requests at start |",
        "|---|---|",
        *(
            f"| {COLD_LABELS[n]} | {describe_requests(results.cold_requests[n])} |"
            for n in names
            if n in results.cold_requests
        ),
        "",
        lever_text(results),
        "",
        *imports_table(
            results, ["aws_ours", "aws_before", "aws_caching", "aws_powertools", "aws_boto3"]
        ),
    ]
    if results.peers:
        lines += ["", "## Primed get against the peers", "", *peers_table(results)]
    return "\n".join(lines) + "\n"


def page_vault(results: Results, config: Config) -> str:
    names = ["floor", "vault_ours", "vault_before", "vault_hvac"]
    lines = header(results, "Vault / OpenBao: cold start, imports, requests")
    lines += [
        "",
        "## Cold start",
        "",
        text(
            'Whole processes, `python -c "import django.conf, settings"`, the rows of section c ',
            f"of the [summary](benchmarks.md) (N={config.cold_runs}, interleaved).",
        ),
        "",
        *cold_table(results, names),
        "",
        "Measured this way, " + cold_verdict(results, "vault_ours"),
        "",
        *imports_table(results, ["vault_ours", "vault_before", "vault_hvac"]),
        "",
        "## Requests",
        "",
        text(
            "The HTTP requests of a first `VaultProvider.fetch()`, of a refresh when nothing ",
            "changed, and of a bare hvac read (counted in process):",
        ),
        "",
        "| secret | first fetch | unchanged refresh | bare hvac read |",
        "|---|---|---|---|",
        *(
            f"| {label} | {len(first)}: {', '.join(first)} | {len(refresh)}: "
            f"{', '.join(refresh)} | {len(bare)}: {', '.join(bare)} |"
            for label, first, refresh, bare in results.vault_requests
        ),
    ]
    return "\n".join(lines) + "\n"


def write_pages(
    results: Results, config: Config, *, out: Path, details: Path, charts: Mapping[str, Path]
) -> list[Path]:
    """Write the summary page ``out`` (showing ``charts``, section -> figure) and the detailed
    pages into ``details``; return their paths."""
    import os

    relative = {
        section: Path(os.path.relpath(path, out.parent)).as_posix()
        for section, path in charts.items()
    }
    pages = {
        out: summary(results, config, relative),
        details / "benchmarks-core.md": page_core(results, config),
        details / "benchmarks-aws.md": page_aws(results, config),
        details / "benchmarks-vault.md": page_vault(results, config),
    }
    for path, page in pages.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(page, encoding="utf-8")
    return list(pages)


# -- charts ---------------------------------------------------------------------------------------

GREEN, GREY, BLUE, RED, ORANGE = "#2b8a3e", "#868e96", "#1c7ed6", "#c92a2a", "#f08c00"

#: The width a figure is drawn at, in pixels: the docs theme's content column (mkdocs-material's
#: is about 800 px on a desktop screen), so that a figure is shown at its own size, never shrunk
#: with its text; ``DPI`` pixels per inch make 10-point text about 14 pixels high.
COLUMN_PX = 800
DPI = 100
FONT_PT = 10


def _bars(
    ax: Any,
    data: Mapping[str, tuple[Sequence[float], str]],
    title: str,
    unit: str,
    label: Callable[[float], str],
) -> None:
    """Horizontal bars of medians with min-max error bars, labelled in the figure's unit."""
    names = list(data)
    medians = [med(data[n][0]) for n in names]
    errors = [
        [med(data[n][0]) - min(data[n][0]) for n in names],
        [max(data[n][0]) - med(data[n][0]) for n in names],
    ]
    ax.barh(names, medians, xerr=errors, color=[data[n][1] for n in names], capsize=3)
    ax.invert_yaxis()
    ax.set_title(title)
    ax.set_xlabel(unit)
    for index, name in enumerate(names):
        # Beside the error bar, so that the label never sits on it.
        ax.annotate(" " + label(medians[index]), (max(data[name][0]), index), va="center")
    ax.margins(x=0.2)


def _chart_primed(ax: Any, results: Results) -> None:
    data: dict[str, tuple[Sequence[float], str]] = {}
    for reader, values in results.primed["after"].items():
        data[reader] = (values, GREEN if reader == OURS else BLUE)
    if "before" in results.primed:
        data[f"{OURS}, before"] = (results.primed["before"][OURS], GREY)
    after = results.primed["after"]
    ratio = med(ratios(after[OURS], after[DICT]))  # as the targets table decides it
    _bars(
        ax,
        data,
        f"a. primed get: {ratio:.2f}x a dict read, run by run (goal <= 3x)",
        "ns per call",
        lambda v: f"{v:,.0f} ns",
    )


def _chart_refresh(ax: Any, refresh: bench_refresh.RefreshOverhead) -> None:
    data = {
        "request_started.send(),\nwithout the app": (refresh.dispatch_without_ns, GREY),
        "with the app's receiver": (refresh.dispatch_with_ns, GREEN),
    }
    _bars(
        ax,
        data,
        text(
            f"b. live refresh adds {refresh.added_ns:.0f} ns, {refresh.computed_overhead:.2%} ",
            f"of a {refresh.request_ns / 1000:.0f} µs request (goal < 1%)",
        ),
        "ns per request_started.send()",
        lambda v: f"{v:,.0f} ns",
    )


def _chart_cold(ax: Any, results: Results) -> None:
    colors = {"floor": BLUE, "aws_ours": GREEN, "vault_ours": GREEN}
    data = {CHART_COLD_LABELS[k]: (v, colors.get(k, GREY)) for k, v in results.cold.items()}
    _bars(
        ax,
        data,
        "c. cold start: python -c 'import django.conf, settings'",
        "wall ms per process",
        lambda v: f"{v:.0f} ms",
    )


def _chart_load(ax: Any, results: Results) -> None:
    labels = [f"jitter {load.jitter:.0%}" for load in results.load]
    reads = [load.fetches for load in results.load]
    periods = [load.periods for load in results.load]
    x = range(len(labels))
    ax.bar([i - 0.2 for i in x], reads, width=0.4, color=GREEN, label="backend reads")
    ax.bar([i + 0.2 for i in x], periods, width=0.4, color=GREY, label="TTL periods (no jitter)")
    ax.set_xticks(list(x), labels)
    gets = results.load[0].gets
    ax.set_title(f"d. one process, 64 threads, 60 s, ttl=5: {gets:,} get() calls")
    ax.set_ylabel("count")
    # Outside the axes, as in section f: inside, it covered the bars it explains.
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))
    for index, value in enumerate(reads):
        ax.annotate(str(value), (index - 0.2, value), ha="center", va="bottom")
    ax.margins(y=0.15)


def _chart_fleet(ax: Any, results: Results) -> None:
    labels = [r.label for r in results.fleet]
    logged_out = [r.outcome("logged_out") for r in results.fleet]
    bad = [r.outcome("bad_signature") for r in results.fleet]
    ax.bar(labels, logged_out, label="logged out", color=RED)
    ax.bar(labels, bad, bottom=logged_out, label="BadSignature", color=ORANGE)
    ax.set_title("e. fleet, 10 rotations: rejected requests")
    ax.set_ylabel("requests")
    ax.legend(loc="upper left")
    for index, result in enumerate(results.fleet):
        note = f"{result.rejected:,} of {result.requests:,}"
        ax.annotate(note, (index, result.rejected), ha="center", va="bottom")
    ax.margins(y=0.15)


def _chart_scale(ax: Any, scale: bench_fleet_scale.ScaleResult) -> None:
    low, high = scale.band_per_minute
    labels = ["OpenBao", "Secrets Manager"]
    values = [
        scale.per_minute(bench_fleet_scale.VAULT_CHECK),
        scale.per_minute(bench_fleet_scale.AWS_CHECK),
    ]
    ax.bar(labels, values, color=GREEN, label="measured")
    ax.axhline(scale.expected_per_minute, color=RED, linestyle="--", label="formula (mean)")
    ax.axhspan(low, high, color=GREY, alpha=0.25, label="formula band")
    ax.set_title(f"f. {scale.processes} processes, ttl={scale.ttl:g}: version checks per minute")
    ax.set_ylabel("reads per minute")
    # Outside the axes: inside, it covered the bars it explains.
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))
    for index, value in enumerate(values):
        # Inside the bar's top: above it, the label sat on the formula's line.
        ax.annotate(
            f"{value:.0f}",
            (index, value),
            xytext=(0, -4),
            textcoords="offset points",
            ha="center",
            va="top",
            color="white",
            fontweight="bold",
        )


#: One figure per section of the summary page: section -> (alt text, height in inches). The
#: height grows with the rows a figure has (section c has one bar per cold-start variant).
CHARTS = {
    "primed": ("Chart of section a: nanoseconds per primed read, median and min-max", 3.2),
    "refresh": ("Chart of section b: nanoseconds per request_started.send()", 2.4),
    "cold": ("Chart of section c: wall milliseconds per cold start, by settings module", 5.2),
    "load": ("Chart of section d: backend reads of one process against TTL periods", 3.2),
    "fleet": ("Chart of section e: requests rejected during ten rotations", 3.2),
    "scale": ("Chart of section f: version checks per minute against the formula", 3.2),
}


def section_charts(results: Results) -> dict[str, Callable[[Any], None]]:
    """The drawing of each section's figure, for the sections ``results`` has."""
    refresh, scale = results.refresh, results.scale
    drawn: dict[str, Callable[[Any], None] | None] = {
        "primed": (lambda ax: _chart_primed(ax, results)) if results.primed else None,
        "refresh": (lambda ax: _chart_refresh(ax, refresh)) if refresh else None,
        "cold": (lambda ax: _chart_cold(ax, results)) if results.cold else None,
        "load": (lambda ax: _chart_load(ax, results)) if results.load else None,
        "fleet": (lambda ax: _chart_fleet(ax, results)) if results.fleet else None,
        "scale": (lambda ax: _chart_scale(ax, scale)) if scale else None,
    }
    return {name: draw for name, draw in drawn.items() if draw is not None}


def figures(results: Results) -> dict[str, Figure]:
    """One figure per section, ``COLUMN_PX`` wide at ``DPI``: the page shows each at its own
    size, the full width of the docs column. Error bars are the min-max ranges."""
    import matplotlib
    import matplotlib.figure

    drawn = {}
    with matplotlib.rc_context({"font.size": FONT_PT}):
        for name, draw in section_charts(results).items():
            # Constrained layout keeps every label inside the fixed width instead of cutting it.
            size = (COLUMN_PX / DPI, CHARTS[name][1])
            figure = matplotlib.figure.Figure(figsize=size, dpi=DPI, layout="constrained")
            draw(figure.add_subplot())
            drawn[name] = figure
    return drawn


def draw_charts(results: Results, directory: Path) -> dict[str, Path]:
    """Write each section's figure to ``directory/benchmarks-SECTION.png`` and remove the
    other ``benchmarks*.png`` there: figures of an earlier run (a section a ``--quick`` run
    leaves out, the one-grid chart of before) that no page shows any more."""
    import matplotlib

    directory.mkdir(parents=True, exist_ok=True)
    written = {}
    # Saving lays the figure out again and draws the ticks it creates then: same font size.
    with matplotlib.rc_context({"font.size": FONT_PT}):
        for name, figure in figures(results).items():
            path = directory / f"benchmarks-{name}.png"
            figure.savefig(path, dpi=DPI)
            written[name] = path
    for stale in set(directory.glob("benchmarks*.png")) - set(written.values()):
        stale.unlink()
    return written
