"""Local sources: environment variables, mounted files and the ``dev://`` keyring."""

from __future__ import annotations

import errno
import hashlib
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from secret_keyring.errors import (
    AccessDenied,
    ConfigurationError,
    InvalidSecret,
    RotationError,
    SecretNotFound,
    SourceUnavailable,
    clears_locals,
)
from secret_keyring.keyring import MAX_PAYLOAD_BYTES, Keyring
from secret_keyring.payload import keyring_to_json, parse_payload
from secret_keyring.providers.base import BaseProvider

if TYPE_CHECKING:
    from secret_keyring.rotation import Rotator
    from secret_keyring.urls import SourceURL

__all__ = ["DEFAULT_DEV_PATH", "DevProvider", "EnvProvider", "FileProvider"]

#: Where ``dev://`` keeps its keyring, relative to the working directory. The folder's
#: ``.gitignore`` names the keyring file, so the key is never committed whatever the project's
#: own ignores say, and nothing else in the folder is hidden from git.
DEFAULT_DEV_PATH = Path(".secret-keyring") / "dev-keyring.json"


def _git_ignore(ignore: Path, name: str) -> None:
    """Make ``ignore`` (a ``.gitignore``) ignore the file ``name`` of its folder, and only it:
    created if missing, appended to if it does not list the file yet."""
    line = "/" + "".join(f"\\{char}" if char in "*?[]!#\\" else char for char in name)
    existing = ignore.read_text(encoding="utf-8") if ignore.exists() else ""
    if line in existing.splitlines():
        return
    separator = "\n" if existing and not existing.endswith("\n") else ""
    with ignore.open("a", encoding="utf-8") as handle:
        handle.write(f"{separator}# secret-keyring dev keyring: never commit\n{line}\n")


def _content_version(raw: bytes | str) -> str:
    data = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw
    # A digest of the payload identifies the version without revealing it.
    return "sha256:" + hashlib.sha256(data).hexdigest()[:12]


_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _absolute_path(url: SourceURL, what: str, example: str) -> str:
    """The URL's location as an absolute path without traversal."""
    from secret_keyring.urls import path_segments

    if not url.location.startswith("/"):
        raise ConfigurationError(
            f"source {url.redacted!r}: {example}",
            source=url.redacted,
        )
    path_segments(url.location[1:], url.redacted, what)
    return url.location


