"""The Secrets Manager rotation Lambda: the four-step protocol, for keyring JSON and plain keys.

Secrets Manager calls the handler four times with the same ``ClientRequestToken``:

1. ``createSecret``: read ``AWSCURRENT``, apply the rotation rule, store the result as the token's
   version under ``AWSPENDING``. A retry finds that version and keeps it (idempotent).
2. ``setSecret``: nothing to do; Django processes read the secret themselves.
3. ``testSecret``: parse and validate the pending value with the provider's own parser, and check
   that it still accepts the current signing key (a keyring that would log everybody out fails).
4. ``finishSecret``: move ``AWSCURRENT`` to the token's version (the old one becomes
   ``AWSPREVIOUS``) and remove ``AWSPENDING`` from it.

Two states Secrets Manager can present that are not a rotation in progress:

* a test-only invocation: with ``RotateImmediately=false`` (Terraform's
  ``rotate_immediately = false``), Secrets Manager stages an ``AWSPENDING`` version that
  ``createSecret`` never wrote (no value, or a copy of ``AWSCURRENT``), invokes ``testSecret``
  alone, then removes it. ``testSecret`` then checks that ``AWSCURRENT`` can be read, parsed and
  rotated, and changes nothing.
* ``AWSCURRENT`` moved after the pending version was made (someone re-keyed with
  ``put-secret-value`` while a failed rotation was waiting for its retry). Promoting the pending
  version would undo that change, so ``testSecret`` and ``finishSecret`` refuse, and the error
  gives the command that clears the stuck ``AWSPENDING`` label.

``secret-keyring rotate`` runs the same four steps itself when no rotation Lambda is configured
(``rotate_secret``). It first judges the age of the current value: from its last promotion (the
latest of the ``AWSCURRENT`` version's ``CreatedDate`` and the secret's ``LastRotatedDate`` and
``LastChangedDate``: Secrets Manager retries a failed rotation for hours, so a version can be
promoted long after it was created) to the ``Date`` of Secrets Manager's own answer. Then it pins
the ``AWSCURRENT`` version it judged: the rotated value is derived from that version read by id,
and ``finishSecret`` moves ``AWSCURRENT`` with ``RemoveFromVersionId`` set to it, which Secrets
Manager refuses if the label has moved since. A run that finds ``AWSCURRENT`` moved, or its
token no longer ``AWSPENDING``, promotes nothing.

Configuration comes from the event and optional environment variables, each with a default:
``SECRET_KEYRING_MAX_FALLBACKS`` (3) and ``SECRET_KEYRING_FIELD`` (none: the whole value).
Only the standard library, boto3 and this package are imported; logs carry fingerprints only.
"""

from __future__ import annotations

import json
import logging
import os
import uuid
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from secret_keyring.errors import (
    InvalidSecret,
    RotationError,
    SecretKeyringError,
    SecretNotFound,
    SourceError,
    clears_locals,
)
from secret_keyring.keygen import generate_key, new_keyring, rotate
from secret_keyring.keyring import Keyring, fingerprint
from secret_keyring.payload import keyring_to_json, parse_payload
from secret_keyring.providers.aws.errors import translate_error
from secret_keyring.providers.aws.secrets_manager import (
    AWSCURRENT,
    AWSPENDING,
    created_date,
    response_date,
    secret_value,
    staged_version,
)
from secret_keyring.rotation import (
    IntervalGuard,
    RotationReport,
    env_max_fallbacks,
    http_date,
    lambda_logging,
    zero_fallbacks_error,
)

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient

    from secret_keyring.providers.aws import AwsSecretsManagerProvider

__all__ = [
    "STEPS",
    "AwsRotator",
    "SecretsManagerRotation",
    "init_secret",
    "lambda_handler",
    "rotate_secret",
]

logger = logging.getLogger(__name__)

STEPS = ("createSecret", "setSecret", "testSecret", "finishSecret")


class AwsRotator:
    """The [Rotator][secret_keyring.rotation.Rotator] of an ``aws-secretsmanager://`` source."""

    def __init__(self, provider: AwsSecretsManagerProvider) -> None:
        self.provider = provider

    def rotate(self, *, keep_previous: int, guard: IntervalGuard) -> RotationReport:
        return rotate_secret(self.provider, max_fallbacks=keep_previous, guard=guard)

    def init(self, adopt: Keyring | None = None) -> RotationReport:
        return init_secret(self.provider, adopt)


