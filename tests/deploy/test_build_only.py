"""Build-only mode: an image build's ``collectstatic`` starts without the backend, and a process
started that way can never serve a request with its throwaway key."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import request_started
from django.test import Client

from secret_keyring.django import BUILD_ONLY_ENV, build_only, refresh_settings, secret_keys
from secret_keyring.django.apps import _on_request_started
from secret_keyring.keyring import validate_key
from secret_keyring.testing import StaticProvider
from tests.deploy.conftest import REPO, KeyringFile, python_module, site_environ


@pytest.fixture
def build_only_process(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """This test process, as if started with ``SECRET_KEYRING_BUILD_ONLY=1``; undone after."""
    monkeypatch.setenv(BUILD_ONLY_ENV, "1")
    try:
        yield
    finally:
        request_started.disconnect(dispatch_uid="secret_keyring.django.build_only")
        build_only._started = False


@pytest.mark.usefixtures("build_only_process")
def test_no_backend_is_contacted_and_every_request_raises(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    provider = StaticProvider()
    key, fallbacks = secret_keys(provider)
    assert provider.fetches == 0
    assert fallbacks == []
    validate_key(key)  # a strong throwaway: Django's own checks have nothing to say
    assert key not in (provider.keyring.current, secret_keys(provider)[0])  # fresh each time
    # The source is not even read: a build has no DJANGO_SECRET_KEY_SOURCE either.
    monkeypatch.delenv("DJANGO_SECRET_KEY_SOURCE", raising=False)
    secret_keys()

    with pytest.raises(ImproperlyConfigured, match=f"started with {BUILD_ONLY_ENV}=1"):
        Client().get("/whoami/")
    with pytest.raises(ImproperlyConfigured, match="must not serve"):
        refresh_settings()


@pytest.mark.usefixtures("build_only_process")
def test_the_guard_does_not_depend_on_the_app() -> None:
    # secret_keys() connects it itself: a site without the app installed is refused as well.
    uid = "secret_keyring.django.request_started"
    assert request_started.disconnect(dispatch_uid=uid)  # as if the app were not installed
    try:
        secret_keys(StaticProvider())
        with pytest.raises(ImproperlyConfigured, match=f"started with {BUILD_ONLY_ENV}=1"):
            Client().get("/whoami/")
    finally:
        request_started.connect(_on_request_started, dispatch_uid=uid)


@pytest.mark.parametrize("value", ["yes", "true", "2"])
def test_an_unclear_value_is_refused(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv(BUILD_ONLY_ENV, value)
    with pytest.raises(ImproperlyConfigured, match=f"{BUILD_ONLY_ENV} must be 1 .* or 0/unset"):
        secret_keys(StaticProvider())


@pytest.mark.parametrize("value", ["", "0"])
def test_off_reads_the_source(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    from secret_keyring.django import live

    original = live.active()
    monkeypatch.setenv(BUILD_ONLY_ENV, value)
    provider = StaticProvider()
    try:
        assert secret_keys(provider)[0] == provider.keyring.current
    finally:
        live._active = original
    assert provider.fetches == 1


def _manage(tmp_path: Path, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    # The backend does not exist: a build has no network and no credentials.
    unreachable = KeyringFile(tmp_path / "no-such-secret.json")
    return subprocess.run(
        python_module("django", *args),
        env=site_environ(unreachable, SKR_STATIC_ROOT=str(tmp_path / "static"), **extra),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.slow
def test_collectstatic_runs_in_an_image_build_without_the_backend(tmp_path: Path) -> None:
    refused = _manage(tmp_path, "collectstatic", "--noinput")
    assert refused.returncode != 0
    assert "no-such-secret.json" in refused.stderr
    assert "ImproperlyConfigured" in refused.stderr

    built = _manage(tmp_path, "collectstatic", "--noinput", **{BUILD_ONLY_ENV: "1"})
    assert built.returncode == 0, built.stderr
    assert (tmp_path / "static" / "site" / "site.css").is_file()
    assert f"{BUILD_ONLY_ENV}=1: SECRET_KEY is a throwaway key" in built.stderr
