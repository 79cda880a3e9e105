"""``manage.py adopt_secret_key``: write a first keyring around the key these settings sign with.

Run with the site's settings as they are before the switch to ``secret_keys()``: the key is read
from ``settings.SECRET_KEY`` itself, so nothing is pasted (a pasted key can carry the quotes or
whitespace around it in ``settings.py`` and differ from the key the site signs with).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from secret_keyring.django import live
from secret_keyring.errors import InvalidSecret, SecretKeyringError, clears_locals
from secret_keyring.keygen import adopt_keyring
from secret_keyring.keyring import fingerprint, is_weak
from secret_keyring.rotation.run import init_source
from secret_keyring.status import render_report
from secret_keyring.urls import provider_from_url

#: How the adopted key is described in messages: where it was read, never what it is.
ORIGIN = "settings.SECRET_KEY"


class Command(BaseCommand):
    help = (
        "Adopt the key these settings sign with: write it as the current key of a first "
        "keyring at SOURCE, beside a new strong next key, so that switching the settings to "
        "secret_keys(SOURCE) logs nobody out. Create-only: an existing secret is never "
        "overwritten. Prints the fingerprints of the live key and of the keyring's current key."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "source", nargs="?", help="source URL, e.g. vault://secret/myapp/django"
        )
        parser.add_argument(
            "--fingerprint",
            action="store_true",
            help="only print the fingerprint of settings.SECRET_KEY and write nothing (to "
            "compare with what `secret-keyring init --adopt-env` printed)",
        )

    @clears_locals  # `key` is the live key: not for a traceback that shows locals
    def handle(self, *args: Any, **options: Any) -> None:
        key = settings.SECRET_KEY
        active = live.active()
        if active is not None and active.applied.current == key:
            raise CommandError(
                f"{ORIGIN} already comes from secret_keys() ({active.cache.provider.source}): "
                "there is no other key to adopt. Run this command with the settings from "
                "before the switch (a SECRET_KEY the site signs with today)."
            )
        if not isinstance(key, str) or not key:
            raise CommandError(f"{ORIGIN} is not a non-empty string; there is no key to adopt")
        live_fingerprint = fingerprint(key) + (" (weak)" if is_weak(key) else "")
        if options["fingerprint"]:
            self.stdout.write(f"live SECRET_KEY   {live_fingerprint}")
            return
        if not options["source"]:
            raise CommandError("give the source URL to write to, e.g. vault://secret/myapp/django")
        try:
            provider = provider_from_url(options["source"])
            try:
                adopted = adopt_keyring(key, source=ORIGIN)
            except InvalidSecret as exc:
                raise CommandError(f"{ORIGIN} cannot be adopted: {exc}") from None
            report = init_source(provider, adopt=adopted)
        except SecretKeyringError as exc:
            raise CommandError(f"{type(exc).__name__}: {exc}") from exc
        self.stdout.write(render_report(report))
        # Read back what the source now holds, and fingerprint both keys apart: the person about
        # to deploy sees the stored key match the live one, not our word for it.
        try:
            stored = fingerprint(provider.fetch().current)
        except SecretKeyringError as exc:
            self.stderr.write(
                f"written, but it could not be read back to compare ({type(exc).__name__}: "
                f"{exc}); compare with `secret-keyring status {provider.source}`"
            )
            stored = None
        self.stdout.write(f"live SECRET_KEY   {live_fingerprint}")
        self.stdout.write(f"keyring current   {stored or '-'}")
        if stored == fingerprint(key):
            self.stdout.write(
                "the same key: a site switched to this keyring keeps signing with it, so nobody "
                "is logged out"
            )
        fallbacks = list(getattr(settings, "SECRET_KEY_FALLBACKS", []) or [])
        if fallbacks:
            self.stderr.write(
                f"note: settings.SECRET_KEY_FALLBACKS holds {len(fallbacks)} key(s) that were not "
                "adopted: once the site reads the keyring, what only they signed stops verifying"
            )
