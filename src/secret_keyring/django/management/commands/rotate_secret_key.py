"""``manage.py rotate_secret_key``: rotate the keyring behind this project's SECRET_KEY."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from secret_keyring.django import live
from secret_keyring.errors import SecretKeyringError
from secret_keyring.rotation.run import rotate_source
from secret_keyring.status import fingerprint_rows
from secret_keyring.urls import provider_from_url


class Command(BaseCommand):
    help = (
        "Rotate the keyring behind SECRET_KEY now (Vault: check-and-set write; AWS: RotateSecret "
        "or the four rotation steps). Running processes pick it up within their TTL."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--source", help="a source URL (default: the one secret_keys() used in settings)"
        )
        parser.add_argument(
            "--max-fallbacks", type=int, default=3, help="previous keys to keep (default 3)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        current = live.active()
        try:
            if options["source"]:
                provider = provider_from_url(options["source"])
            elif current is not None:
                provider = current.cache.provider
            else:
                raise CommandError(
                    "SECRET_KEY does not come from secret_keys() here; pass --source URL"
                )
            report = rotate_source(provider, max_fallbacks=options["max_fallbacks"])
        except SecretKeyringError as exc:
            raise CommandError(f"{type(exc).__name__}: {exc}") from exc
        self.stdout.write(f"{report.source}: {report.how}; version {report.version or '-'}")
        rows = fingerprint_rows(report.fingerprints)
        if rows:  # a weak (adopted) key is marked, as in secret_key_status
            self.stdout.write("  ".join(f"{name} {value}" for name, value in rows))
        if current is not None and current.cache.provider is provider:
            try:
                current.cache.refresh()
            except SecretKeyringError as exc:
                self.stderr.write(f"rotated, but this process could not re-read it: {exc}")
