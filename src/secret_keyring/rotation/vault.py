"""Vault/OpenBao rotation: read the latest KV v2 version, write the rotated keyring with
check-and-set, so that of two concurrent rotations exactly one wins.

``lambda_handler`` runs it on a schedule (an EventBridge rule invoking a Lambda, or any cron that
can call a Python function). It is configured by environment variables only:

* ``SECRET_KEYRING_SOURCE``: the ``vault://`` URL, with ``?auth=`` as for the provider (AppRole,
  JWT, Kubernetes, AWS IAM; credentials from the usual ``VAULT_*`` variables);
* ``SECRET_KEYRING_MAX_FALLBACKS``: previous keys to keep (default 3);
* ``SECRET_KEYRING_MIN_INTERVAL``: seconds that must have passed since the latest version was
  written (default 900), by the server's clock (the ``Date`` of its answer); a run inside it
  writes nothing and reports ``skipped``, so a retried invocation whose first write was applied
  does not rotate twice.

A scheduled Lambda is built with ``secret-keyring lambda-zip PATH --backend vault`` (hvac and its
dependencies included) and deployed by ``terraform/modules/vault-rotation-aws``.

Only the standard library, hvac and this package are imported; logs carry fingerprints only.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from secret_keyring.errors import (
    ConfigurationError,
    InvalidSecret,
    RotationError,
    SecretNotFound,
    SourceError,
    clears_locals,
)
from secret_keyring.keygen import generate_key, new_keyring, rotate
from secret_keyring.keyring import DEFAULT_FIELD, Keyring
from secret_keyring.payload import keyring_to_json, parse_mapping
from secret_keyring.rotation import (
    DEFAULT_MIN_INTERVAL,
    IntervalGuard,
    RotationReport,
    env_max_fallbacks,
    env_seconds,
    http_date,
    lambda_logging,
    zero_fallbacks_error,
)

if TYPE_CHECKING:
    from secret_keyring.providers.vault import VaultProvider

__all__ = ["VaultRotator", "init_keyring", "lambda_handler", "rotate_keyring"]

logger = logging.getLogger(__name__)


class VaultRotator:
    """The [Rotator][secret_keyring.rotation.Rotator] of a ``vault://`` source."""

    def __init__(self, provider: VaultProvider) -> None:
        self.provider = provider

    def rotate(self, *, keep_previous: int, guard: IntervalGuard) -> RotationReport:
        return rotate_keyring(self.provider, max_fallbacks=keep_previous, guard=guard)

    def init(self, adopt: Keyring | None = None) -> RotationReport:
        return init_keyring(self.provider, adopt)


def _cas_write(provider: VaultProvider, data: Mapping[str, Any], cas: int) -> dict[str, Any] | None:
    """Write ``data`` with check-and-set; ``None`` when another writer's version won."""
    try:
        response = provider.session.run(
            lambda client: client.secrets.kv.v2.create_or_update_secret(
                path=provider.path, secret=dict(data), cas=cas, mount_point=provider.mount
            ),
            action="write",
            idempotent=False,
        )
    except SourceError as exc:
        if exc.conflict:
            return None
        raise
    return dict(response or {})


def _require_kv2(provider: VaultProvider) -> None:
    if provider.kv_version != 2:
        raise RotationError(
            f"{provider.source}: rotation needs KV v2 (check-and-set writes); KV v1 has no "
            "versions to protect against concurrent rotations. Move the secret to a KV v2 mount",
            source=provider.source,
        )


def _rotated_data(
    provider: VaultProvider, data: Mapping[str, Any], max_fallbacks: int
) -> tuple[dict[str, Any], Keyring]:
    try:
        payload = parse_mapping(
            data, source=provider.source, field=provider.field, default_field=DEFAULT_FIELD
        )
    except (InvalidSecret, SecretNotFound) as exc:
        raise RotationError(
            f"{provider.source}: the stored value cannot be rotated: {exc}",
            source=provider.source,
        ) from exc
    if payload.kind == "keyring":
        if max_fallbacks < 1:
            raise zero_fallbacks_error(provider.source)
        keyring = rotate(payload.to_keyring(), max_fallbacks)
    else:
        keyring = Keyring(current=generate_key())
    field = provider.field or (None if "current" in data else DEFAULT_FIELD)
    if field is None:
        return json.loads(keyring_to_json(keyring)), keyring
    new_data = dict(data)
    if payload.kind == "plain":
        new_data[field] = keyring.current
    elif isinstance(data[field], Mapping):
        new_data[field] = json.loads(keyring_to_json(keyring))
    else:
        new_data[field] = keyring_to_json(keyring)
    return new_data, keyring


