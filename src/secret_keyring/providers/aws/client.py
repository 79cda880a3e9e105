"""Building a Secrets Manager client the way the provider and the rotation Lambda do.

boto3's own configuration applies (credential chain, profiles, ``AWS_REGION``,
``AWS_ENDPOINT_URL_SECRETS_MANAGER``, retry mode); on top of it: bounded timeouts, the
``standard`` retry mode, ``?role_arn=`` through refreshing ``sts:AssumeRole`` credentials, and a
filter that keeps botocore's DEBUG logs from carrying secret values.

The client is built on a botocore session, which is where boto3's configuration lives (credential
chain, profiles and config files, ``AWS_REGION``, ``AWS_ENDPOINT_URL_SECRETS_MANAGER``, retry
mode): importing boto3 itself would add its resource layer and s3transfer to every start-up and
change nothing about a Secrets Manager client. boto3 stays the declared dependency (the ``aws``
extra), and a boto3 session or client passed in is used as given. botocore is imported when a
provider (or a client through ``build_client``) is built, never by importing this package.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final, cast
from urllib.parse import urlsplit

from secret_keyring._config import MAX_REQUEST_TIMEOUT, is_seconds
from secret_keyring.errors import ConfigurationError
from secret_keyring.providers.base import check_extra

if TYPE_CHECKING:
    from datetime import datetime

    import boto3
    import botocore.session
    from botocore.config import _RetryDict
    from botocore.credentials import DeferredRefreshableCredentials
    from mypy_boto3_secretsmanager import SecretsManagerClient

__all__ = [
    "DEFAULT_CONNECT_TIMEOUT",
    "DEFAULT_MAX_ATTEMPTS",
    "DEFAULT_READ_TIMEOUT",
    "DEFAULT_ROLE_SESSION_NAME",
    "build_client",
    "check_client_options",
    "install_botocore_redaction",
]

logger = logging.getLogger(__name__)

#: Seconds to open a connection. With the read timeout and the attempt count this bounds how long
#: one call can take: 3 x (2 + 5) s plus at most ~3 s of standard-mode backoff, under the 30 s
#: default start-up timeout.
DEFAULT_CONNECT_TIMEOUT: Final = 2.0
#: Seconds to wait for a response; Secrets Manager answers in tens of milliseconds.
DEFAULT_READ_TIMEOUT: Final = 5.0
#: Total attempts per call (botocore ``standard`` mode), unless ``AWS_MAX_ATTEMPTS`` or the
#: profile's ``max_attempts`` says otherwise.
DEFAULT_MAX_ATTEMPTS: Final = 3
#: ``RoleSessionName`` for ``?role_arn=``; shows in CloudTrail as the assumed-role session.
DEFAULT_ROLE_SESSION_NAME: Final = "django-secret-keyring"
_USER_AGENT: Final = "django-secret-keyring"
_SESSION_NAME = r"^[\w+=,.@-]{2,64}$"  # compiled by ``re`` on first use
_MAX_ATTEMPTS: Final = 10


def build_client(
    *,
    region: str | None = None,
    profile: str | None = None,
    role_arn: str | None = None,
    role_session_name: str = DEFAULT_ROLE_SESSION_NAME,
    endpoint_url: str | None = None,
    session: boto3.session.Session | None = None,
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
    read_timeout: float = DEFAULT_READ_TIMEOUT,
    max_attempts: int | None = None,
    credentials_clock: Callable[[], datetime] | None = None,
    source: str = "aws-secretsmanager://",
) -> SecretsManagerClient:
    """Build a Secrets Manager client the way the provider does.

    boto3's own configuration applies: the default credential chain, ``AWS_REGION`` /
    ``AWS_DEFAULT_REGION``, ``AWS_ENDPOINT_URL_SECRETS_MANAGER``, ``AWS_RETRY_MODE`` /
    ``AWS_MAX_ATTEMPTS`` and the profile's settings. On top of it: bounded connect and read
    timeouts, the ``standard`` retry mode unless one is configured, and, with ``role_arn``,
    credentials from ``sts:AssumeRole`` that botocore refreshes before they expire.

    Args:
        region: the region; default: boto3's (``AWS_DEFAULT_REGION``, then the profile), then
            ``AWS_REGION``.
        profile: a profile of the AWS config files.
        role_arn: a role to assume with the ambient credentials.
        role_session_name: ``RoleSessionName`` for ``role_arn``.
        endpoint_url: an explicit endpoint (a VPC endpoint, or a local test server).
        session: a ``boto3.session.Session`` to use instead of a new one (then ``profile``
            must be ``None``).
        connect_timeout: seconds to open a connection.
        read_timeout: seconds to wait for an answer.
        max_attempts: total attempts per call; default ``AWS_MAX_ATTEMPTS``, the profile's
            ``max_attempts``, or 3.
        credentials_clock: for ``role_arn``, the clock botocore uses to decide when the assumed
            credentials need refreshing (tests pass a fake one).
        source: the redacted source for error messages.

    Returns:
        A Secrets Manager client (botocore's, the class boto3 returns too); it is thread-safe,
        but not fork-safe: build one per process.

    Raises:
        ConfigurationError: no region, an unknown profile, a bad option.
        ImportError: boto3 is not installed (the ``aws`` extra).
    """
    check_extra("boto3", "aws")
    from botocore import exceptions as bce
    from botocore.config import Config

    from secret_keyring.providers.aws._loader import new_session

    check_client_options(
        source,
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        max_attempts=max_attempts,
        role_session_name=role_session_name,
        endpoint_url=endpoint_url,
    )
    if session is not None and profile is not None:
        raise ConfigurationError(
            f"{source}: pass either a boto3 session or a profile, not both", source=source
        )
    install_botocore_redaction()
    try:
        # A boto3 session is a wrapper of this botocore session (boto3 has no public accessor
        # for it); its client() is the botocore session's create_client().
        base: botocore.session.Session = (
            session._session if session is not None else new_session(profile)
        )
        # boto3 reads AWS_DEFAULT_REGION and the profile, not AWS_REGION (which other SDKs,
        # Lambda and ECS set); use it only where boto3 would find nothing.
        region = region or base.get_config_variable("region") or _env("AWS_REGION") or None
        if not region:
            raise bce.NoRegionError
        scoped = base.get_scoped_config()
        retries: _RetryDict = {}
        if not (_env("AWS_RETRY_MODE") or scoped.get("retry_mode")):
            retries["mode"] = "standard"
        if max_attempts is not None:
            retries["total_max_attempts"] = max_attempts
        elif not (_env("AWS_MAX_ATTEMPTS") or scoped.get("max_attempts")):
            retries["total_max_attempts"] = DEFAULT_MAX_ATTEMPTS
        config = Config(
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            retries=retries,
            user_agent_extra=_USER_AGENT,
        )
        target = base
        if role_arn is not None:
            credentials = _assume_role_credentials(
                base,
                role_arn=role_arn,
                session_name=role_session_name,
                region=region,
                config=config,
                clock=credentials_clock,
            )
            target = _session_with_credentials(credentials, profile=profile)
        client = target.create_client(
            "secretsmanager", region_name=region, endpoint_url=endpoint_url, config=config
        )
        # botocore's stubs type every client as BaseClient; boto3's name the service's class.
        return cast("SecretsManagerClient", client)
    except (bce.BotoCoreError, bce.ClientError) as exc:
        from secret_keyring.providers.aws.errors import translate_error

        raise translate_error(exc, source=source, region=region, role_arn=role_arn) from exc


def _env(name: str) -> str:
    return os.environ.get(name, "").strip()


def check_client_options(
    source: str,
    *,
    connect_timeout: float,
    read_timeout: float,
    max_attempts: int | None,
    role_session_name: str,
    endpoint_url: str | None,
) -> None:
    """The one check of the client options (the provider's and ``build_client``'s).

    Raises:
        ConfigurationError: a timeout outside (0, 300] seconds, attempts outside 1-10, a bad
            session name, or an endpoint that is not an http(s) URL without credentials.
    """
    for name, value in (("connect_timeout", connect_timeout), ("read_timeout", read_timeout)):
        if not is_seconds(value, minimum=0.0, exclusive=True, maximum=MAX_REQUEST_TIMEOUT):
            raise ConfigurationError(
                f"{source}: {name} must be a number of seconds in (0, {MAX_REQUEST_TIMEOUT:g}], "
                f"got {value!r}",
                source=source,
            )
    if max_attempts is not None and (
        isinstance(max_attempts, bool)
        or not isinstance(max_attempts, int)
        or not 1 <= max_attempts <= _MAX_ATTEMPTS
    ):
        raise ConfigurationError(
            f"{source}: max_attempts must be an integer from 1 to 10, got {max_attempts!r}",
            source=source,
        )
    if not isinstance(role_session_name, str) or not re.match(_SESSION_NAME, role_session_name):
        raise ConfigurationError(
            f"{source}: role_session_name must be 2-64 characters of letters, digits and "
            "+ = , . @ - _",
            source=source,
        )
    if endpoint_url is None:
        return
    parts = urlsplit(endpoint_url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ConfigurationError(
            f"{source}: endpoint_url must be an http(s) URL such as "
            "https://secretsmanager.eu-west-1.amazonaws.com",
            source=source,
        )
    if parts.username or parts.password:
        raise ConfigurationError(
            f"{source}: endpoint_url must not carry credentials", source=source
        )


def _assume_role_credentials(
    base: botocore.session.Session,
    *,
    role_arn: str,
    session_name: str,
    region: str,
    config: Any,
    clock: Callable[[], datetime] | None,
) -> DeferredRefreshableCredentials:
    """Credentials for ``role_arn`` that botocore fetches on first use and refreshes before
    they expire (from 15 minutes before, blocking only in the last 10)."""
    from botocore.credentials import DeferredRefreshableCredentials

    sts: Any = None

    def refresh() -> dict[str, str]:
        # botocore calls this under the credentials' own refresh lock.
        nonlocal sts
        if sts is None:
            sts = base.create_client("sts", region_name=region, config=config)
        answer = sts.assume_role(RoleArn=role_arn, RoleSessionName=session_name)
        issued = answer["Credentials"]
        logger.debug(
            "secret_keyring: assumed role %s until %s", role_arn, issued["Expiration"].isoformat()
        )
        return {
            "access_key": issued["AccessKeyId"],
            "secret_key": issued["SecretAccessKey"],
            "token": issued["SessionToken"],
            "expiry_time": issued["Expiration"].isoformat(),
        }

    if clock is None:
        return DeferredRefreshableCredentials(refresh_using=refresh, method="assume-role")
    return DeferredRefreshableCredentials(
        refresh_using=refresh, method="assume-role", time_fetcher=clock
    )


def _session_with_credentials(
    credentials: DeferredRefreshableCredentials, *, profile: str | None
) -> botocore.session.Session:
    """A botocore session whose credential chain is exactly ``credentials``."""
    from botocore.credentials import CredentialProvider, CredentialResolver

    from secret_keyring.providers.aws._loader import new_session

    class _Given(CredentialProvider):
        METHOD = "assume-role"
        CANONICAL_NAME = "secret-keyring-assume-role"

        def load(self) -> DeferredRefreshableCredentials:
            return credentials

    core = new_session(profile)
    core.register_component("credential_provider", CredentialResolver([_Given()]))
    return core


# botocore logs whole request and response bodies at DEBUG; for Secrets Manager they hold the
# secret. Records that carry a secret value are rewritten before any handler sees them.
_BODY_LOGGERS: Final = ("botocore.parsers", "botocore.endpoint")
_VALUE_MARKERS: Final = ('"SecretString"', '"SecretBinary"', "'SecretString'", "'SecretBinary'")


class _RedactSecretValues(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        text = f"{record.msg} {record.args!r}"
        if any(marker in text for marker in _VALUE_MARKERS):
            record.msg = (
                "[a botocore debug record holding a Secrets Manager secret value was redacted "
                "by django-secret-keyring]"
            )
            record.args = None
        return True


_REDACTION = _RedactSecretValues(__name__)


def install_botocore_redaction() -> None:
    """Rewrite botocore's DEBUG records that hold a secret value (idempotent)."""
    for name in _BODY_LOGGERS:
        target = logging.getLogger(name)
        if _REDACTION not in target.filters:
            target.addFilter(_REDACTION)
