"""Key material stays out of every channel an operator or an attacker may read: tracebacks shown
with their locals, warnings, the CLI's and the management commands' output, and Django's debug
page. The suite-wide guard (tests/plugins/leakguard.py) checks the first channels everywhere;
these tests show that each check works (it notices a real leak) and drive the channels that need
a process of their own.
"""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
import traceback
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from devservers.moto import REGION, MotoServer
from devservers.site import SITE_DIR
from secret_keyring import CachedKeyring
from secret_keyring.errors import SecretKeyringError, WeakSecretKey
from secret_keyring.keygen import new_keyring
from secret_keyring.keyring import Keyring, fingerprint
from secret_keyring.payload import Payload, keyring_to_json, parse_mapping, parse_payload
from secret_keyring.providers.local import EnvProvider, FileProvider
from tests.plugins import leakguard
from tests.plugins.leakguard import (
    assert_exception_clean,
    assert_no_key_material,
    exception_leak,
    make_key,
    rendered_with_locals,
)

ROOT = Path(__file__).resolve().parents[2]


def bad_keyring_json(good: str) -> str:
    """Keyring JSON whose ``current`` is a real key and whose ``next`` is too short: parsing
    fails after the good key has passed through several frames."""
    return json.dumps({"current": good, "next": "too-short", "previous": []})


@pytest.fixture
def violations() -> Iterator[list[str]]:
    """What the suite-wide guard recorded during the test; emptied afterwards, so a test can
    show that the guard notices a leak without failing because of it."""
    seen = leakguard._violations
    start = len(seen)
    recorded: list[str] = []
    try:
        yield recorded
    finally:
        recorded.extend(seen[start:])
        del seen[start:]


# -- tracebacks with locals -------------------------------------------------------------------


def entry_points(tmp_path: Path, key: str) -> dict[str, Callable[[], object]]:
    """Library entry points, each fed a payload holding ``key`` that then fails to parse."""
    payload = bad_keyring_json(key)
    file = tmp_path / "keyring.json"
    file.write_text(payload)
    os.environ["SKR_LEAK_TEST"] = payload
    return {
        "parse_payload": lambda: parse_payload(payload, source="t://p"),
        "parse_mapping": lambda: parse_mapping(json.loads(payload), source="t://m"),
        # A weak `next` is refused in every keyring (weak history keys are allowed: adoption).
        "Payload.to_keyring": lambda: Payload("keyring", key, "short-next").to_keyring(),
        "FileProvider.fetch": FileProvider(file).fetch,
        "EnvProvider.fetch": EnvProvider("SKR_LEAK_TEST").fetch,
        "CachedKeyring.refresh": CachedKeyring(FileProvider(file)).refresh,
    }


@pytest.mark.parametrize(
    "name",
    [
        "parse_payload",
        "parse_mapping",
        "Payload.to_keyring",
        "FileProvider.fetch",
        "EnvProvider.fetch",
        "CachedKeyring.refresh",
    ],
)
def test_exceptions_leaving_the_library_hold_no_keys_in_their_locals(
    name: str, tmp_path: Path
) -> None:
    key = make_key()
    try:
        with pytest.raises(WeakSecretKey) as caught:
            entry_points(tmp_path, key)[name]()
    finally:
        os.environ.pop("SKR_LEAK_TEST", None)

    assert_exception_clean(caught.value, f"the exception from {name}")
    # What the standard library renders with locals, all frames: the test's own frame holds the
    # payload (as a caller's would); the library's frames show none.
    rendered = "".join(
        traceback.TracebackException.from_exception(caught.value, capture_locals=True).format()
    )
    assert "parse_payload" in rendered or "parse_mapping" in rendered or "to_keyring" in rendered


def test_the_check_notices_keys_in_library_locals(violations: list[str]) -> None:
    # The undecorated parser keeps its frames' locals: the guard's rendering must find the key,
    # and its pytest.raises check must report it.
    key = make_key()
    undecorated = parse_payload.__wrapped__  # type: ignore[attr-defined]

    with pytest.raises(WeakSecretKey) as caught:
        undecorated(bad_keyring_json(key), source="t://p")

    assert key not in str(caught.value)  # the message itself is clean...
    assert key in rendered_with_locals(caught.value)  # ...the frames' locals are not
    assert exception_leak(caught.value) == fingerprint(key)
    assert len(leakguard._violations) == 1
    assert "pytest.raises" in leakguard._violations[0]
    assert fingerprint(key) in leakguard._violations[0]


