"""The ``secret-keyring`` command (also ``python -m secret_keyring``).

Output never contains key material, except ``generate``, whose whole purpose is to print a new
keyring for you to store.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from secret_keyring.cache import CachedKeyring
from secret_keyring.errors import SecretKeyringError
from secret_keyring.keyring import keyring_to_json
from secret_keyring.status import render_status, status_json
from secret_keyring.urls import provider_from_url

__all__ = ["main"]

EXIT_ERROR = 1
EXIT_USAGE = 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="secret-keyring",
        description="Inspect, create and rotate Django secret keyrings in Vault/OpenBao, "
        "AWS Secrets Manager, files and environment variables.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    status = sub.add_parser(
        "status", help="show a source's keyring: version, age, fingerprints (no keys)"
    )
    status.add_argument("url", help="source URL, e.g. vault://secret/myapp/django")
    status.add_argument("--json", action="store_true", help="machine-readable output")
    status.add_argument("--max-fallbacks", type=int, default=3, metavar="N")

    generate = sub.add_parser(
        "generate", help="print a fresh keyring JSON (current + next) to store yourself"
    )
    generate.add_argument(
        "--plain", action="store_true", help="print a single key instead of keyring JSON"
    )
    return parser


def _status(args: argparse.Namespace) -> int:
    provider = provider_from_url(args.url, max_fallbacks=args.max_fallbacks)
    cache = CachedKeyring(provider)
    cache.refresh()
    status = cache.status()
    print(status_json(status) if args.json else render_status(status))
    return 0


def _generate(args: argparse.Namespace) -> int:
    from secret_keyring.rotation.keygen import generate_key, new_keyring

    print(generate_key() if args.plain else keyring_to_json(new_keyring()))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    handlers = {"status": _status, "generate": _generate}
    try:
        return handlers[args.command](args)
    except SecretKeyringError as exc:
        print(f"secret-keyring {args.command}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except ImportError as exc:
        print(f"secret-keyring {args.command}: {exc}", file=sys.stderr)
        return EXIT_ERROR