class SecretsManagerRotation:
    """One rotation of one secret, identified by its ``ClientRequestToken``.

    Args:
        client: a Secrets Manager client.
        secret_id: the secret's ARN or name.
        token: the ``ClientRequestToken`` (the pending version id).
        field: member of a JSON secret holding the key or keyring.
        max_fallbacks: how many previous keys a rotated keyring keeps.
        pinned: the ``AWSCURRENT`` version id this rotation must replace (a local run pins the
            one its interval guard judged); the steps refuse when ``AWSCURRENT`` has moved from
            it. ``None`` (the Lambda): whichever version holds ``AWSCURRENT``.
    """

    def __init__(
        self,
        client: SecretsManagerClient,
        secret_id: str,
        token: str,
        *,
        field: str | None = None,
        max_fallbacks: int = 3,
        pinned: str | None = None,
    ) -> None:
        self.client = client
        self.secret_id = secret_id
        self.token = token
        self.field = field
        self.max_fallbacks = max_fallbacks
        self.pinned = pinned
        self.source = f"aws-secretsmanager://{secret_id}" + (f"#{field}" if field else "")

    # -- the protocol -------------------------------------------------------------------------

    @clears_locals
    def preconditions(self) -> bool:
        """The template's checks; returns False when there is nothing left to do.

        Raises:
            RotationError: rotation is not enabled, or the token is not staged as pending.
        """
        metadata = self.call("describe_secret", SecretId=self.secret_id)
        if not metadata.get("RotationEnabled"):
            raise RotationError(
                f"{self.source}: rotation is not enabled on the secret; enable it (Terraform's "
                "aws_secretsmanager_secret_rotation) or run `secret-keyring rotate`",
                source=self.source,
            )
        stages = metadata.get("VersionIdsToStages", {})
        if self.token not in stages:
            raise RotationError(
                f"{self.source}: version {self.token} is not a version of the secret; this "
                "event does not belong to a rotation of it",
                source=self.source,
            )
        if AWSCURRENT in stages[self.token]:
            logger.info(
                "%s: version %s is already AWSCURRENT; nothing to do", self.source, self.token
            )
            return False
        if AWSPENDING not in stages[self.token]:
            raise RotationError(
                f"{self.source}: version {self.token} is not staged AWSPENDING; a newer rotation "
                "may have replaced it",
                source=self.source,
            )
        return True

    @clears_locals
    def run(self, step: str) -> None:
        """Run one step by its protocol name.

        Raises:
            RotationError: unknown step, or the step's checks failed.
            SourceError: Secrets Manager refused or failed a call.
        """
        handlers = {
            "createSecret": self.create_secret,
            "setSecret": self.set_secret,
            "testSecret": self.test_secret,
            "finishSecret": self.finish_secret,
        }
        if step not in handlers:
            raise RotationError(
                f"{self.source}: unknown rotation step {step[:40]!r}; expected one of "
                + ", ".join(STEPS),
                source=self.source,
            )
        handlers[step]()

    @clears_locals
    def create_secret(self) -> None:
        """Store the rotated value as the token's ``AWSPENDING`` version, once.

        Raises:
            RotationError: ``AWSCURRENT`` moved from the pinned version.
        """
        current_raw = self._require_raw(self.current_answer("createSecret"), AWSCURRENT)
        if self._pending_answer() is not None:
            logger.info(
                "%s: createSecret: pending version %s exists; keeping it", self.source, self.token
            )
            return
        new_raw, keyring = self._rotated(current_raw)
        params: dict[str, Any] = {
            "SecretId": self.secret_id,
            "ClientRequestToken": self.token,
            "VersionStages": [AWSPENDING],
        }
        if isinstance(new_raw, bytes):
            params["SecretBinary"] = new_raw
        else:
            params["SecretString"] = new_raw
        self.call("put_secret_value", **params)
        fp = keyring.fingerprints
        logger.info(
            "%s: createSecret: pending version %s current=%s next=%s previous=%s",
            self.source,
            self.token,
            fp["current"],
            fp["next"],
            ",".join(fp["previous"]) or "-",
        )

    @clears_locals
    def set_secret(self) -> None:
        """Nothing to configure: the consumers read the secret themselves."""
        logger.info("%s: setSecret: nothing to do (consumers read the secret)", self.source)

    @clears_locals
    def test_secret(self) -> None:
        """Validate the pending value as the provider would, and its continuity with current.

        A pending version that ``createSecret`` did not write (no value, or an exact copy of
        ``AWSCURRENT``) is Secrets Manager testing the configuration: then only ``AWSCURRENT``
        is checked, and nothing is written.

        Raises:
            RotationError: the pending value is malformed, weak, or would reject the current
                signing key; ``AWSCURRENT`` moved after the pending version was made; on a
                test-only invocation, ``AWSCURRENT`` cannot be parsed or rotated.
        """
        pending_answer = self._pending_answer()
        current_answer = self.current_answer("testSecret")
        current_raw = self._require_raw(current_answer, AWSCURRENT)
        pending_raw = None if pending_answer is None else secret_value(pending_answer)
        if pending_raw is None or pending_raw == current_raw:
            self._test_configuration(current_raw)
            return
        self._refuse_if_current_moved("testSecret", current_answer, pending_answer)
        try:
            pending = parse_payload(pending_raw, source=self.source, field=self.field)
            pending_keyring = pending.to_keyring(source=self.source)
            current = parse_payload(current_raw, source=self.source, field=self.field).to_keyring(
                source=self.source
            )
        except (InvalidSecret, SecretNotFound) as exc:
            raise RotationError(
                f"{self.source}: testSecret: the pending value is not usable: {exc}; "
                + self._recovery(),
                source=self.source,
            ) from exc
        if pending.kind == "keyring" and current.current not in (
            pending_keyring.current,
            *pending_keyring.fallbacks,
        ):
            raise RotationError(
                f"{self.source}: testSecret: the pending keyring does not accept the current "
                f"signing key {fingerprint(current.current)}; every session would be lost. "
                + self._recovery(),
                source=self.source,
            )
        logger.info(
            "%s: testSecret: pending version %s is valid (current=%s)",
            self.source,
            self.token,
            pending_keyring.fingerprints["current"],
        )

    @clears_locals
    def finish_secret(self) -> None:
        """Make the token's version ``AWSCURRENT`` and take ``AWSPENDING`` off it.

        Raises:
            RotationError: the token's version is no longer ``AWSPENDING`` (its rotation was
                cleared or replaced), ``AWSCURRENT`` moved from the pinned version, or it moved
                after the pending version was made.
        """
        metadata = self.call("describe_secret", SecretId=self.secret_id)
        stages: Mapping[str, list[str]] = metadata.get("VersionIdsToStages", {})
        current = staged_version(stages, AWSCURRENT)
        if current != self.token:
            # Secrets Manager moves AWSCURRENT to any version it is given, pending or not: a
            # version whose AWSPENDING was taken off (a stuck rotation cleared, a newer one
            # started) must not be promoted by a run that still holds its token.
            if AWSPENDING not in stages.get(self.token, []):
                raise RotationError(
                    f"{self.source}: finishSecret: version {self.token} is no longer staged "
                    "AWSPENDING (its rotation was cleared, or a newer one replaced it); nothing "
                    "was promoted. Rotate again if a rotation is still due",
                    source=self.source,
                )
            if self.pinned is not None and current != self.pinned:
                raise self.moved("finishSecret", current)
        if current is not None and current != self.token:
            self._refuse_if_current_moved(
                "finishSecret",
                self.answer(stage=AWSCURRENT, version=current),
                self._pending_answer(),
            )
        if current != self.token:
            params: dict[str, Any] = {
                "SecretId": self.secret_id,
                "VersionStage": AWSCURRENT,
                "MoveToVersionId": self.token,
            }
            # The pin, made atomic by Secrets Manager: it refuses the move when the label is
            # no longer on RemoveFromVersionId, so a promotion between the DescribeSecret above
            # and this call cannot be undone here.
            remove_from = self.pinned or current
            if remove_from is not None:
                params["RemoveFromVersionId"] = remove_from
            try:
                self.call("update_secret_version_stage", **params)
            except SecretKeyringError as exc:
                if self.pinned is None:
                    raise
                now = staged_version(
                    self.call("describe_secret", SecretId=self.secret_id).get(
                        "VersionIdsToStages", {}
                    ),
                    AWSCURRENT,
                )
                if now == self.pinned:
                    raise
                raise self.moved("finishSecret", now) from exc
            logger.info(
                "%s: finishSecret: version %s is now AWSCURRENT (was %s)",
                self.source,
                self.token,
                current,
            )
        if AWSPENDING in stages.get(self.token, []) or current != self.token:
            # Secrets Manager drops the label itself after a Lambda rotation, but a local run
            # (and a retried finish) must not leave AWSPENDING on the new current version.
            self._remove_pending()

    # -- helpers ------------------------------------------------------------------------------

    def current_answer(self, step: str) -> Mapping[str, Any]:
        """``AWSCURRENT``'s ``GetSecretValue`` answer (never log it): the pinned version, by id
        and stage, or whichever holds the label when nothing is pinned.

        Args:
            step: what is reading it, for the error message.

        Raises:
            RotationError: the label has moved from the pinned version.
        """
        if self.pinned is None:
            return self.answer(stage=AWSCURRENT)
        try:
            return self.answer(stage=AWSCURRENT, version=self.pinned)
        except SourceError as exc:
            if not exc.conflict:
                raise
            raise self.moved(step, None) from exc

    def moved(self, step: str, current: str | None) -> RotationError:
        """The refusal of a run whose pinned ``AWSCURRENT`` version is current no more.

        Args:
            step: where the move was seen.
            current: the version holding ``AWSCURRENT`` now, if known.
        """
        now = f" (now version {current})" if current else ""
        return RotationError(
            f"{self.source}: {step}: AWSCURRENT moved from version {self.pinned}{now} while "
            "this run was rotating it: another rotation or a put-secret-value promoted a new "
            "value, which the fleet may not have read yet. Nothing was promoted; run again "
            "later (the minimum interval then counts from that promotion)",
            source=self.source,
        )

    def _test_configuration(self, current_raw: str | bytes) -> None:
        """The test-only invocation: the next rotation would succeed; nothing is written."""
        self._rotated(current_raw, "testSecret")  # a dry run: the value is not kept
        logger.info(
            "%s: testSecret: version %s was not written by createSecret: Secrets Manager is "
            "testing the rotation configuration (RotateImmediately=false). AWSCURRENT parses "
            "and rotates; nothing changed",
            self.source,
            self.token,
        )

    def _refuse_if_current_moved(
        self, step: str, current: Mapping[str, Any], pending: Mapping[str, Any] | None
    ) -> None:
        """Refuse to test or promote a pending version older than ``AWSCURRENT``.

        ``createSecret`` derives the pending value from the ``AWSCURRENT`` of its time. A newer
        ``AWSCURRENT`` (an emergency re-key with ``put-secret-value`` between a failed attempt
        and Secrets Manager's retry) would be demoted to ``AWSPREVIOUS`` by promoting it.
        """
        made = None if pending is None else created_date(pending)
        moved = created_date(current)
        if made is None or moved is None or moved <= made:
            return
        raise RotationError(
            f"{self.source}: {step}: AWSCURRENT (version {current.get('VersionId')}, written "
            f"{_utc(moved)}) is newer than the pending version {self.token} (made {_utc(made)} "
            "from an older value); promoting it would undo that change, perhaps an emergency "
            "re-key. " + self._recovery(),
            source=self.source,
        )

    def _recovery(self) -> str:
        """How to clear this rotation so that the next one starts from ``AWSCURRENT``."""
        return (
            "Secrets Manager retries this version on every attempt, so clear it: aws "
            f"secretsmanager update-secret-version-stage --secret-id '{self.secret_id}' "
            f"--version-stage AWSPENDING --remove-from-version-id {self.token} ; then rotate "
            "again (aws secretsmanager rotate-secret, or secret-keyring rotate)"
        )

    def _remove_pending(self) -> None:
        metadata = self.call("describe_secret", SecretId=self.secret_id)
        if AWSPENDING in metadata.get("VersionIdsToStages", {}).get(self.token, []):
            self.call(
                "update_secret_version_stage",
                SecretId=self.secret_id,
                VersionStage=AWSPENDING,
                RemoveFromVersionId=self.token,
            )

    @clears_locals
    def abandon(self) -> None:
        """After a failed run, take ``AWSPENDING`` off this token's version (best effort).

        Left in place, the label would keep its key accepted as a fallback and make Secrets
        Manager treat a later ``RotateSecret`` as a rotation still in progress.
        """
        try:
            self._remove_pending()
        except SecretKeyringError as exc:
            logger.warning(
                "%s: could not remove AWSPENDING from version %s after a failed rotation (%s)",
                self.source,
                self.token,
                type(exc).__name__,
            )

    def _rotated(
        self, current_raw: str | bytes, step: str = "createSecret"
    ) -> tuple[str | bytes, Keyring]:
        try:
            payload = parse_payload(current_raw, source=self.source, field=self.field)
        except (InvalidSecret, SecretNotFound) as exc:
            raise RotationError(
                f"{self.source}: {step}: the current value cannot be rotated: {exc}",
                source=self.source,
            ) from exc
        if payload.kind == "keyring":
            if self.max_fallbacks < 1:
                raise zero_fallbacks_error(
                    self.source, "max_fallbacks (SECRET_KEYRING_MAX_FALLBACKS in the Lambda)"
                )
            keyring = rotate(payload.to_keyring(), self.max_fallbacks)
            value: str = keyring_to_json(keyring)
        else:
            keyring = Keyring(current=generate_key())
            value = keyring.current
        if self.field is not None:
            text = current_raw.decode("utf-8") if isinstance(current_raw, bytes) else current_raw
            document = json.loads(text)
            document[self.field] = (
                json.loads(value) if isinstance(document[self.field], dict) else value
            )
            value = json.dumps(document)
        return (value.encode("utf-8") if isinstance(current_raw, bytes) else value), keyring

    def _pending_answer(self) -> Mapping[str, Any] | None:
        """The token's ``GetSecretValue`` answer, or ``None`` while it has no value (the
        placeholder ``RotateSecret`` stages)."""
        try:
            answer: Mapping[str, Any] = self.call(
                "get_secret_value",
                SecretId=self.secret_id,
                VersionId=self.token,
                VersionStage=AWSPENDING,
            )
        except SecretNotFound:
            return None
        return answer if secret_value(answer) is not None else None

    def answer(self, *, stage: str, version: str | None = None) -> Mapping[str, Any]:
        """A version's ``GetSecretValue`` answer: value and ``CreatedDate`` (never log it)."""
        params: dict[str, Any] = {"SecretId": self.secret_id, "VersionStage": stage}
        if version is not None:
            params["VersionId"] = version
        response: Mapping[str, Any] = self.call("get_secret_value", **params)
        return response

    def value(self, *, stage: str, version: str | None = None) -> str | bytes:
        """Read a version's raw value (key material: never log it)."""
        return self._require_raw(self.answer(stage=stage, version=version), stage)

    def _require_raw(self, answer: Mapping[str, Any], stage: str) -> str | bytes:
        raw = secret_value(answer)
        if raw is None:
            raise RotationError(
                f"{self.source}: the {stage} version has no value", source=self.source
            )
        return raw

    def call(self, operation: str, **params: Any) -> Any:
        """Call a Secrets Manager operation, translating its errors (most specific first)."""
        try:
            return getattr(self.client, operation)(**params)
        except Exception as exc:
            if isinstance(exc, SecretKeyringError):
                raise
            raise translate_error(exc, source=self.source) from exc


