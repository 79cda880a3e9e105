"""Source URLs: parse, validate and turn into a provider.

Grammar: ``SCHEME://LOCATION[?OPTION=VALUE&...][#FIELD]``. Each scheme has a fixed set of options;
an unknown scheme or option is a [ConfigurationError][secret_keyring.errors.ConfigurationError]
that names it. Credentials never belong in a URL: a user-info part or a token option is refused,
and error messages show the URL redacted.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING
from urllib.parse import unquote

from secret_keyring.errors import ConfigurationError
from secret_keyring.keyring import MIN_KEY_LENGTH, check_max_fallbacks
from secret_keyring.providers.base import BaseProvider

if TYPE_CHECKING:
    from secret_keyring.providers.base import Provider

__all__ = ["SCHEMES", "SourceURL", "parse_source_url", "provider_from_url"]

#: Options each scheme accepts.
SCHEMES: Mapping[str, frozenset[str]] = {
    "vault": frozenset(
        {
            "kv_version",
            "auth",
            "role",
            "auth_mount",
            "addr",
            "namespace",
            "cacert",
            "capath",
            "client_cert",
            "client_key",
            "timeout",
            "jwt_file",
            "aws_region",
            "aws_header_value",
        }
    ),
    "aws-secretsmanager": frozenset(
        {"region", "profile", "role_arn", "endpoint_url", "pending_max_age"}
    ),
    "env": frozenset({"fallbacks"}),
    "file": frozenset(),
    "dev": frozenset(),
}
_SECRET_OPTIONS = frozenset(
    {"token", "secret_id", "password", "jwt", "key", "secret", "aws_secret_access_key"}
)
_VAULT_AUTH = frozenset(
    {"token", "approle", "kubernetes", "jwt", "oidc", "cert", "aws", "userpass"}
)
_AWS_NAME = re.compile(r"^[A-Za-z0-9/_+=.@-]{1,512}$")
_AWS_ARN = re.compile(
    r"^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@-]{1,512}$"
)
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_MAX_URL = 4096


@dataclasses.dataclass(frozen=True)
class SourceURL:
    """A parsed source URL.

    Attributes:
        scheme: ``vault``, ``aws-secretsmanager``, ``env``, ``file`` or ``dev``.
        location: everything between ``://`` and ``?``/``#``, percent-decoded.
        options: the query options.
        field: the fragment (``#FIELD``), or ``None``.
        redacted: the URL safe to show in messages.
    """

    scheme: str
    location: str
    options: Mapping[str, str]
    field: str | None
    redacted: str


def _redact(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    if not sep:
        # Not a URL: perhaps the key itself, pasted where the source belongs. Keys are at least
        # MIN_KEY_LENGTH characters long; anything that long is not shown.
        return f"<a {len(url)}-character value>" if len(url) >= MIN_KEY_LENGTH else url
    before_field, hash_, fragment = rest.partition("#")
    location, _, query = before_field.partition("?")
    head, slash, tail = location.partition("/")
    if "@" in head and scheme != "aws-secretsmanager":
        head = "***@" + head.rsplit("@", 1)[1]
    shown = f"{scheme}://{head}{slash}{tail}"
    if query:
        shown += "?" + "&".join(_redact_option(pair) for pair in query.split("&"))
    if hash_:
        shown += "#" + fragment
    return shown if len(shown) <= 200 else shown[:200] + "..."


def _redact_option(pair: str) -> str:
    name, sep, value = pair.partition("=")
    if unquote(name).lower() in _SECRET_OPTIONS:
        return f"{name}{sep}***"  # refused anyway; the message must not repeat the value
    if "@" in unquote(value):
        # Values may be URLs themselves (addr=, endpoint_url=): hide any user-info.
        scheme, slashes, _ = value.partition("//")
        value = (scheme + slashes if slashes else "") + "***@" + unquote(value).rsplit("@", 1)[1]
    return name + sep + value


def parse_source_url(url: str) -> SourceURL:
    """Split and validate a source URL without building a provider.

    Raises:
        ConfigurationError: malformed URL, unknown scheme, unknown or repeated option,
            credentials in the URL.
    """
    if not isinstance(url, str):
        raise ConfigurationError(f"source must be a URL string, got {type(url).__name__}")
    if len(url) > _MAX_URL:
        raise ConfigurationError(f"source URL is longer than {_MAX_URL} characters")
    if not url.isprintable() or any(ch.isspace() for ch in url):
        raise ConfigurationError(
            f"source URL {_redact(url.strip())!r} contains whitespace or control characters; "
            "check the environment variable or settings value"
        )
    redacted = _redact(url)
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ConfigurationError(
            f"source {redacted!r} is not a URL; use one of "
            + ", ".join(f"{name}://" for name in SCHEMES)
        )
    scheme = scheme.lower()
    if scheme not in SCHEMES:
        raise ConfigurationError(
            f"source {redacted!r}: unknown scheme {scheme[:40]!r}; use one of "
            + ", ".join(f"{name}://" for name in SCHEMES)
        )
    rest, _, fragment = rest.partition("#")
    location, _, query = rest.partition("?")
    options: dict[str, str] = {}
    for part in query.split("&") if query else []:
        name, eq, value = part.partition("=")
        name = unquote(name)
        if name.lower() in _SECRET_OPTIONS:
            raise ConfigurationError(
                f"source {redacted!r}: option {name!r} would put a credential in the URL; "
                "pass it through the environment (VAULT_TOKEN, VAULT_SECRET_ID, ...) instead",
                source=redacted,
            )
        if name not in SCHEMES[scheme]:
            allowed = ", ".join(sorted(SCHEMES[scheme])) or "none"
            raise ConfigurationError(
                f"source {redacted!r}: unknown option {name[:40]!r} for {scheme}:// "
                f"(allowed: {allowed})",
                source=redacted,
            )
        if name in options:
            raise ConfigurationError(
                f"source {redacted!r}: option {name!r} is given twice; keep one",
                source=redacted,
            )
        if not eq or not value:
            raise ConfigurationError(
                f"source {redacted!r}: option {name!r} needs a value ({name}=...)",
                source=redacted,
            )
        options[name] = unquote(value)
    field = unquote(fragment) if fragment else None
    if fragment == "" and url.endswith("#"):
        raise ConfigurationError(
            f"source {redacted!r}: empty '#' field; name the field or drop the '#'",
            source=redacted,
        )
    location = unquote(location)
    # %00, %0A and friends decode into control characters: a NUL in a file path, a header
    # break in an address. The raw URL was checked above; check what the escapes produce.
    if not all(part.isprintable() for part in (location, field or "", *options.values())):
        raise ConfigurationError(
            f"source {redacted!r}: a percent-escape decodes to a control character; remove it",
            source=redacted,
        )
    return SourceURL(scheme, location, options, field, redacted)


def _segments(path: str, redacted: str, what: str) -> list[str]:
    parts = path.split("/")
    for part in parts:
        if part in ("", ".", ".."):
            raise ConfigurationError(
                f"source {redacted!r}: the {what} has an empty, '.' or '..' segment; "
                "write the path in full, without traversal",
                source=redacted,
            )
    return parts


def _int_option(parsed: SourceURL, name: str, allowed: tuple[int, ...]) -> int | None:
    raw = parsed.options.get(name)
    if raw is None:
        return None
    if not raw.isdigit() or int(raw) not in allowed:
        raise ConfigurationError(
            f"source {parsed.redacted!r}: option {name} must be one of "
            f"{', '.join(map(str, allowed))}",
            source=parsed.redacted,
        )
    return int(raw)


def _float_option(parsed: SourceURL, name: str) -> float | None:
    raw = parsed.options.get(name)
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 < value <= 300:
        raise ConfigurationError(
            f"source {parsed.redacted!r}: option {name} must be a number of seconds "
            "between 0 and 300",
            source=parsed.redacted,
        )
    return value


def provider_from_url(url: str, *, max_fallbacks: int = 3) -> Provider:
    """Build the provider a source URL describes.

    Args:
        url: a source URL (see the URL reference in the docs).
        max_fallbacks: for plain payloads, how many older versions to use as fallbacks.

    Returns:
        A provider; nothing is fetched yet.

    Raises:
        ConfigurationError: the URL is malformed or names an unknown scheme or option, or
            ``max_fallbacks`` is not an integer from 0 to 18.
        ImportError: the scheme needs an extra that is not installed.
    """
    parsed = parse_source_url(url)
    # Checked for every scheme, even those without version history: one range everywhere.
    check_max_fallbacks(max_fallbacks, source=parsed.redacted)
    provider = _provider(parsed, max_fallbacks)
    if isinstance(provider, BaseProvider):
        # Messages and status show the URL as the user wrote it (options and #FIELD
        # included), redacted, rather than each provider's own summary of it.
        provider.describe_as(parsed.redacted)
    return provider


def _provider(parsed: SourceURL, max_fallbacks: int) -> Provider:
    scheme = parsed.scheme
    if scheme == "vault":
        return _vault(parsed, max_fallbacks)
    if scheme == "aws-secretsmanager":
        return _aws(parsed, max_fallbacks)
    if scheme == "env":
        from secret_keyring.providers.local import EnvProvider

        names = [parsed.location, parsed.options.get("fallbacks")]
        for name in names:
            if name is not None and not _ENV_NAME.match(name):
                shown = "***@" + name.rsplit("@", 1)[1] if "@" in name else name  # credentials
                raise ConfigurationError(
                    f"source {parsed.redacted!r}: {shown[:64]!r} is not an environment variable "
                    "name (letters, digits, underscore)",
                    source=parsed.redacted,
                )
        return EnvProvider(
            parsed.location, fallbacks_variable=parsed.options.get("fallbacks"), field=parsed.field
        )
    if scheme == "file":
        from secret_keyring.providers.local import FileProvider

        if not parsed.location.startswith("/"):
            raise ConfigurationError(
                f"source {parsed.redacted!r}: file:// needs an absolute path, as in "
                "file:///run/secrets/django_secret_key",
                source=parsed.redacted,
            )
        _segments(parsed.location[1:], parsed.redacted, "file path")
        return FileProvider(parsed.location, field=parsed.field)
    # dev
    from secret_keyring.providers.local import DevProvider

    if parsed.field:
        raise ConfigurationError(
            f"source {parsed.redacted!r}: dev:// takes no '#field'", source=parsed.redacted
        )
    if parsed.location:
        if not parsed.location.startswith("/"):
            raise ConfigurationError(
                f"source {parsed.redacted!r}: dev:// takes nothing or an absolute path, as in "
                "dev:///tmp/myapp-dev-keyring.json",
                source=parsed.redacted,
            )
        _segments(parsed.location[1:], parsed.redacted, "dev keyring path")
        return DevProvider(parsed.location)
    return DevProvider()


def _vault(parsed: SourceURL, max_fallbacks: int) -> Provider:
    redacted = parsed.redacted
    head = parsed.location.split("/", 1)[0]
    if "@" in head:
        raise ConfigurationError(
            f"source {redacted!r}: credentials do not belong in the URL; set VAULT_TOKEN or "
            "choose an auth method with ?auth=",
            source=redacted,
        )
    if "/" not in parsed.location:
        raise ConfigurationError(
            f"source {redacted!r}: expected vault://MOUNT/PATH, as in vault://secret/myapp/django",
            source=redacted,
        )
    mount, path = parsed.location.split("/", 1)
    _segments(parsed.location, redacted, "Vault path")
    auth = parsed.options.get("auth", "token")
    if auth not in _VAULT_AUTH:
        raise ConfigurationError(
            f"source {redacted!r}: unknown auth method {auth[:40]!r}; use one of "
            + ", ".join(sorted(_VAULT_AUTH)),
            source=redacted,
        )
    if auth in ("kubernetes", "jwt", "aws") and "role" not in parsed.options:
        raise ConfigurationError(
            f"source {redacted!r}: auth={auth} needs a role, as in ?auth={auth}&role=web",
            source=redacted,
        )
    kv_version = _int_option(parsed, "kv_version", (1, 2)) or 2
    aws_region = parsed.options.get("aws_region")
    if aws_region is not None and not re.match(r"^[a-z]{2}(-[a-z]+)+-\d+$", aws_region):
        raise ConfigurationError(
            f"source {redacted!r}: aws_region {aws_region[:32]!r} is not an AWS region name "
            "(e.g. us-east-1)",
            source=redacted,
        )
    from secret_keyring.providers.vault import VaultProvider

    return VaultProvider(
        mount,
        path,
        field=parsed.field,
        kv_version=kv_version,
        auth=auth,
        role=parsed.options.get("role"),
        auth_mount=parsed.options.get("auth_mount"),
        addr=parsed.options.get("addr"),
        namespace=parsed.options.get("namespace"),
        cacert=parsed.options.get("cacert"),
        capath=parsed.options.get("capath"),
        client_cert=parsed.options.get("client_cert"),
        client_key=parsed.options.get("client_key"),
        timeout=_float_option(parsed, "timeout"),
        max_fallbacks=max_fallbacks,
        jwt_file=parsed.options.get("jwt_file"),
        aws_region=aws_region or "us-east-1",
        aws_header_value=parsed.options.get("aws_header_value"),
    )


def _aws(parsed: SourceURL, max_fallbacks: int) -> Provider:
    redacted = parsed.redacted
    secret_id = parsed.location
    if not secret_id:
        raise ConfigurationError(
            f"source {redacted!r}: expected aws-secretsmanager://NAME or an ARN",
            source=redacted,
        )
    if secret_id.startswith("arn:"):
        if not _AWS_ARN.match(secret_id):
            raise ConfigurationError(
                f"source {redacted!r}: not a Secrets Manager secret ARN "
                "(arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME)",
                source=redacted,
            )
    elif not _AWS_NAME.match(secret_id):
        raise ConfigurationError(
            "source aws-secretsmanager://...: the secret name may hold only letters, digits "
            "and / _ + = . @ - (at most 512 characters)",
            source="aws-secretsmanager://...",
        )
    role_arn = parsed.options.get("role_arn")
    if role_arn is not None and not re.match(r"^arn:aws[a-z-]*:iam::\d{12}:role/\S+$", role_arn):
        raise ConfigurationError(
            f"source {redacted!r}: role_arn must be an IAM role ARN "
            "(arn:aws:iam::ACCOUNT:role/NAME)",
            source=redacted,
        )
    region = parsed.options.get("region")
    if region is not None and not re.match(r"^[a-z]{2}(-[a-z]+)+-\d+$", region):
        raise ConfigurationError(
            f"source {redacted!r}: region {region[:32]!r} is not an AWS region name "
            "(e.g. eu-west-1)",
            source=redacted,
        )
    from secret_keyring.providers.aws import DEFAULT_PENDING_MAX_AGE, AwsSecretsManagerProvider

    pending_max_age = DEFAULT_PENDING_MAX_AGE
    raw_pending_max_age = parsed.options.get("pending_max_age")
    if raw_pending_max_age is not None:
        # The provider checks the range; only the text-to-number step is the URL's.
        try:
            pending_max_age = float(raw_pending_max_age)
        except ValueError:
            raise ConfigurationError(
                f"source {redacted!r}: option pending_max_age must be a number of seconds",
                source=redacted,
            ) from None
    return AwsSecretsManagerProvider(
        secret_id,
        field=parsed.field,
        region=region,
        profile=parsed.options.get("profile"),
        role_arn=role_arn,
        endpoint_url=parsed.options.get("endpoint_url"),
        max_fallbacks=max_fallbacks,
        pending_max_age=pending_max_age,
    )
