"""Build-only mode: an image build's ``collectstatic`` starts without the backend, and nothing in a
process started that way can sign: not a request, not a Celery task, not a management command,
not a plain script. The build steps (``collectstatic``, ``compilemessages``, ``check``) still run.

Each process test runs a real process of the deployment-shape site, started as production starts
it, and has a positive control: the same process without the variable signs (the Celery worker's
is ``test_celery.py``), so a refusal seen here comes from build-only mode and nothing else.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from collections.abc import Iterator
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core import signing
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import CommandError
from django.core.signals import request_started
from django.test import Client, override_settings

from devservers.processes import Process
from secret_keyring.django import BUILD_ONLY_ENV, audit, build_only, refresh_settings, secret_keys
from secret_keyring.django.apps import _on_request_started
from secret_keyring.testing import StaticProvider
from tests.deploy.conftest import (
    REPO,
    START_TIMEOUT,
    KeyringFile,
    celery_worker_command,
    python_module,
    signed_with,
    site_environ,
)

#: What a process that tries to sign in build-only mode must be told: the variable and the fix.
REFUSED = f"SECRET_KEY is empty: this process was started with {BUILD_ONLY_ENV}=1"
FIX = f"RUN {BUILD_ONLY_ENV}=1 python manage.py collectstatic"


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
def test_no_backend_is_contacted_and_nothing_can_sign(monkeypatch: pytest.MonkeyPatch) -> None:
    provider = StaticProvider()
    key, fallbacks = secret_keys(provider)
    assert provider.fetches == 0
    assert (key, fallbacks) == ("", [])
    assert build_only.is_build_only_key(key)
    # The source is not even read: a build has no DJANGO_SECRET_KEY_SOURCE either.
    monkeypatch.delenv("DJANGO_SECRET_KEY_SOURCE", raising=False)
    secret_keys()

    with override_settings(SECRET_KEY=key, SECRET_KEY_FALLBACKS=fallbacks):
        # Django refuses to read an empty SECRET_KEY; the refusal names the variable and the fix.
        with pytest.raises(ImproperlyConfigured, match=REFUSED) as refused:
            signing.dumps("a link to mail")
        assert FIX in str(refused.value)
        with pytest.raises(ImproperlyConfigured, match=REFUSED):
            Client().get("/whoami/")
    with pytest.raises(ImproperlyConfigured, match=REFUSED):
        refresh_settings()


@pytest.mark.usefixtures("build_only_process")
def test_the_checks_and_the_audit_cope_with_build_only_mode(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No crash, no W001 ("not from secret_keys()"), W005 under --deploy, and a copy of the
    empty key in a setting is still found (it is a copy of the real key in production)."""
    from django.core.checks import run_checks

    key, fallbacks = secret_keys(StaticProvider())
    # Which packages count as in use depends on what other tests imported: none here.
    monkeypatch.setattr(audit, "in_use", lambda user, strings: False)
    with override_settings(SECRET_KEY=key, SECRET_KEY_FALLBACKS=fallbacks, MY_API={"KEY": key}):
        plain = [m.id for m in run_checks(tags=["security"])]
        deploy = [m.id for m in run_checks(tags=["security"], include_deployment_checks=True)]
        copies = audit.audit()
    assert "secret_keyring.W001" not in plain
    assert "secret_keyring.W005" not in plain
    assert "secret_keyring.W005" in deploy
    assert [f.check_id for f in copies] == [audit.COPY_ID]
    assert copies[0].message.startswith('settings.MY_API["KEY"] holds a copy of SECRET_KEY ')

    # A known package's own-key setting that copies the empty key: the finding, not a crash.
    if importlib.util.find_spec("mirage") is None:  # not imported: imported counts as in use
        pytest.skip("django-mirage-field is not installed")
    monkeypatch.setattr(audit, "in_use", lambda user, strings: user.modules == ("mirage",))
    with override_settings(SECRET_KEY=key, MIRAGE_SECRET_KEY=key):
        found = audit.audit()
    assert [f.check_id for f in found] == [audit.ENCRYPTION_ID]
    assert "MIRAGE_SECRET_KEY holds the value of SECRET_KEY" in found[0].message


@pytest.mark.usefixtures("build_only_process")
def test_secret_key_status_says_build_only_mode() -> None:
    secret_keys(StaticProvider())
    with pytest.raises(CommandError, match=f"started with {BUILD_ONLY_ENV}=1: no keyring was"):
        call_command("secret_key_status", stdout=StringIO())


@pytest.mark.usefixtures("build_only_process")
def test_the_guard_does_not_depend_on_the_app() -> None:
    # secret_keys() connects it itself: a site without the app installed is refused as well.
    uid = "secret_keyring.django.request_started"
    assert request_started.disconnect(dispatch_uid=uid)  # as if the app were not installed
    try:
        secret_keys(StaticProvider())
        with pytest.raises(ImproperlyConfigured, match=REFUSED):
            Client().get("/whoami/")
    finally:
        request_started.connect(_on_request_started, dispatch_uid=uid)