@clears_locals
def rotate_secret(
    provider: AwsSecretsManagerProvider,
    *,
    max_fallbacks: int = 3,
    guard: IntervalGuard | None = None,
) -> RotationReport:
    """Rotate now: ``RotateSecret`` when a rotation Lambda is configured, else the four steps
    here with a fresh token (the same code the Lambda runs).

    With a ``guard``, nothing is written when the current value was promoted less than
    ``guard.min_interval`` ago (the latest of the ``AWSCURRENT`` version's ``CreatedDate`` and
    the secret's ``LastRotatedDate`` and ``LastChangedDate``, against the ``Date`` of Secrets
    Manager's answer): the report says ``skipped``. ``None`` rotates whatever the age
    (``rotate_source`` and the commands always pass a guard). The four steps run here replace
    the ``AWSCURRENT`` version seen at the start, or nothing (see the module docstring).

    Raises:
        RotationError: a step's checks failed, or ``AWSCURRENT`` moved during the run.
        SourceError: Secrets Manager refused or failed a call.
    """
    client = provider.client()
    token = str(uuid.uuid4())
    rotation = SecretsManagerRotation(
        client, provider.secret_id, token, field=provider.field, max_fallbacks=max_fallbacks
    )
    judged: Mapping[str, Any] | None = None
    if guard is not None and guard.active:
        # By label, never the default version: it is AWSCURRENT that rotation replaces (and
        # moto does not move the default version when the label moves).
        judged = rotation.answer(stage=AWSCURRENT)
    metadata = rotation.call("describe_secret", SecretId=provider.secret_id)
    staged = staged_version(metadata.get("VersionIdsToStages") or {}, AWSCURRENT)
    # The version the guard judges is the one the steps replace, or they replace nothing.
    judged_id = None if judged is None else judged.get("VersionId")
    rotation.pinned = judged_id if isinstance(judged_id, str) else staged
    if judged is not None and guard is not None:
        if staged != rotation.pinned and isinstance(staged, str):
            # Another writer promoted a value between the two reads (an overlapping run): judge
            # that one, as a run started a moment later would have; it is seconds old, so the
            # guard skips instead of failing a normal overlap.
            judged = rotation.answer(stage=AWSCURRENT, version=staged)
            rotation.pinned = staged
        if staged != rotation.pinned:
            raise rotation.moved("the interval check", staged)
        skipped = _skip_if_recent(provider, guard, metadata, judged)
        if skipped is not None:
            return skipped
    if metadata.get("RotationEnabled") and metadata.get("RotationLambdaARN"):
        rotation.call(
            "rotate_secret",
            SecretId=provider.secret_id,
            ClientRequestToken=token,
            RotateImmediately=True,
        )
        return RotationReport(
            provider.source, token, True, "RotateSecret: the rotation Lambda runs the steps", {}
        )
    try:
        for step in STEPS:
            rotation.run(step)
    except Exception:
        # No Secrets Manager retries this token: a local run that failed half-way is abandoned.
        rotation.abandon()
        raise
    stored = parse_payload(
        rotation.value(stage=AWSCURRENT), source=provider.source, field=provider.field
    )
    return RotationReport(
        provider.source,
        token,
        True,
        "the four rotation steps, run locally",
        stored.to_keyring(source=provider.source).fingerprints,
    )


