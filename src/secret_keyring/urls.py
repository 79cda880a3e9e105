"""Source URLs: parse, validate and turn into a provider.

Grammar: ``SCHEME://LOCATION[?OPTION=VALUE&...][#FIELD]``. ``PROVIDERS`` maps each scheme to the
provider class that reads it; the class names the options its scheme accepts (``url_options``)
and builds itself from the parsed URL (``from_url``), so a backend's options are written once,
in its own module. An unknown scheme or option is a
[ConfigurationError][secret_keyring.errors.ConfigurationError] that names it. Credentials never
belong in a URL: a user-info part or a token option is refused, and error messages show the URL
redacted.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, cast
from urllib.parse import unquote

from secret_keyring._record import Record
from secret_keyring.errors import ConfigurationError
from secret_keyring.keyring import MIN_KEY_LENGTH, check_max_fallbacks
from secret_keyring.providers.base import BaseProvider

if TYPE_CHECKING:  # for type checkers only: creating a Protocol class is not free at import
    from typing import Protocol

    from secret_keyring.providers.base import Provider

    class ProviderClass(Protocol):
        """What ``PROVIDERS`` names: a provider class that builds itself from a parsed URL."""

        url_options: frozenset[str]

        def from_url(self, url: SourceURL, *, max_fallbacks: int = 3) -> Provider: ...


__all__ = [
    "AWS_REGION",
    "PROVIDERS",
    "SCHEMES",
    "SourceURL",
    "parse_source_url",
    "path_segments",
    "provider_class",
    "provider_from_url",
]

#: The registry: each scheme and the provider class that reads it (``module:Class``, imported
#: when the scheme is first used, so no SDK and no unused backend is imported). A new backend
#: is one line here.
PROVIDERS: Mapping[str, str] = {
    "vault": "secret_keyring.providers.vault:VaultProvider",
    "aws-secretsmanager": "secret_keyring.providers.aws:AwsSecretsManagerProvider",
    "env": "secret_keyring.providers.local:EnvProvider",
    "file": "secret_keyring.providers.local:FileProvider",
    "dev": "secret_keyring.providers.local:DevProvider",
}
_SECRET_OPTIONS = frozenset(
    {"token", "secret_id", "password", "jwt", "key", "secret", "aws_secret_access_key"}
)
_MAX_URL = 4096


def provider_class(scheme: str) -> ProviderClass:
    """The provider class registered for ``scheme`` (imported now).

    Raises:
        KeyError: no provider reads that scheme.
    """
    module, _, name = PROVIDERS[scheme].partition(":")
    return cast("ProviderClass", getattr(importlib.import_module(module), name))


class _SchemeOptions(Mapping[str, frozenset[str]]):
    """Scheme -> the options its provider accepts, read from the registered classes."""

    def __getitem__(self, scheme: str) -> frozenset[str]:
        return provider_class(scheme).url_options

    def __iter__(self) -> Iterator[str]:
        return iter(PROVIDERS)

    def __len__(self) -> int:
        return len(PROVIDERS)


#: Options each scheme accepts (derived from the registry).
SCHEMES: Mapping[str, frozenset[str]] = _SchemeOptions()


class SourceURL(Record):
    """A parsed source URL.

    Attributes:
        scheme: one of ``PROVIDERS`` (``vault``, ``aws-secretsmanager``, ``env``...).
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

    def option(self, name: str, pattern: str | re.Pattern[str], what: str) -> str | None:
        """Option ``name``, checked against ``pattern``; ``None`` when it is not given.

        Args:
            name: the option.
            pattern: what a valid value matches.
            what: what a valid value is, with an example, for the message.

        Raises:
            ConfigurationError: the value does not match (shown shortened).
        """
        value = self.options.get(name)
        if value is not None and not re.match(pattern, value):
            raise ConfigurationError(
                f"source {self.redacted!r}: {name} {value[:32]!r} is not {what}",
                source=self.redacted,
            )
        return value


#: An AWS region name (``eu-west-1``), for the options that take one: a pattern, compiled by
#: ``re`` when an option is first checked against it, not by every import of this module.
AWS_REGION = r"^[a-z]{2}(-[a-z]+)+-\d+$"


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


def path_segments(path: str, redacted: str, what: str) -> list[str]:
    """The ``/``-separated segments of a path in a URL, refusing empty, ``.`` and ``..`` ones.

    Raises:
        ConfigurationError: a segment is empty, ``.`` or ``..``.
    """
    parts = path.split("/")
    for part in parts:
        if part in ("", ".", ".."):
            raise ConfigurationError(
                f"source {redacted!r}: the {what} has an empty, '.' or '..' segment; "
                "write the path in full, without traversal",
                source=redacted,
            )
    return parts


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
    provider = provider_class(parsed.scheme).from_url(parsed, max_fallbacks=max_fallbacks)
    if isinstance(provider, BaseProvider):
        # Messages and status show the URL as the user wrote it (options and #FIELD
        # included), redacted, rather than each provider's own summary of it.
        provider.describe_as(parsed.redacted)
    return provider
