"""AWS Secrets Manager: this library against aws-secretsmanager-caching and Powertools.

One run, one moto server (started here, on loopback, in its own process), one secret. For each
library:

* **cold start**: in a fresh interpreter that has imported ``django.conf`` (as any process
  running settings.py has), the time from before the library's import to the first value in
  hand (imports, boto3 session and client, the first calls to the server). For
  this library that is ``secret_keyring.django.secret_keys(URL)``, the settings helper, which
  also validates the keyring; the others return the raw string.
* **primed get**: in this process, after a first read, the cost of one read from the cache:
  ``CachedKeyring.get()``, ``SecretCache.get_secret_string(name)`` and
  ``parameters.get_secret(name, max_age=300)``, each called through the same one-line lambda.

All three reach moto through boto3's own configuration (``AWS_ENDPOINT_URL_SECRETS_MANAGER``,
fake keys, ``AWS_DEFAULT_REGION``). The server counts the requests each library makes; the
primed loops must make none. Figures are medians of repeated runs with min-max.

A quick look at AWS alone (cold start timed inside the process); ``make bench`` (``run.py``)
measures whole processes among all the variants and writes ``docs/benchmarks-aws.md``.

    python benchmarks/bench_aws.py [--cold-runs 15] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from devservers.moto import MotoServer

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SECRET_NAME = "bench/myapp/django"  # noqa: S105 - a secret's name, not a secret
REGION = "us-east-1"
PRIMED_REPEAT = 15
PRIMED_MIN_SECONDS = 0.05  # each primed run lasts at least this long

# Each cold-start program prints the seconds from just before the library's import to the value
# in hand. Django's settings machinery is imported first in all of them: settings.py runs in a
# process that has imported it already, so it is not part of any library's cost.
PRELUDE = """
import django.conf
import time
"""
COLD = {
    "django-secret-keyring": """
t0 = time.perf_counter()
from secret_keyring.django import secret_keys
key, fallbacks = secret_keys("aws-secretsmanager://{name}")
elapsed = time.perf_counter() - t0
assert len(key) >= 50 and len(fallbacks) == 2
print(elapsed)
""",
    "aws-secretsmanager-caching": """
t0 = time.perf_counter()
import botocore.session
from aws_secretsmanager_caching import SecretCache, SecretCacheConfig
client = botocore.session.get_session().create_client("secretsmanager")
cache = SecretCache(config=SecretCacheConfig(), client=client)
value = cache.get_secret_string("{name}")
elapsed = time.perf_counter() - t0
assert value.startswith("{{")
print(elapsed)
""",
    "Powertools parameters": """