def _skip_if_recent(
    provider: AwsSecretsManagerProvider,
    guard: IntervalGuard,
    described: Mapping[str, Any],
    current: Mapping[str, Any],
) -> RotationReport | None:
    """The report of a run that ``guard`` stops, or ``None`` when the rotation may go on.

    Args:
        provider: the secret.
        guard: the minimum interval.
        described: the ``DescribeSecret`` answer (promotion dates).
        current: the ``AWSCURRENT`` version's ``GetSecretValue`` answer.
    """
    promoted = _last_promotion(described, current)
    # Both ends of the age on Secrets Manager's clock; the local one only for answers
    # without a Date header (the service always sends one; a stubbed client does not).
    now = http_date(response_date(described)) or http_date(response_date(current))
    reason = guard.too_soon(promoted, now=now)
    if reason is None:
        return None
    # A current version without a value gets no fingerprints (an empty value is InvalidSecret).
    raw = secret_value(current) or ""
    return guard.skipped(
        provider.source,
        reason,
        current.get("VersionId"),
        lambda: parse_payload(raw, source=provider.source, field=provider.field).to_keyring(
            source=provider.source
        ),
    )


@clears_locals
def init_secret(
    provider: AwsSecretsManagerProvider, keyring: Keyring | None = None
) -> RotationReport:
    """Create the secret with a first keyring (current + next), or give a valueless secret its
    first value; a secret that has a current value is left alone.

    Args:
        provider: the secret to write.
        keyring: the keyring to write (an adopted site key, see ``keygen.adopt_keyring``);
            default a new one.

    Raises:
        RotationError: the secret does not exist and was named by ARN (an ARN cannot be created).
        SourceError: Secrets Manager refused or failed a call.
    """
    client = provider.client()
    rotation = SecretsManagerRotation(client, provider.secret_id, "", field=provider.field)
    keyring = keyring or new_keyring()
    value = keyring_to_json(keyring)
    if provider.field:
        value = json.dumps({provider.field: value})
    try:
        metadata = rotation.call("describe_secret", SecretId=provider.secret_id)
    except SecretNotFound:
        if provider.secret_id.startswith("arn:"):
            raise RotationError(
                f"{provider.source}: no such secret, and a secret cannot be created by ARN; "
                "create it by name (or with the Terraform module)",
                source=provider.source,
            ) from None
        try:
            created = rotation.call("create_secret", Name=provider.secret_id, SecretString=value)
        except SourceError as exc:
            if not exc.already_exists:
                raise
            # Another init created it between our two calls: theirs stands, as with cas=0.
            existing = provider.fetch()
            return RotationReport(
                provider.source,
                existing.version,
                False,
                "created meanwhile by another init; left as it is",
                existing.fingerprints,
            )
        logger.info("%s: created with a first keyring", provider.source)
        return RotationReport(
            provider.source, created.get("VersionId"), True, "secret created", keyring.fingerprints
        )
    stages = metadata.get("VersionIdsToStages", {})
    if any(AWSCURRENT in labels for labels in stages.values()):
        existing = provider.fetch()
        return RotationReport(
            provider.source,
            existing.version,
            False,
            "the secret has a value already; left as it is",
            existing.fingerprints,
        )
    put = rotation.call("put_secret_value", SecretId=provider.secret_id, SecretString=value)
    return RotationReport(
        provider.source, put.get("VersionId"), True, "first value written", keyring.fingerprints
    )