def test_a_half_built_object_does_not_break_rendering_with_locals() -> None:
    # Python 3.10 and 3.11 call repr() on every local without a safety net: a repr that raises
    # (here: a keyring whose validation failed on a non-string key) would break every renderer.
    with pytest.raises(SecretKeyringError) as caught:
        Keyring(current=12345)  # type: ignore[arg-type]
    with pytest.raises(SecretKeyringError) as caught_cache:
        CachedKeyring(FileProvider("/nonexistent"), ttl=-1)

    texts = [
        "".join(traceback.TracebackException.from_exception(exc, capture_locals=True).format())
        for exc in (caught.value, caught_cache.value)
    ]
    assert "Keyring(current=<invalid>" in texts[0]
    assert "CachedKeyring(" in texts[1]


# -- warnings -----------------------------------------------------------------------------------


def test_warnings_are_checked(violations: list[str]) -> None:
    key = make_key()
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        warnings.warn(f"a careless warning: {key}", UserWarning, stacklevel=1)

    assert any("a warning" in text and fingerprint(key) in text for text in leakguard._violations)


# -- CLI and management commands ----------------------------------------------------------------


def run(
    args: list[str], env: dict[str, str] | None = None, cwd: Path = ROOT
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        cwd=cwd,
        timeout=120,
        check=False,
    )


def test_subprocess_output_is_checked(violations: list[str]) -> None:
    key = make_key()

    run([sys.executable, "-c", f"print({key!r})"])

    assert any("subprocess's stdout" in text for text in leakguard._violations)


def test_cli_output_holds_fingerprints_only(tmp_path: Path) -> None:
    keyring = new_keyring()
    path = tmp_path / "keyring.json"
    path.write_text(keyring_to_json(keyring))
    cli = [sys.executable, "-m", "secret_keyring"]

    status = run([*cli, "status", f"file://{path}"])
    status_json = run([*cli, "status", "--json", f"file://{path}"])
    rotated = run([*cli, "rotate", "--force", f"file://{path}"])
    skipped_json = run([*cli, "rotate", "--json", f"file://{path}"])  # within the interval
    bad = tmp_path / "bad.json"
    bad.write_text(bad_keyring_json(keyring.current))
    failed = run([*cli, "status", f"file://{bad}"])

    for result in (status, status_json, rotated, skipped_json):
        assert result.returncode == 0, result.stderr
        assert_no_key_material(result.stdout + result.stderr, f"`{' '.join(result.args[3:])}`")
    assert fingerprint(keyring.current) in status.stdout
    assert json.loads(status_json.stdout)["fingerprints"]["current"] == fingerprint(keyring.current)
    assert json.loads(skipped_json.stdout)["skipped"] is True
    assert failed.returncode == 1
    assert "WeakSecretKey" in failed.stderr
    assert_no_key_material(failed.stdout + failed.stderr, "the CLI's error output")


def test_management_commands_hold_fingerprints_only(tmp_path: Path) -> None:
    keyring = new_keyring()
    path = tmp_path / "keyring.json"
    path.write_text(keyring_to_json(keyring))
    env = {
        "DJANGO_SECRET_KEY_SOURCE": f"file://{path}",
        "DJANGO_SETTINGS_MODULE": "django_site.settings",
        "EXAMPLE_DB": str(tmp_path / "db.sqlite3"),
        "PYTHONPATH": os.pathsep.join([str(SITE_DIR), str(ROOT)]),
    }
    manage = [sys.executable, str(SITE_DIR / "manage.py")]

    status = run([*manage, "secret_key_status", "--refresh"], env, SITE_DIR)
    status_json = run([*manage, "secret_key_status", "--json"], env, SITE_DIR)
    rotated = run([*manage, "rotate_secret_key", "--force"], env, SITE_DIR)
    path.write_text(bad_keyring_json(keyring.current))
    failed = run([*manage, "secret_key_status", "--refresh"], env, SITE_DIR)

    for result in (status, status_json, rotated, failed):
        assert_no_key_material(result.stdout + result.stderr, f"`manage.py {result.args[2]}`")
    assert status.returncode == 0, status.stderr
    assert rotated.returncode == 0, rotated.stderr
    assert fingerprint(keyring.current) in status.stdout
    assert json.loads(status_json.stdout)["fingerprints"]["next"] == fingerprint(keyring.next)


# -- Django's debug page -------------------------------------------------------------------------

SUBSTITUTE = "********************"