@pytest.mark.parametrize("value", ["yes", "true", "2"])
def test_an_unclear_value_is_refused(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv(BUILD_ONLY_ENV, value)
    with pytest.raises(ImproperlyConfigured, match=f"{BUILD_ONLY_ENV} must be 1 .* or 0/unset"):
        secret_keys(StaticProvider())


@pytest.mark.parametrize("value", ["", "0"])
def test_off_reads_the_source(monkeypatch: pytest.MonkeyPatch, keep_live: None, value: str) -> None:
    monkeypatch.setenv(BUILD_ONLY_ENV, value)
    provider = StaticProvider()
    assert secret_keys(provider)[0] == provider.keyring.current
    assert provider.fetches == 1


def _run(
    tmp_path: Path, args: list[str], *, cwd: Path = REPO, **extra: str
) -> subprocess.CompletedProcess[str]:
    """A process of the deployment-shape site, whose source does not exist unless ``extra``
    names one in ``DJANGO_SECRET_KEY_SOURCE``: a build has no network and no credentials."""
    source = KeyringFile(tmp_path / "no-such-secret.json")
    return subprocess.run(
        args,
        env=site_environ(source, SKR_STATIC_ROOT=str(tmp_path / "static"), **extra),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _manage(tmp_path: Path, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    return _run(tmp_path, python_module("django", *args), **extra)


def _refused(done: subprocess.CompletedProcess[str]) -> None:
    """The process failed to sign, and what it printed names the variable and the fix."""
    assert done.returncode != 0, done.stdout
    assert "ImproperlyConfigured" in done.stderr, done.stderr
    assert REFUSED in done.stderr, done.stderr
    assert FIX in done.stderr
    assert '"signed"' not in done.stdout


@pytest.mark.slow
def test_collectstatic_runs_in_an_image_build_without_the_backend(tmp_path: Path) -> None:
    refused = _manage(tmp_path, "collectstatic", "--noinput")
    assert refused.returncode != 0
    assert "no-such-secret.json" in refused.stderr
    assert "ImproperlyConfigured" in refused.stderr

    built = _manage(tmp_path, "collectstatic", "--noinput", **{BUILD_ONLY_ENV: "1"})
    assert built.returncode == 0, built.stderr
    assert (tmp_path / "static" / "site" / "site.css").is_file()
    assert f"{BUILD_ONLY_ENV}=1: SECRET_KEY is empty and no backend was contacted" in built.stderr


@pytest.mark.slow
def test_compilemessages_and_check_run_in_build_only_mode(tmp_path: Path) -> None:
    # compilemessages compiles every catalog under its working directory: give it one of its own.
    project = tmp_path / "project"
    catalog = project / "locale" / "nl" / "LC_MESSAGES"
    catalog.mkdir(parents=True)
    (catalog / "django.po").write_text(
        'msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=UTF-8\\n"\n\n'
        'msgid "signed"\nmsgstr "ondertekend"\n'
    )
    built = _run(
        tmp_path, python_module("django", "compilemessages"), cwd=project, **{BUILD_ONLY_ENV: "1"}
    )
    assert built.returncode == 0, built.stderr
    assert (catalog / "django.mo").is_file()

    checked = _manage(tmp_path, "check", **{BUILD_ONLY_ENV: "1"})
    assert checked.returncode == 0, checked.stderr
    assert "System check identified no issues" in checked.stdout, checked.stdout + checked.stderr

    deploy = _manage(tmp_path, "check", "--deploy", **{BUILD_ONLY_ENV: "1"})
    assert deploy.returncode == 0, deploy.stderr
    assert "Traceback" not in deploy.stderr
    # It says why it cannot vouch for the keys, instead of passing or only repeating W009.
    assert "(secret_keyring.W005)" in deploy.stderr
    assert "secret_keyring.W001" not in deploy.stderr


@pytest.mark.slow
def test_a_management_command_cannot_sign(tmp_path: Path, keyring_file: KeyringFile) -> None:
    command = python_module("django", "sign_token", "a link to mail")
    # Positive control: the same command, started normally, signs with the keyring's key.
    done = _run(tmp_path, command, DJANGO_SECRET_KEY_SOURCE=keyring_file.url)
    assert done.returncode == 0, done.stderr
    assert signed_with(keyring_file.stored(), json.loads(done.stdout))

    _refused(_run(tmp_path, command, **{BUILD_ONLY_ENV: "1"}))


SCRIPT = """
import django
django.setup()
from django.core import signing
print('{"signed": "%s"}' % signing.dumps("a link to mail"))
"""


@pytest.mark.slow
def test_a_plain_script_cannot_sign(tmp_path: Path, keyring_file: KeyringFile) -> None:
    script = [sys.executable, "-c", SCRIPT]
    done = _run(tmp_path, script, DJANGO_SECRET_KEY_SOURCE=keyring_file.url)
    assert done.returncode == 0, done.stderr
    assert signing.loads(
        json.loads(done.stdout)["signed"], key=keyring_file.stored().current, fallback_keys=[]
    )

    _refused(_run(tmp_path, script, **{BUILD_ONLY_ENV: "1"}))


@pytest.mark.slow
def test_a_celery_task_cannot_sign(tmp_path: Path) -> None:
    """A real prefork worker of the site in build-only mode: the task that signs fails, with
    the fix in its error. Celery logs a failing ``task_prerun`` receiver and runs the task
    anyway, so only the key itself can refuse. The same worker and task sign when started
    normally: ``tests/deploy/test_celery.py``."""
    pytest.importorskip("celery")
    from tests.deploy.site.celery_config import make_app

    folder = tmp_path / "celery"
    producer = make_app(folder)
    unreachable = KeyringFile(tmp_path / "no-such-secret.json")
    worker = Process(
        celery_worker_command(),
        tmp_path / "worker.log",
        site_environ(unreachable, SKR_CELERY_DIR=str(folder), **{BUILD_ONLY_ENV: "1"}),
        REPO,
    )
    try:
        # Readiness: the first task's answer (the worker starts consuming when it is up).
        result: Any = producer.send_task("deploy.sign", args=["a link to mail"])
        with pytest.raises(ImproperlyConfigured, match=REFUSED) as refused:
            result.get(timeout=START_TIMEOUT, interval=0.02)
        assert FIX in str(refused.value)
        assert result.failed()
    finally:
        # As in test_celery.py: the worker holds nothing worth a graceful stop.
        worker.stop(timeout=1.0)
        producer.close()
    assert FIX in worker.tail(20000)