def _last_promotion(described: Mapping[str, Any], current: Mapping[str, Any]) -> float | None:
    """When the current value was last promoted, epoch seconds, or ``None`` when no date says.

    ``CreatedDate`` is when ``createSecret`` stored the version; Secrets Manager retries a
    failed rotation for hours, so the promotion (``finishSecret``) can come much later. The
    API reference gives ``LastRotatedDate`` (the last completed rotation) and
    ``LastChangedDate`` (the last change of any kind, a label move included): the latest of the
    three is never earlier than the promotion. A change that promoted nothing (a tag, a failed
    rotation's pending version) can only make the guard wait longer, never shorter.
    """
    dates = [
        moment
        for moment in (
            created_date(current),
            described.get("LastRotatedDate"),
            described.get("LastChangedDate"),
        )
        if isinstance(moment, datetime)
    ]
    return max(moment.timestamp() for moment in dates) if dates else None


def _utc(moment: datetime) -> str:
    return f"{moment.astimezone(timezone.utc):%Y-%m-%d %H:%M:%S.%f}"[:-3] + " UTC"


_client: SecretsManagerClient | None = None


def _lambda_client() -> SecretsManagerClient:
    global _client  # noqa: PLW0603 - one client per warm Lambda container
    if _client is None:
        from secret_keyring.providers.aws import build_client

        _client = build_client()
    return _client


