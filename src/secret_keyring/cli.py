"""The ``secret-keyring`` command (also ``python -m secret_keyring``).

Output never contains key material, except ``generate``, whose whole purpose is to print a new
keyring for you to store.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
import sys
from collections.abc import Sequence

from secret_keyring.cache import CachedKeyring
from secret_keyring.errors import ConfigurationError, InvalidSecret, SecretKeyringError
from secret_keyring.keyring import INSECURE_PREFIX, MIN_KEY_LENGTH, Keyring, fingerprint
from secret_keyring.payload import keyring_to_json
from secret_keyring.rotation import RotationReport, add_interval_options
from secret_keyring.status import render_report, render_status, status_json
from secret_keyring.urls import provider_from_url

__all__ = ["main"]

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

EXIT_ERROR = 1
EXIT_USAGE = 2

#: ``rotate`` runs outside any Django project, so it cannot see what else uses the key.
CANNOT_AUDIT = (
    "secret-keyring rotate: note: this command cannot see your Django project, so it has not "
    "checked what else uses SECRET_KEY (JWT libraries, encrypted fields). Run "
    "`manage.py rotate_secret_key` instead, or `manage.py check --deploy` first: see "
    "'What a rotation affects' in the docs."
)


def _parser() -> argparse.ArgumentParser:
    from secret_keyring.rotation.lambda_zip import BACKENDS

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

    rotate = sub.add_parser(
        "rotate",
        help="rotate now: Vault check-and-set, AWS RotateSecret or the four steps, file replace",
    )
    rotate.add_argument("url", help="source URL")
    rotate.add_argument(
        "--max-fallbacks", type=int, default=3, metavar="N", help="previous keys to keep (3)"
    )
    rotate.add_argument("--json", action="store_true", help="machine-readable output")
    add_interval_options(rotate)

    init = sub.add_parser("init", help="write a first keyring (current + next) where none exists")
    init.add_argument("url", help="source URL")
    init.add_argument(
        "--adopt-env",
        metavar="VAR",
        help="adopt the site's existing key, read from environment variable VAR (never from "
        "the command line): it stays current, so nobody is logged out; rotate twice to retire "
        "it. Refuses to overwrite an existing secret",
    )
    init.add_argument("--json", action="store_true", help="machine-readable output")

    lambda_zip = sub.add_parser(
        "lambda-zip",
        help="build a rotation Lambda's deployment zip (Secrets Manager, or Vault with hvac)",
    )
    lambda_zip.add_argument("path", help="where to write the zip")
    lambda_zip.add_argument(
        "--backend",
        choices=BACKENDS,
        default="aws",
        help="aws: the Secrets Manager rotation Lambda (default); vault: the scheduled "
        "Vault/OpenBao rotation, with hvac and its dependencies bundled",
    )

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
    # This process exits after one fetch: a refresh time would describe a cache that never
    # refreshes, so it is not shown (manage.py secret_key_status shows a live process's).
    del status["next_refresh"]
    print(status_json(status) if args.json else render_status(status))
    return 0


def _report(report: RotationReport, as_json: bool) -> None:
    if as_json:
        print(json.dumps(dataclasses.asdict(report), indent=2, sort_keys=True, default=str))
        return
    print(render_report(report))


def _rotate(args: argparse.Namespace) -> int:
    from secret_keyring.rotation.run import rotate_source

    provider = provider_from_url(args.url, max_fallbacks=args.max_fallbacks)
    print(CANNOT_AUDIT, file=sys.stderr)
    report = rotate_source(
        provider,
        max_fallbacks=args.max_fallbacks,
        min_interval=args.min_interval,
        force=args.force,
    )
    _report(report, args.json)
    return 0


def _init(args: argparse.Namespace) -> int:
    from secret_keyring.rotation.run import init_source

    provider = provider_from_url(args.url)
    adopt = _adopted(args.adopt_env, provider.source) if args.adopt_env is not None else None
    _report(init_source(provider, adopt=adopt), args.json)
    if adopt is not None and not args.json:
        # The variable may not hold the key the site signs with (another environment's, an
        # old one): only the site can tell, so say what to compare before anyone deploys.
        print(
            f"adopted key {fingerprint(adopt.current)} (from ${args.adopt_env}): compare it with "
            "the live site's before deploying (`python manage.py adopt_secret_key --fingerprint` "
            "prints it); if they differ, the keyring does not hold the site's key and "
            "deploying it logs every user out"
        )
    return 0


def _adopted(variable: str, source: str) -> Keyring:
    """The keyring around the key in ``$variable`` (the site's current SECRET_KEY)."""
    from secret_keyring.keygen import adopt_keyring

    if not _ENV_NAME.match(variable) or len(variable) >= MIN_KEY_LENGTH:
        # Perhaps the key itself, typed where the variable's name belongs: never repeat it.
        raise ConfigurationError(
            f"{source}: --adopt-env takes the name of an environment variable (letters, digits, "
            "underscore) that holds the key, not the key: the command line is visible to "
            "other users and kept in shell history",
            source=source,
        )
    key = os.environ.get(variable)
    if not key:
        raise ConfigurationError(
            f"{source}: --adopt-env {variable}: the environment variable is "
            f"{'empty' if key == '' else 'not set'}; export the site's current SECRET_KEY in "
            "it (from a secret store or a prompt, not on the command line)",
            source=source,
        )
    pasted = _pasted_damage(key)
    if pasted is not None:
        raise ConfigurationError(
            f"{source}: --adopt-env {variable}: the value {pasted}, so it is not the key the "
            "site signs with and adopting it would log every user out; put only the key in the "
            "variable, or run `python manage.py adopt_secret_key SOURCE` with the site's "
            "settings, which reads the key itself",
            source=source,
        )
    try:
        return adopt_keyring(key, source=f"${variable}")
    except InvalidSecret as exc:
        raise ConfigurationError(f"{source}: --adopt-env: {exc}", source=source) from None


#: Quote characters a key is wrapped in where it appears in settings.py or an env file.
_QUOTES = ("'", '"')


def _pasted_damage(key: str) -> str | None:
    """How a value copied with its surroundings differs from the key itself, if it does (never
    quoting it): the quotes of ``SECRET_KEY = '...'`` or the whitespace around a paste. Either
    makes another key, whose signatures the site never made; a quote in front also hides the
    ``django-insecure-`` prefix from the weak-key check."""
    if key != key.strip():
        return "has leading or trailing whitespace (a space or newline copied with it)"
    if len(key) >= 2 and key[0] == key[-1] and key[0] in _QUOTES:
        return f"is wrapped in {key[0]} quotes, as the key is written in settings.py"
    if key[0] in _QUOTES and key.lstrip("".join(_QUOTES)).startswith(INSECURE_PREFIX):
        return "starts with a quote before the 'django-insecure-' prefix"
    return None


def _lambda_zip(args: argparse.Namespace) -> int:
    from secret_keyring.rotation.lambda_zip import HANDLERS, build_lambda_zip

    names = build_lambda_zip(args.path, backend=args.backend)
    print(f"wrote {args.path}: {len(names)} files; handler {HANDLERS[args.backend]}")
    return 0


def _generate(args: argparse.Namespace) -> int:
    from secret_keyring.keygen import generate_key, new_keyring

    print(generate_key() if args.plain else keyring_to_json(new_keyring()))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    handlers = {
        "status": _status,
        "rotate": _rotate,
        "init": _init,
        "lambda-zip": _lambda_zip,
        "generate": _generate,
    }
    try:
        return handlers[args.command](args)
    except SecretKeyringError as exc:
        print(f"secret-keyring {args.command}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except ImportError as exc:
        print(f"secret-keyring {args.command}: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except OSError as exc:
        print(f"secret-keyring {args.command}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_ERROR