@clears_locals
def rotate_keyring(
    provider: VaultProvider, *, max_fallbacks: int = 3, guard: IntervalGuard | None = None
) -> RotationReport:
    """Rotate once: read the latest version, write the rotated keyring with ``cas``.

    A plain key is replaced by a new one (its earlier versions stay fallbacks); keyring JSON
    follows the rotation rule. If another rotation wrote first, nothing is written and the
    result says so (``written=False``): the secret was rotated exactly once. If the latest
    version is younger than ``guard.min_interval`` (its ``created_time`` against the ``Date``
    of the same answer, both the server's clock), nothing is written either and the report
    says ``skipped``.

    Args:
        provider: the ``vault://`` source, logged in as the rotator.
        max_fallbacks: previous keys to keep.
        guard: the minimum interval between rotations. ``None`` rotates whatever the age:
            the entry points (``rotate_source``, ``lambda_handler``, the commands) always pass
            one, 15 minutes unless told otherwise.

    Raises:
        RotationError: KV v1, or the stored value cannot be rotated.
        AccessDenied: the token may read but not write (a reader's policy).
        SourceError: Vault failed.
    """
    _require_kv2(provider)
    data, version, created = provider.read_secret_version()
    # Read straight after, in this thread: the Date of that same answer.
    server_now = http_date(provider.session.response_date())
    assert version is not None  # noqa: S101 - KV v2 always has a version
    if guard is not None and (reason := guard.too_soon(created, now=server_now)) is not None:
        return guard.skipped(
            provider.source,
            reason,
            str(version),
            lambda: parse_mapping(
                data, source=provider.source, field=provider.field, default_field=DEFAULT_FIELD
            ).to_keyring(source=provider.source),
        )
    new_data, keyring = _rotated_data(provider, data, max_fallbacks)
    result = _cas_write(provider, new_data, cas=version)
    if result is None:
        _, latest, _ = provider.read_secret_version()
        logger.warning(
            "%s: another rotation wrote version %s first; this one wrote nothing",
            provider.source,
            latest,
        )
        latest_keyring = provider.fetch()
        return RotationReport(
            provider.source,
            str(latest),
            False,
            "another rotation won the check-and-set race",
            latest_keyring.fingerprints,
        )
    written = result.get("data", {}).get("version", version + 1)
    fp = keyring.fingerprints
    logger.info(
        "%s: rotated to version %s: current=%s next=%s previous=%s",
        provider.source,
        written,
        fp["current"],
        fp["next"],
        ",".join(fp["previous"]) or "-",
    )
    return RotationReport(provider.source, str(written), True, "check-and-set write", fp)


@clears_locals
def init_keyring(provider: VaultProvider, keyring: Keyring | None = None) -> RotationReport:
    """Write a first keyring (current + next) only where no secret exists (``cas=0``).

    Args:
        provider: where to write.
        keyring: the keyring to write (an adopted site key, see ``keygen.adopt_keyring``);
            default a new one.

    Raises:
        RotationError: KV v1.
        SourceError: Vault failed or refused the write.
    """
    _require_kv2(provider)
    keyring = keyring or new_keyring()
    data: dict[str, Any] = json.loads(keyring_to_json(keyring))
    if provider.field:
        data = {provider.field: keyring_to_json(keyring)}
    result = _cas_write(provider, data, cas=0)
    if result is None:
        existing = provider.fetch()
        logger.info(
            "%s: a keyring exists already (version %s); left as it is",
            provider.source,
            existing.version,
        )
        return RotationReport(
            provider.source,
            existing.version,
            False,
            "a keyring exists already; left as it is",
            existing.fingerprints,
        )
    version = result.get("data", {}).get("version", 1)
    logger.info("%s: wrote a first keyring as version %s", provider.source, version)
    return RotationReport(
        provider.source, str(version), True, "first keyring written (cas=0)", keyring.fingerprints
    )


@clears_locals
def lambda_handler(event: Mapping[str, Any], context: object) -> dict[str, Any]:
    """Scheduled rotation entry point: ``secret_keyring.rotation.vault.lambda_handler``.

    Returns:
        ``{"source", "version", "rotated", "fingerprints"}``: no key material.

    Raises:
        ConfigurationError: ``SECRET_KEYRING_SOURCE`` is unset or not a ``vault://`` URL.
        RotationError: the stored value cannot be rotated.
        SourceError: Vault failed or refused.
    """
    from secret_keyring.providers.vault import VaultProvider
    from secret_keyring.urls import provider_from_url

    lambda_logging()
    url = os.environ.get("SECRET_KEYRING_SOURCE", "").strip()
    if not url:
        raise ConfigurationError(
            "SECRET_KEYRING_SOURCE is not set; set it to the vault:// URL to rotate"
        )
    max_fallbacks = env_max_fallbacks()
    guard = IntervalGuard(
        env_seconds("SECRET_KEYRING_MIN_INTERVAL", DEFAULT_MIN_INTERVAL),
        option="SECRET_KEYRING_MIN_INTERVAL",
        override="SECRET_KEYRING_MIN_INTERVAL=0",
    )
    provider = provider_from_url(url)
    if not isinstance(provider, VaultProvider):
        raise ConfigurationError(
            f"SECRET_KEYRING_SOURCE must be a vault:// URL for this handler, got {provider.source}"
        )
    result = rotate_keyring(provider, max_fallbacks=max_fallbacks, guard=guard)
    return {
        "source": result.source,
        "version": result.version,
        "rotated": result.written,
        "skipped": result.skipped,
        "how": result.how,
        "fingerprints": dict(result.fingerprints),
    }
