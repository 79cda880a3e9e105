"""``manage.py secret_key_status``: where SECRET_KEY comes from (fingerprints only)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from secret_keyring.django import build_only, live
from secret_keyring.errors import SecretKeyringError
from secret_keyring.status import render_status, status_json


class Command(BaseCommand):
    help = "Show the keyring behind SECRET_KEY: source, version, age, fingerprints, last error."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="machine-readable output")
        parser.add_argument(
            "--refresh", action="store_true", help="fetch from the source before reporting"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if build_only.started():
            # Not "does not come from secret_keys()": it does, and fetched nothing on purpose.
            raise CommandError(
                f"this process was started with {build_only.BUILD_ONLY_ENV}=1: no keyring was "
                "fetched and SECRET_KEY is empty; run secret_key_status without "
                f"{build_only.BUILD_ONLY_ENV}, where the keyring source is reachable"
            )
        current = live.active()
        if current is None:
            raise CommandError(
                "SECRET_KEY does not come from secret_keyring.django.secret_keys() in these "
                "settings; nothing to report"
            )
        if options["refresh"]:
            try:
                current.cache.refresh()
            except SecretKeyringError as exc:
                self.stderr.write(f"refresh failed: {type(exc).__name__}: {exc}")
        status = current.cache.status()
        self.stdout.write(status_json(status) if options["json"] else render_status(status))
