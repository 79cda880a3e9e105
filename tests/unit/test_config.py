"""The cache's defaults and the "number of seconds" check have one owner,
``secret_keyring._config``: every entry point takes its defaults from there and accepts and
refuses the same values."""

from __future__ import annotations

import ast
import inspect
import math
from pathlib import Path

import pytest

from secret_keyring import _config
from secret_keyring.cache import CachedKeyring
from secret_keyring.django import secret_keys
from secret_keyring.errors import ConfigurationError
from secret_keyring.providers.aws import AwsSecretsManagerProvider
from secret_keyring.providers.vault import VaultProvider
from secret_keyring.rotation import IntervalGuard
from secret_keyring.testing import StaticProvider

SRC = Path(__file__).resolve().parents[2] / "src" / "secret_keyring"
OWNER = SRC / "_config.py"
#: Options whose default is the cache's: each is written once, in ``_config``.
CACHE_OPTIONS = {
    "ttl": _config.DEFAULT_TTL,
    "jitter": _config.DEFAULT_JITTER,
    "max_stale": _config.DEFAULT_MAX_STALE,
}
VAULT_ENV = {"VAULT_ADDR": "http://127.0.0.1:1", "VAULT_TOKEN": "test-token"}


def _modules() -> list[tuple[Path, ast.Module]]:
    return [(path, ast.parse(path.read_text(), str(path))) for path in sorted(SRC.rglob("*.py"))]


def _defaults(function: ast.FunctionDef | ast.AsyncFunctionDef) -> dict[str, ast.expr]:
    arguments = function.args
    positional = [*arguments.posonlyargs, *arguments.args]
    found = dict(
        zip(
            [a.arg for a in positional[len(positional) - len(arguments.defaults) :]],
            arguments.defaults,
            strict=True,
        )
    )
    for argument, default in zip(arguments.kwonlyargs, arguments.kw_defaults, strict=True):
        if default is not None:
            found[argument.arg] = default
    return found


def test_no_module_writes_a_cache_default_of_its_own() -> None:
    """A function taking ``ttl``, ``jitter``, ``max_stale`` or ``startup_timeout`` names the
    default ``_config`` owns instead of repeating its number (which drifts when one changes)."""
    written = [
        f"{path.relative_to(SRC)}:{function.lineno} {function.name}({name}={default.value!r})"
        for path, tree in _modules()
        for function in ast.walk(tree)
        if isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef))
        for name, default in _defaults(function).items()
        if name in {*CACHE_OPTIONS, "startup_timeout", "timeout"}
        and isinstance(default, ast.Constant)
        and isinstance(default.value, (int, float))
        and not isinstance(default.value, bool)
    ]
    assert written == []


def _checks_a_number_itself(node: ast.AST) -> bool:
    """``isinstance(x, bool)`` and ``isinstance(x, (int, float))`` in one condition: the hand
    written "number of seconds" check that ``_config.is_seconds`` replaces."""
    calls = [
        call
        for call in ast.walk(node)
        if isinstance(call, ast.Call)
        and isinstance(call.func, ast.Name)
        and call.func.id == "isinstance"
        and len(call.args) == 2
    ]
    kinds = {ast.unparse(call.args[1]) for call in calls}
    return "bool" in kinds and "(int, float)" in kinds


def test_only_the_config_module_checks_a_number_of_seconds() -> None:
    """Every "is this a number of seconds" test goes through ``_config.is_seconds``: a hand
    written one (``isinstance`` against ``bool`` and ``(int, float)``, or ``math.isnan`` /
    ``math.isfinite``) elsewhere is a second definition that drifts."""
    found = [
        f"{path.relative_to(SRC)}:{node.lineno}"
        for path, tree in _modules()
        if path != OWNER
        for node in ast.walk(tree)
        if (isinstance(node, ast.If) and _checks_a_number_itself(node.test))
        or (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == "math"
            and node.func.attr in ("isnan", "isfinite")
        )
    ]
    assert found == []


@pytest.mark.parametrize("name", sorted(CACHE_OPTIONS))
def test_the_settings_helper_and_the_cache_share_each_default(name: str) -> None:
    expected = CACHE_OPTIONS[name]
    assert inspect.signature(secret_keys).parameters[name].default == expected
    assert inspect.signature(CachedKeyring).parameters[name].default == expected
    cache = CachedKeyring(StaticProvider())
    assert getattr(cache, name) == expected