t0 = time.perf_counter()
from aws_lambda_powertools.utilities import parameters
value = parameters.get_secret("{name}", max_age=300)
elapsed = time.perf_counter() - t0
assert value.startswith("{{")
print(elapsed)
""",
}
OURS = "django-secret-keyring"
PACKAGES = ["boto3", "botocore", "moto", "aws-secretsmanager-caching", "aws-lambda-powertools"]


def spread(samples: list[float]) -> tuple[float, float, float]:
    return statistics.median(samples), min(samples), max(samples)


def client_env(endpoint: str, settings_module: str) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("AWS_")}
    # Measure the libraries as installed: site-packages ship bytecode, so let the warm-up run
    # write ours too instead of compiling this checkout's sources in every sample.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.update(
        {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ENDPOINT_URL_SECRETS_MANAGER": endpoint,
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "DJANGO_SETTINGS_MODULE": settings_module,
            "PYTHONPATH": str(ROOT),
            "POWERTOOLS_SERVICE_NAME": "bench",
        }
    )
    return env


def cold_start(program: str, env: dict[str, str]) -> float:
    from common import run_python

    result = run_python(["-c", PRELUDE + program.format(name=SECRET_NAME)], env)
    return float(result.stdout.strip().splitlines()[-1])


def calibrate(call: Callable[[], object]) -> int:
    """Enough calls for one run to last ``PRIMED_MIN_SECONDS``."""
    number = 1
    while True:
        started = time.perf_counter()
        for _ in range(number):
            call()
        if time.perf_counter() - started >= PRIMED_MIN_SECONDS:
            return number
        number *= 2


def primed(calls: dict[str, Callable[[], object]]) -> dict[str, tuple[float, float, float]]:
    """Nanoseconds per call for each: median, min, max over ``PRIMED_REPEAT`` runs."""
    return {name: spread(samples) for name, samples in primed_runs(calls).items()}


def primed_runs(calls: dict[str, Callable[[], object]]) -> dict[str, list[float]]:
    """Nanoseconds per call of each run, ``PRIMED_REPEAT`` runs each, the readers taking turns
    run by run so that load on the machine hits them alike."""
    numbers = {name: calibrate(call) for name, call in calls.items()}
    runs: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(PRIMED_REPEAT):
        for name, call in calls.items():
            number = numbers[name]
            started = time.perf_counter_ns()
            for _ in range(number):
                call()
            runs[name].append((time.perf_counter_ns() - started) / number)
    return runs


def fmt_ms(values: tuple[float, float, float]) -> str:
    med, lo, hi = (v * 1000 for v in values)
    return f"{med:.1f} ({lo:.1f}-{hi:.1f})"


def fmt_ns(values: tuple[float, float, float]) -> str:
    med, lo, hi = values
    return f"{med:,.0f} ({lo:,.0f}-{hi:,.0f})"


def versions() -> str:
    found = []
    for name in PACKAGES:
        try:
            found.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            found.append(f"{name} (not installed)")
    return ", ".join(found)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cold-runs", type=int, default=15)
    parser.add_argument(
        "--out", type=Path, help="also write the table there (make bench writes docs/)"
    )
    args = parser.parse_args(argv)

    from devservers.moto import MotoServer

    workdir = Path(tempfile.mkdtemp(prefix="bench-aws-"))
    server = MotoServer(workdir / "moto-server.log")
    server.start()
    try:
        return run(server, args.cold_runs, args.out)
    finally:
        server.stop()


def run(server: MotoServer, cold_runs: int, out: Path | None) -> int:
    """Benchmark against ``server`` (running) and write the markdown section to ``out``."""
    env = client_env(server.endpoint_url, "tests.django.project.settings")
    os.environ.update({k: v for k, v in env.items() if k.startswith(("AWS_", "DJANGO_"))})
    for name in [n for n in os.environ if n.startswith("AWS_") and n not in env]:
        del os.environ[name]

    import boto3

    from secret_keyring.keygen import new_keyring, rotate

    keyring = rotate(new_keyring())  # current, next and one previous: a realistic payload
    payload = json.dumps(
        {"current": keyring.current, "next": keyring.next, "previous": list(keyring.previous)}
    )
    admin = boto3.client("secretsmanager")
    admin.create_secret(Name=SECRET_NAME, SecretString=payload)

    # Cold start: fresh interpreters, the libraries interleaved so drift hits them alike.
    cold: dict[str, list[float]] = {name: [] for name in COLD}
    cold_requests: dict[str, dict[str, int]] = {}
    for index in range(cold_runs + 1):
        for name, program in COLD.items():
            server.reset_counts()
            elapsed = cold_start(program, env)
            if index == 0:  # warm-up: file system caches, moto's lazy imports
                cold_requests[name] = dict(server.counts())
            else:
                cold[name].append(elapsed)
        print(f"cold start run {index}/{cold_runs}", file=sys.stderr)

    # Primed get, in this process.
    calls = primed_readers(SECRET_NAME)
    server.reset_counts()
    hot = primed(calls)
    hot_requests = sum(server.counts().values())
    if hot_requests:
        raise RuntimeError(f"the primed loops reached the server {hot_requests} times")

    cold_stats = {name: spread(samples) for name, samples in cold.items()}
    text = report(cold_stats, cold_requests, hot, cold_runs)
    print(text)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
    return 0


def primed_readers(secret_name: str) -> dict[str, Callable[[], object]]:
    """The four ways of holding the key, primed against the endpoint boto3 is configured for."""
    import botocore.session
    from aws_lambda_powertools.utilities import parameters
    from aws_secretsmanager_caching import SecretCache, SecretCacheConfig

    from secret_keyring import CachedKeyring, provider_from_url

    ours = CachedKeyring(provider_from_url(f"aws-secretsmanager://{secret_name}"))
    ours.prime()
    theirs = SecretCache(
        config=SecretCacheConfig(),
        client=botocore.session.get_session().create_client("secretsmanager"),
    )
    theirs.get_secret_string(secret_name)
    parameters.get_secret(secret_name, max_age=300)
    constant = ours.keyring

    # Each read goes through one Python function call, so none pays for a frame the others skip.
    def read_constant() -> object:
        return constant

    def read_ours() -> object:
        return ours.get()

    def read_caching() -> object:
        return theirs.get_secret_string(secret_name)

    def read_powertools() -> object:
        return parameters.get_secret(secret_name, max_age=300)

    return {
        "module-level constant (floor)": read_constant,
        OURS: read_ours,
        "aws-secretsmanager-caching": read_caching,
        "Powertools parameters": read_powertools,
    }


def report(
    cold: dict[str, tuple[float, float, float]],
    cold_requests: dict[str, dict[str, int]],
    hot: dict[str, tuple[float, float, float]],
    cold_runs: int,
) -> str:
    ours_cold = cold[OURS][0]
    ours_hot = hot[OURS][0]
    rows = []
    for name in COLD:
        requests = ", ".join(
            f"{count} {action.split(':', 1)[1]}"
            for action, count in sorted(cold_requests.get(name, {}).items())
        )
        rows.append(
            f"| {name} | {fmt_ms(cold[name])} | {cold[name][0] / ours_cold:.2f}x | "
            f"{requests or '-'} | {fmt_ns(hot[name])} | {hot[name][0] / ours_hot:.1f}x |"
        )
    floor = hot["module-level constant (floor)"]
    worst = min(hot[name][0] for name in COLD if name != OURS) / ours_hot
    load = (
        f", load average {os.getloadavg()[0]:.1f} at the end" if hasattr(os, "getloadavg") else ""
    )
    setup = (
        "One run against one moto server on loopback (its own process). Python "
        f"{sys.version.split()[0]} on {platform.system()} {platform.machine()}, "
        f"{os.cpu_count()} CPUs{load}; {versions()}. Absolute times move with the machine's "
        "load; the ratios, measured in the same run, are the comparison."
    )
    cold_note = (
        "* **Cold start**: a fresh interpreter per sample that has imported `django.conf` (as "
        "a process running settings.py has), from before the library's import to the first "
        f"value in hand; median (min-max) of {cold_runs} samples per library, interleaved, "
        "after one warm-up each. Ours is `secret_keyring.django.secret_keys(URL)`: imports "
        "(boto3 included), boto3 client, `DescribeSecret` + `GetSecretValue`, keyring parsed "
        "and validated. The others return the raw string; aws-secretsmanager-caching imports "
        "botocore only, not boto3."
    )
    hot_note = (
        "* **Primed get**: nanoseconds per call in one process after a first read, median "
        f"(min-max) of {PRIMED_REPEAT} runs of at least {PRIMED_MIN_SECONDS * 1000:.0f} ms, "
        "the libraries taking turns; every call goes through the same one-line function. "
        "The server saw no request during these loops."
    )
    header = (
        "| library | cold start ms | cold ratio | requests at start | primed get ns "
        "| primed ratio |"
    )
    floor_row = (
        f"| module-level constant (floor) | - | - | - | {fmt_ns(floor)} | "
        f"{floor[0] / ours_hot:.2f}x |"
    )
    verdict = (
        f"Primed get: ours is {worst:.0f}x cheaper than the faster of the two others "
        "(target: at least 10x). `CachedKeyring.get()` reads one attribute and compares one "
        "monotonic clock reading with the refresh deadline; refreshes run in a background "
        "thread."
    )
    lines = [
        "## AWS Secrets Manager: cold start and primed get",
        "",
        setup,
        "",
        cold_note,
        hot_note,
        "* **Ratio**: the library's median divided by ours (above 1: ours is faster).",
        "",
        header,
        "|---|---:|---:|---|---:|---:|",
        *rows,
        floor_row,
        "",
        verdict,
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
