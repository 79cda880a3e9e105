"""The seams of the layout: the scheme registry, rotation by protocol, what the error mappers
record for their callers, and logging that the library leaves to the application."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from secret_keyring.errors import ConfigurationError, RotationError
from secret_keyring.keygen import new_keyring
from secret_keyring.keyring import Keyring
from secret_keyring.rotation import IntervalGuard, RotationReport
from secret_keyring.rotation.run import init_source, rotate_source
from secret_keyring.testing import StaticProvider
from secret_keyring.urls import PROVIDERS, SCHEMES, parse_source_url, provider_class

# -- the registry -----------------------------------------------------------------------------


@pytest.mark.parametrize("scheme", sorted(PROVIDERS))
def test_every_scheme_names_a_class_that_builds_itself_from_a_url(scheme: str) -> None:
    cls = provider_class(scheme)
    assert SCHEMES[scheme] == cls.url_options
    assert callable(cls.from_url)


def test_schemes_are_the_registry() -> None:
    assert list(SCHEMES) == list(PROVIDERS)


def test_the_source_url_reference_documents_every_scheme_option_and_auth_method() -> None:
    """Derived from the registry and the auth-method table: a backend or an option added
    without its docs fails here."""
    from secret_keyring.providers.vault import AUTH_METHODS

    docs = (Path(__file__).resolve().parents[2] / "docs" / "sources.md").read_text("utf-8")
    missing = [f"{scheme}://" for scheme in SCHEMES if f"`{scheme}://" not in docs]
    missing += [
        f"{scheme}:// ?{option}="
        for scheme, options in SCHEMES.items()
        for option in options
        if f"| `{option}` |" not in docs
    ]
    missing += [f"auth={name}" for name in AUTH_METHODS if f"| `{name}` |" not in docs]
    assert not missing


def test_an_option_of_another_scheme_is_refused_by_name() -> None:
    with pytest.raises(ConfigurationError, match="unknown option 'region' for env://"):
        parse_source_url("env://DJANGO_SECRET_KEY?region=eu-west-1")


# -- rotation by protocol ---------------------------------------------------------------------


class _RecordingRotator:
    def __init__(self, provider: _OwnBackend) -> None:
        self.provider = provider

    def rotate(self, *, keep_previous: int, guard: IntervalGuard) -> RotationReport:
        self.provider.calls.append(("rotate", keep_previous, guard.force))
        return RotationReport(self.provider.source, "2", True, "rotated by its own backend", {})

    def init(self, adopt: Keyring | None = None) -> RotationReport:
        self.provider.calls.append(("init", adopt is not None, False))
        return RotationReport(self.provider.source, "1", True, "written by its own backend", {})


class _OwnBackend(StaticProvider):
    """A backend outside the library: rotated through its rotator(), nothing else."""

    def __init__(self) -> None:
        super().__init__(new_keyring(), source="own://backend")
        self.calls: list[tuple[str, Any, Any]] = []

    def rotator(self) -> _RecordingRotator:
        return _RecordingRotator(self)


def test_a_provider_with_a_rotator_is_rotated_without_the_library_knowing_its_type() -> None:
    backend = _OwnBackend()
    assert rotate_source(backend, max_fallbacks=5, force=True).how == "rotated by its own backend"
    assert init_source(backend).how == "written by its own backend"
    assert backend.calls == [("rotate", 5, True), ("init", False, False)]


def test_a_provider_without_a_rotator_is_refused() -> None:
    with pytest.raises(RotationError, match="cannot be rotated by secret-keyring"):
        rotate_source(StaticProvider(new_keyring(), source="static://"))


def test_max_fallbacks_is_checked_before_the_rotator_is_asked() -> None:
    backend = _OwnBackend()
    with pytest.raises(ConfigurationError, match="own://backend: max_fallbacks must be"):
        rotate_source(backend, max_fallbacks=19)
    assert backend.calls == []


# -- logging ----------------------------------------------------------------------------------

_CHECK_LOGGERS = """
import importlib, logging, pkgutil, sys
from pathlib import Path
import secret_keyring
root = Path(secret_keyring.__file__).parent
names = [
    info.name
    for info in pkgutil.walk_packages([str(root)], prefix="secret_keyring.")
    if not info.name.startswith("secret_keyring.django") and not info.name.endswith("__main__")
]
wrong = []
for name in names:
    logger = getattr(importlib.import_module(name), "logger", None)
    if isinstance(logger, logging.Logger) and logger.name != name:
        wrong.append(f"{name}: logger {logger.name}")
levels = {
    name: logger.level
    for name, logger in logging.root.manager.loggerDict.items()
    if name.startswith("secret_keyring") and isinstance(logger, logging.Logger) and logger.level
}
print(wrong, levels)
sys.exit(1 if wrong or levels else 0)
"""


def test_every_logger_is_named_by_its_module_and_importing_sets_no_level() -> None:
    """In a fresh interpreter: other tests here run the Lambda handlers, whose entry point may
    set the package's level, as a process's main() does."""
    done = subprocess.run(
        [sys.executable, "-c", _CHECK_LOGGERS], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
