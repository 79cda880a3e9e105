"""One range for ``max_fallbacks`` wherever it is accepted, from one validator."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured

from secret_keyring import provider_from_url
from secret_keyring.cli import main
from secret_keyring.errors import ConfigurationError
from secret_keyring.keygen import new_keyring, rotate
from secret_keyring.keyring import MAX_FALLBACKS, MAX_KEYS, check_max_fallbacks
from secret_keyring.providers.aws import AwsSecretsManagerProvider
from secret_keyring.providers.local import FileProvider
from secret_keyring.providers.vault import VaultProvider
from secret_keyring.rotation.run import rotate_source

pytestmark = pytest.mark.usefixtures("vault_addr")


def _secret_keys(value: Any) -> None:
    from secret_keyring.django import secret_keys

    # A source that cannot be reached: only the option's validation is exercised.
    secret_keys("file:///nonexistent/secret-keyring-test", max_fallbacks=value, startup_timeout=0)


ENTRY_POINTS: dict[str, Callable[[Any], object]] = {
    "check_max_fallbacks": check_max_fallbacks,
    "keygen.rotate": lambda value: rotate(new_keyring(), value),
    "rotate_source": lambda value: rotate_source(FileProvider("/nonexistent"), max_fallbacks=value),
    "VaultProvider": lambda value: VaultProvider("secret", "app", max_fallbacks=value),
    "AwsSecretsManagerProvider": lambda value: AwsSecretsManagerProvider(
        "app", region="eu-west-1", max_fallbacks=value
    ),
    "provider_from_url": lambda value: provider_from_url("vault://secret/x", max_fallbacks=value),
    "secret_keys": _secret_keys,
}


def test_the_range_leaves_room_for_current_and_next() -> None:
    assert MAX_FALLBACKS == MAX_KEYS - 2 == 18


@pytest.mark.parametrize("value", [-1, MAX_FALLBACKS + 1, 2.0, True, "3"])
@pytest.mark.parametrize("entry", sorted(ENTRY_POINTS))
def test_out_of_range_is_refused_with_the_same_range_everywhere(entry: str, value: Any) -> None:
    with pytest.raises((ConfigurationError, ImproperlyConfigured)) as raised:
        ENTRY_POINTS[entry](value)
    assert f"from 0 to {MAX_FALLBACKS}" in str(raised.value)


@pytest.mark.parametrize("entry", ["check_max_fallbacks", "keygen.rotate", "VaultProvider"])
def test_the_ends_of_the_range_are_accepted(entry: str) -> None:
    for value in (0, MAX_FALLBACKS):
        ENTRY_POINTS[entry](value)


@pytest.mark.parametrize("command", ["status", "rotate"])
def test_the_command_line_uses_the_same_range(
    command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([command, f"file://{tmp_path}/k", "--max-fallbacks", "19"]) == 1
    assert f"from 0 to {MAX_FALLBACKS}" in capsys.readouterr().err


def test_the_vault_handler_setting_uses_the_same_range(monkeypatch: pytest.MonkeyPatch) -> None:
    from secret_keyring.rotation.vault import lambda_handler

    monkeypatch.setenv("SECRET_KEYRING_SOURCE", "vault://secret/x")
    for value in ("19", "-1", "many"):
        monkeypatch.setenv("SECRET_KEYRING_MAX_FALLBACKS", value)
        with pytest.raises(ConfigurationError, match=f"from 0 to {MAX_FALLBACKS}"):
            lambda_handler({}, None)
