"""``manage.py rotate_secret_key``: rotate the keyring behind this project's SECRET_KEY."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from secret_keyring.django import audit, live
from secret_keyring.errors import SecretKeyringError
from secret_keyring.rotation import DEFAULT_MIN_INTERVAL, add_interval_options, fleet_min_interval
from secret_keyring.rotation.run import rotate_source
from secret_keyring.status import fingerprint_rows
from secret_keyring.urls import provider_from_url


class Command(BaseCommand):
    help = (
        "Rotate the keyring behind SECRET_KEY now (Vault: check-and-set write; AWS: RotateSecret "
        "or the four rotation steps). Running processes pick it up within their TTL. A run "
        "within --min-interval seconds of the last rotation writes nothing (exit 0); --force "
        "rotates anyway. The default interval protects this project's caches: 2 x ttl + "
        f"refresh_timeout of its secret_keys(), at least {DEFAULT_MIN_INTERVAL:.0f} s."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--source", help="a source URL (default: the one secret_keys() used in settings)"
        )
        parser.add_argument(
            "--max-fallbacks", type=int, default=3, help="previous keys to keep (default 3)"
        )
        parser.add_argument(
            "--i-understand-data-loss",
            action="store_true",
            help="rotate even though a package encrypts data with a key derived from SECRET_KEY "
            "(secret_keyring.E010): that data becomes unreadable",
        )
        add_interval_options(
            parser,
            default=None,
            default_help="2 x ttl + refresh_timeout of this project's secret_keys(), at least "
            f"{DEFAULT_MIN_INTERVAL:.0f}",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        self._audit(accept_data_loss=options["i_understand_data_loss"])
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
            # The project's TTL says how stale its own processes may be, not another secret's.
            reads_it = current is not None and current.cache.provider.source == provider.source
            min_interval, why = _min_interval(
                options["min_interval"], current if reads_it else None, other=current is not None
            )
            self.stdout.write(
                f"minimum interval {min_interval:g} s: {why}"
                + ("; not applied (--force)" if options["force"] else "")
            )
            report = rotate_source(
                provider,
                max_fallbacks=options["max_fallbacks"],
                min_interval=min_interval,
                force=options["force"],
            )
        except SecretKeyringError as exc:
            raise CommandError(f"{type(exc).__name__}: {exc}") from exc
        self.stdout.write(f"{report.source}: {report.how}; version {report.version or '-'}")
        rows = fingerprint_rows(report.fingerprints)
        if rows:  # a weak (adopted) key is marked, as in secret_key_status
            self.stdout.write("  ".join(f"{name} {value}" for name, value in rows))
        if not report.skipped and current is not None and current.cache.provider is provider:
            try:
                current.cache.refresh()
            except SecretKeyringError as exc:
                self.stderr.write(f"rotated, but this process could not re-read it: {exc}")

    def _audit(self, *, accept_data_loss: bool) -> None:
        """Say what the rotation breaks; refuse while it would lose data, unless told not to."""
        findings = audit.audit()
        for finding in findings:
            self.stderr.write(f"{finding.check_id}: {finding.message}\n    HINT: {finding.hint}")
        losses = [f for f in findings if f.data_loss]
        if losses and not accept_data_loss:
            raise CommandError(
                f"refusing to rotate: {len(losses)} finding(s) above would make data encrypted "
                "with a key derived from SECRET_KEY unreadable. Give those packages keys of their "
                f"own first (see {audit.DOCS_PAGE}), or pass --i-understand-data-loss."
            )


def _min_interval(
    given: float | None, current: live.LiveKeyring | None, *, other: bool = False
) -> tuple[float, str]:
    """The minimum interval to apply and why, for the output.

    By default a rotation waits until every process of this project has read the ``next`` the
    last one published: a process signs with a keyring up to one TTL old, plus a refresh that
    hangs up to ``refresh_timeout``, and the new ``next`` must have reached it before the one
    after is promoted, hence ``2 x ttl + refresh_timeout`` of the running configuration. The
    fixed 900 s would protect nothing at ``ttl=3600``.
    """
    if given is not None:
        return given, "--min-interval"
    if current is None and other:
        return DEFAULT_MIN_INTERVAL, (
            "the default; --source names another secret than this project's secret_keys(), "
            "whose readers' TTL is not known here"
        )
    if current is None:
        return DEFAULT_MIN_INTERVAL, (
            "the default; SECRET_KEY does not come from secret_keys() here, so no TTL is known"
        )
    cache = current.cache
    interval = fleet_min_interval(cache.ttl, cache.refresh_timeout)
    if interval > DEFAULT_MIN_INTERVAL:
        return interval, (
            f"2 x ttl ({cache.ttl:g} s) + refresh_timeout ({cache.refresh_timeout:g} s) of this "
            "project's secret_keys(), so that every process has read the next key first"
        )
    return interval, (
        f"the floor; 2 x ttl ({cache.ttl:g} s) + refresh_timeout ({cache.refresh_timeout:g} s) "
        "of this project's secret_keys() is less"
    )