def debug_pages(tmp_path: Path, *, clearing: bool) -> tuple[str, Keyring, str]:
    keyring = Keyring(current=make_key(), next=make_key(), previous=(make_key(),))
    source = tmp_path / "keyring.json"
    source.write_text(keyring_to_json(keyring))
    fresh = make_key()  # only ever in the bad payload: it must not show up anywhere
    bad = tmp_path / "bad.json"
    bad.write_text(bad_keyring_json(fresh))
    out = tmp_path / "pages.html"
    env = {
        **os.environ,
        "DJANGO_SECRET_KEY_SOURCE": f"file://{source}",
        "DJANGO_SETTINGS_MODULE": "tests.reliability.debugsite.settings",
        "EXAMPLE_DB": str(tmp_path / "db.sqlite3"),
        "PYTHONPATH": os.pathsep.join([str(SITE_DIR), str(ROOT)]),
    }
    args = [
        sys.executable,
        str(Path(__file__).parent / "debugsite" / "client.py"),
        "/boom/",
        f"write:{bad}:{source}",
        "/refresh/",
    ]
    if not clearing:
        args.append("--no-clearing")
    # To a file, not a pipe: the negative control's output is meant to hold a key.
    with out.open("w") as handle:
        subprocess.run(
            args,
            stdout=handle,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=ROOT,
            timeout=120,
            check=True,
        )
    return out.read_text("utf-8"), keyring, fresh


def setting_cell(page: str, name: str) -> str:
    found = re.search(rf"<td>{name}</td>\s*<td class=\"code\"><pre>(.*?)</pre>", page, re.S)
    assert found, f"{name} is not on the debug page"
    return found.group(1)


def test_debug_page_shows_no_key(tmp_path: Path) -> None:
    pages, keyring, fresh = debug_pages(tmp_path, clearing=True)

    boom, refresh = pages.split("\n=== /refresh/ ")
    assert "=== /boom/ 500" in boom
    assert "RuntimeError" in boom
    assert refresh.startswith("500")
    assert "WeakSecretKey" in refresh
    for page in (boom, refresh):
        # Django cleanses settings whose names match API|TOKEN|KEY|SECRET|PASS|SIGNATURE:
        # both SECRET_KEY and SECRET_KEY_FALLBACKS (a list) become the substitute string.
        assert SUBSTITUTE in setting_cell(page, "SECRET_KEY")
        assert SUBSTITUTE in setting_cell(page, "SECRET_KEY_FALLBACKS")
        assert_no_key_material(page, "the debug page")
    for key in (keyring.current, keyring.next, *keyring.previous, fresh):
        assert key not in pages


def test_debug_page_without_clearing_would_show_the_new_key(tmp_path: Path) -> None:
    # Negative control: with the library's clearing of locals turned off, Django's debug page
    # shows the frames of the failed refresh with their locals, and the new key with them.
    pages, keyring, fresh = debug_pages(tmp_path, clearing=False)

    _, refresh = pages.split("\n=== /refresh/ ")
    assert fresh in refresh
    assert keyring.current not in pages  # the settings are still cleansed by Django


# -- botocore debug logs ----------------------------------------------------------------------


@pytest.mark.aws
def test_botocore_debug_log_of_a_client_you_pass_in_holds_no_key(
    aws_env: MotoServer, secretsmanager: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """botocore logs whole response bodies at DEBUG. The redaction must cover a client built by
    the user (``client=``), not only the ones the provider builds."""
    import boto3

    from secret_keyring.providers import aws
    from secret_keyring.providers.aws import client as aws_client

    key = make_key()
    secretsmanager.create_secret(Name="leak/debug", SecretString=key)  # a redacting client
    client = boto3.client("secretsmanager", region_name=REGION, endpoint_url=aws_env.endpoint_url)
    # As in a process where the provider has built no client of its own.
    for name in aws_client._BODY_LOGGERS:
        logging.getLogger(name).removeFilter(aws_client._REDACTION)

    provider = aws.AwsSecretsManagerProvider("leak/debug", client=client)
    caplog.clear()
    with caplog.at_level(logging.DEBUG, logger="botocore"):
        assert provider.fetch().current == key
    bodies = [r for r in caplog.records if r.name in aws_client._BODY_LOGGERS]
    assert bodies, "botocore logged no body: the test would prove nothing"
    for record in bodies:
        assert_no_key_material(record.getMessage(), f"the {record.name} DEBUG record")