@clears_locals
def lambda_handler(event: Mapping[str, Any], context: object) -> None:
    """Entry point for Secrets Manager: ``secret_keyring.rotation.aws.lambda_handler``.

    Raises:
        RotationError: a malformed event, rotation disabled, a token not staged, a bad pending
            value.
        ConfigurationError: an environment variable has a bad value.
        SourceError: Secrets Manager refused or failed a call.
    """
    lambda_logging()
    missing = [name for name in ("SecretId", "ClientRequestToken", "Step") if not event.get(name)]
    if missing:
        raise RotationError(
            "rotation event is missing " + ", ".join(missing) + "; this handler is meant to be "
            "invoked by Secrets Manager rotation"
        )
    field = os.environ.get("SECRET_KEYRING_FIELD", "").strip() or None
    max_fallbacks = env_max_fallbacks()
    rotation = SecretsManagerRotation(
        _lambda_client(),
        str(event["SecretId"]),
        str(event["ClientRequestToken"]),
        field=field,
        max_fallbacks=max_fallbacks,
    )
    step = str(event["Step"])
    if step not in STEPS:
        raise RotationError(
            f"{rotation.source}: unknown rotation step {step[:40]!r}; expected one of "
            + ", ".join(STEPS),
            source=rotation.source,
        )
    logger.info("%s: %s for version %s", rotation.source, step, rotation.token)
    if rotation.preconditions():
        rotation.run(step)
    elif step == "finishSecret":
        # A finishSecret that died between moving AWSCURRENT and removing AWSPENDING is retried
        # on a version that is already current: finishing again only takes the label off.
        rotation.finish_secret()