class EnvProvider(BaseProvider):
    """A key or keyring JSON in an environment variable (``env://VAR?fallbacks=VAR2``).

    Args:
        variable: the variable holding the key or keyring JSON.
        fallbacks_variable: a variable with comma-separated older keys, appended to ``previous``.
        environ: the environment to read (default ``os.environ``, read at each fetch).
        field: member of a JSON object holding the key (``#FIELD``).
    """

    def __init__(
        self,
        variable: str,
        *,
        fallbacks_variable: str | None = None,
        field: str | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        for name in (variable, fallbacks_variable):
            if name is not None and (not name or "=" in name or "\0" in name):
                raise ConfigurationError(
                    f"env://: {name!r} is not a valid environment variable name",
                )
        source = f"env://{variable}"
        if fallbacks_variable:
            source += f"?fallbacks={fallbacks_variable}"
        super().__init__(source)
        self.variable = variable
        self.fallbacks_variable = fallbacks_variable
        self.field = field
        self._environ = environ

    #: The ``?option=`` names an ``env://`` URL accepts.
    url_options: ClassVar[frozenset[str]] = frozenset({"fallbacks"})
    #: A variable cannot change inside a running process: rotating needs a restart.
    live_rotation: ClassVar[bool] = False

    @classmethod
    def from_url(cls, url: SourceURL, *, max_fallbacks: int = 3) -> EnvProvider:
        """``env://VAR[?fallbacks=VAR2][#field]``.

        Raises:
            ConfigurationError: a name is not an environment variable name.
        """
        fallbacks = url.options.get("fallbacks")
        for name in (url.location, fallbacks):
            if name is not None and not _ENV_NAME.match(name):
                shown = "***@" + name.rsplit("@", 1)[1] if "@" in name else name  # credentials
                raise ConfigurationError(
                    f"source {url.redacted!r}: {shown[:64]!r} is not an environment variable "
                    "name (letters, digits, underscore)",
                    source=url.redacted,
                )
        return cls(url.location, fallbacks_variable=fallbacks, field=url.field)

    def rotator(self) -> Rotator:
        """Never returns: an environment variable cannot be rotated from here.

        Raises:
            RotationError: always, saying what to do instead.
        """
        raise RotationError(
            f"{self.source}: an environment variable cannot be rotated from here; write "
            "a new value where the variable is set and restart, or move to a vault://, "
            "aws-secretsmanager:// or file:// source",
            source=self.source,
        )

    @clears_locals
    def fetch(self) -> Keyring:
        """Read the variables now.

        Raises:
            ConfigurationError: the variable is not set.
            InvalidSecret: the value is not a usable key or keyring.
        """
        environ = os.environ if self._environ is None else self._environ
        raw = environ.get(self.variable)
        if raw is None:
            raise ConfigurationError(
                f"{self.source}: environment variable {self.variable} is not set; export it "
                "(a key from `secret-keyring generate`) or change the source",
                source=self.source,
            )
        payload = parse_payload(raw, source=self.source, field=self.field)
        previous = list(payload.previous)
        if self.fallbacks_variable:
            extra = environ.get(self.fallbacks_variable, "")
            previous.extend(part.strip() for part in extra.split(",") if part.strip())
        return Keyring(
            current=payload.current,
            next=payload.next,
            previous=tuple(previous),
            version=_content_version(raw),
            source=self.source,
            adopted=payload.adopted,
        )


#: How often a read that found no file is tried again at once. A Kubernetes volume update (the
#: kubelet's atomic writer, also used by Vault Agent, the Secrets Store CSI driver and External
#: Secrets) renames ``..data`` to the new version and then deletes the old one: an open() that
#: resolved ``..data`` just before the rename can look for the file in the deleted directory.
#: The next attempt resolves the new ``..data``; a file that is really missing stays missing.
_VANISHED_RETRIES = 3


def _open_read(path: Path) -> bytes:
    for _ in range(_VANISHED_RETRIES):
        try:
            with path.open("rb") as handle:
                return handle.read(MAX_PAYLOAD_BYTES + 1)
        except FileNotFoundError:
            continue
    with path.open("rb") as handle:
        return handle.read(MAX_PAYLOAD_BYTES + 1)


def _read_limited(path: Path, source: str) -> bytes:
    try:
        data = _open_read(path)
    except FileNotFoundError as exc:
        raise SecretNotFound(
            f"{source}: the file does not exist; check the path or the volume mount",
            source=source,
        ) from exc
    except PermissionError as exc:
        raise AccessDenied(
            f"{source}: permission denied reading the file; give the process user read access",
            source=source,
        ) from exc
    except IsADirectoryError as exc:
        raise ConfigurationError(
            f"{source}: the path is a directory; point file:// at the file holding the key",
            source=source,
        ) from exc
    except OSError as exc:
        raise SourceUnavailable(
            f"{source}: cannot read the file ({errno.errorcode.get(exc.errno or 0, 'error')})",
            source=source,
        ) from exc
    if len(data) > MAX_PAYLOAD_BYTES:
        raise InvalidSecret(
            f"{source}: field 'value': the file is larger than {MAX_PAYLOAD_BYTES} bytes; "
            "store only the keyring",
            source=source,
        )
    return data


class FileProvider(BaseProvider):
    """A key or keyring JSON in a file (Docker/Kubernetes secrets), re-read at every fetch.

    Args:
        path: absolute path to the file.
        field: member of a JSON object holding the key (``#FIELD``).
    """

    def __init__(self, path: str | os.PathLike[str], *, field: str | None = None) -> None:
        self.path = Path(path)
        super().__init__(f"file://{self.path}" + (f"#{field}" if field else ""))
        self.field = field

    url_options: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def from_url(cls, url: SourceURL, *, max_fallbacks: int = 3) -> FileProvider:
        """``file:///ABSOLUTE/PATH[#field]``.

        Raises:
            ConfigurationError: a relative path, or one with traversal.
        """
        path = _absolute_path(
            url,
            "file path",
            "file:// needs an absolute path, as in file:///run/secrets/django_secret_key",
        )
        return cls(path, field=url.field)

    def rotator(self) -> Rotator:
        """Atomic replacement of the file (``secret_keyring.rotation.local``)."""
        from secret_keyring.rotation.local import FileRotator

        return FileRotator(self)

    @clears_locals
    def fetch(self) -> Keyring:
        """Read and parse the file.

        Raises:
            SecretNotFound: the file does not exist.
            AccessDenied: the file cannot be read by this user.
            InvalidSecret: the content is not a usable key or keyring.
        """
        raw = _read_limited(self.path, self.source)
        payload = parse_payload(raw, source=self.source, field=self.field)
        return payload.to_keyring(version=_content_version(raw), source=self.source)


class DevProvider(BaseProvider):
    """A random keyring for local development, created once and reused across restarts.

    The file is created with mode 0600 inside a folder that ignores itself in git. The deploy
    checks (``manage.py check --deploy``) refuse this source.

    Args:
        path: where to keep the keyring (default ``.secret-keyring/dev-keyring.json`` under the
            working directory).
    """

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path) if path is not None else Path.cwd() / DEFAULT_DEV_PATH
        super().__init__(f"dev://{self.path}" if path is not None else "dev://")

    url_options: ClassVar[frozenset[str]] = frozenset()
    #: A per-machine keyring: every host of a deployment would sign with its own key.
    development_only: ClassVar[bool] = True

    @classmethod
    def from_url(cls, url: SourceURL, *, max_fallbacks: int = 3) -> DevProvider:
        """``dev://`` or ``dev:///ABSOLUTE/PATH``.

        Raises:
            ConfigurationError: a ``#field``, a relative path, or one with traversal.
        """
        if url.field:
            raise ConfigurationError(
                f"source {url.redacted!r}: dev:// takes no '#field'", source=url.redacted
            )
        if not url.location:
            return cls()
        return cls(
            _absolute_path(
                url,
                "dev keyring path",
                "dev:// takes nothing or an absolute path, as in dev:///tmp/myapp-dev-keyring.json",
            )
        )

    def rotator(self) -> Rotator:
        """Rotated like a file; ``init`` creates the keyring (``secret_keyring.rotation.local``)."""
        from secret_keyring.rotation.local import DevRotator

        return DevRotator(self)

    @clears_locals
    def fetch(self) -> Keyring:
        """Read the dev keyring, creating it first if it does not exist.

        Raises:
            SourceError: the file cannot be created or read.
            InvalidSecret: the file was edited into something unusable; delete it.
        """
        self._ensure()
        raw = _read_limited(self.path, self.source)
        try:
            payload = parse_payload(raw, source=self.source)
        except InvalidSecret as exc:
            raise type(exc)(f"{exc} (or delete {self.path} to get a new one)") from exc
        return payload.to_keyring(version=_content_version(raw), source=self.source)

    def _ensure(self) -> None:
        if self.path.exists():
            return
        from secret_keyring.keygen import new_keyring

        folder = self.path.parent
        try:
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            _git_ignore(folder / ".gitignore", self.path.name)
            # Write a private temporary file, then link it into place: the link is atomic and
            # fails if another process won the race, so nobody ever reads a half-written file.
            temp = folder / f".{self.path.name}.{os.getpid()}.tmp"
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(keyring_to_json(new_keyring()) + "\n")
            try:
                os.link(temp, self.path)
            except FileExistsError:
                pass  # another process created it first: use theirs
            finally:
                temp.unlink()
        except OSError as exc:
            raise AccessDenied(
                f"{self.source}: cannot create the dev keyring at {self.path}; make the folder "
                "writable or pass dev:///another/path",
                source=self.source,
            ) from exc
