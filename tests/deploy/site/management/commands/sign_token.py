"""``manage.py sign_token VALUE``: what a cron job that mails a signed link does."""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.core import signing
from django.core.management.base import BaseCommand, CommandParser

from secret_keyring.keyring import fingerprint


class Command(BaseCommand):
    help = "Sign VALUE with SECRET_KEY; print the token and the key's fingerprint as JSON."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("value")

    def handle(self, *args: Any, **options: Any) -> None:
        signed = signing.dumps(options["value"])
        current = fingerprint(settings.SECRET_KEY)
        self.stdout.write(json.dumps({"signed": signed, "current": current}))