def test_the_start_up_timeout_default_is_shared() -> None:
    expected = _config.DEFAULT_STARTUP_TIMEOUT
    assert inspect.signature(secret_keys).parameters["startup_timeout"].default == expected
    assert inspect.signature(CachedKeyring.prime).parameters["timeout"].default == expected


@pytest.mark.parametrize(
    ("value", "accepted"),
    [
        (1, True),
        (0.5, True),
        (0, False),  # the lower bound is excluded below
        (True, False),  # an int to Python, never a duration
        ("5", False),
        (None, False),
        (math.nan, False),
        (math.inf, False),  # above the maximum below
        (300, True),
        (300.5, False),
    ],
)
def test_is_seconds(value: object, *, accepted: bool) -> None:
    assert _config.is_seconds(value, minimum=0.0, exclusive=True, maximum=300.0) is accepted


def test_is_seconds_finite_refuses_infinity_only_when_asked() -> None:
    assert _config.is_seconds(math.inf)
    assert not _config.is_seconds(math.inf, finite=True)
    assert not _config.is_seconds(-math.inf)


#: A value that is not a number of seconds, as a settings file may pass it (read from the
#: environment without ``float()``, or a flag by mistake).
NOT_SECONDS = pytest.mark.parametrize("value", ["5", True, math.nan, None], ids=repr)


@NOT_SECONDS
def test_the_cache_refuses_what_is_not_a_number_of_seconds(value: object) -> None:
    with pytest.raises(ConfigurationError, match="ttl must be a number of seconds"):
        CachedKeyring(StaticProvider(), ttl=value)  # type: ignore[arg-type]


@NOT_SECONDS
def test_the_rotation_interval_refuses_what_is_not_a_number_of_seconds(value: object) -> None:
    with pytest.raises(ConfigurationError, match="min_interval must be a number of seconds"):
        IntervalGuard(min_interval=value)  # type: ignore[arg-type]


@NOT_SECONDS
def test_aws_timeouts_refuse_what_is_not_a_number_of_seconds(value: object) -> None:
    pytest.importorskip("boto3")
    with pytest.raises(ConfigurationError, match="read_timeout must be a number of seconds"):
        AwsSecretsManagerProvider("prod/myapp", read_timeout=value)  # type: ignore[arg-type]


@NOT_SECONDS
def test_aws_pending_max_age_refuses_what_is_not_a_number_of_seconds(value: object) -> None:
    pytest.importorskip("boto3")
    with pytest.raises(ConfigurationError, match="pending_max_age must be a number of seconds"):
        AwsSecretsManagerProvider("prod/myapp", pending_max_age=value)  # type: ignore[arg-type]


@pytest.mark.parametrize("value", ["5", True, math.nan, [5]], ids=repr)
def test_the_vault_timeout_refuses_what_is_not_a_number_of_seconds(value: object) -> None:
    """``timeout="5"`` (a value read from the environment and passed on as text) used to escape
    as a ``TypeError`` from comparing it with 0, naming neither the option nor the fix."""
    pytest.importorskip("hvac")
    with pytest.raises(ConfigurationError, match="timeout must be between 0 and 300 seconds"):
        VaultProvider("secret", "myapp", timeout=value, environ=VAULT_ENV)  # type: ignore[arg-type]


def test_both_backends_cap_a_request_timeout_at_the_same_bound() -> None:
    pytest.importorskip("boto3")
    pytest.importorskip("hvac")
    bound = _config.MAX_REQUEST_TIMEOUT
    assert VaultProvider("secret", "myapp", timeout=bound, environ=VAULT_ENV).settings.timeout == (
        bound
    )
    AwsSecretsManagerProvider("prod/myapp", connect_timeout=bound, read_timeout=bound)
    with pytest.raises(ConfigurationError, match="timeout must be between 0 and 300 seconds"):
        VaultProvider("secret", "myapp", timeout=bound + 1, environ=VAULT_ENV)
    with pytest.raises(ConfigurationError, match=r"read_timeout must be a number of seconds in"):
        AwsSecretsManagerProvider("prod/myapp", read_timeout=bound + 1)
