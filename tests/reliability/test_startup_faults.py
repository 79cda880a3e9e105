"""Start-up faults: ``secret_keys(..., startup_timeout=T)`` against a backend that is down,
unnamed, untrusted, slow, hung, sealed or refuses our credentials.

The contract: retryable faults are retried with backoff until ``T`` runs out, then
``ImproperlyConfigured`` names the source and the cause; other faults fail at once; and nothing
ever holds start-up much past ``T``. ``HANG_BOUND`` is that "much": a generous ceiling for a
loaded CI machine, a bound on hanging rather than a performance figure. Elapsed time is measured
with the monotonic clock.
"""

from __future__ import annotations

import logging
import os
import re
import socket
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured

from devservers.moto import REGION, MotoServer
from devservers.openbao import BaoServer
from secret_keyring.django import secret_keys
from secret_keyring.errors import AccessDenied, SourceError, SourceUnavailable
from secret_keyring.keygen import new_keyring
from secret_keyring.payload import keyring_to_json
from tests.plugins.leakguard import assert_no_key_material
from tests.plugins.openbao import RecordingServer
from tests.reliability.conftest import record
from tests.reliability.proxy import FaultProxy
from tests.reliability.test_runtime_outage import json_data

STARTUP = 1.5
HANG_BOUND = STARTUP + 2.5

pytestmark = pytest.mark.usefixtures("keep_live")


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def timed_start(source: str, **options: Any) -> tuple[float, ImproperlyConfigured]:
    started = time.monotonic()
    with pytest.raises(ImproperlyConfigured) as caught:
        secret_keys(source, **options)
    elapsed = time.monotonic() - started
    assert elapsed < HANG_BOUND, f"start-up hung for {elapsed:.2f}s (startup_timeout={STARTUP})"
    assert_no_key_material(str(caught.value), "the ImproperlyConfigured message")
    return elapsed, caught.value


def retry_delays(caplog: pytest.LogCaptureFixture) -> list[float]:
    return [
        float(match.group(1))
        for record_ in caplog.records
        if (match := re.search(r"retrying in ([\d.]+)s", record_.getMessage()))
    ]


def assert_retried_until_the_deadline(
    elapsed: float, caplog: pytest.LogCaptureFixture, name: str, *, min_retries: int = 2
) -> None:
    delays = retry_delays(caplog)
    assert len(delays) >= min_retries, f"a retryable fault must be retried: {delays}"
    growing = delays[:-1]  # the last one is cut short by the deadline
    assert growing == sorted(growing), f"backoff must not shrink: {delays}"
    # The last attempt starts with a reserve of its own before the deadline (a quarter of the
    # timeout, at most a second), so a refused connection is reported as such, not cut off.
    last_attempt_reserve = min(1.0, STARTUP / 4)
    assert elapsed >= STARTUP - last_attempt_reserve - 0.05, "gave up before startup_timeout"
    record(f"startup {name}", f"gave up after {elapsed:.2f}s (startup_timeout={STARTUP}s)")


@pytest.fixture
def vault_secret(openbao: BaoServer, vault_env: pytest.MonkeyPatch) -> str:
    """A keyring at a fresh path; VAULT_TOKEN is the root token. Returns the KV path."""
    path = openbao.new_path()
    keyring = new_keyring()
    openbao.write(path, {"current": keyring.current, "next": keyring.next})
    vault_env.setenv("VAULT_TOKEN", openbao.root_token)
    return path


@pytest.fixture
def aws_secret(secretsmanager: Any, aws_env: MotoServer) -> str:
    name = f"test/{uuid.uuid4().hex[:12]}/django"
    secretsmanager.create_secret(Name=name, SecretString=keyring_to_json(new_keyring()))
    return name


def aws_url(name: str, endpoint: str) -> str:
    return f"aws-secretsmanager://{name}?region={REGION}&endpoint_url={endpoint}"


# -- retryable: down, unnamed, sealed ----------------------------------------------------------


def test_vault_closed_port_is_retried_until_the_timeout(
    vault_env: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    vault_env.setenv("VAULT_TOKEN", "t")
    addr = f"http://127.0.0.1:{closed_port()}"

    with caplog.at_level(logging.WARNING, "secret_keyring"):
        elapsed, error = timed_start(
            f"vault://secret/app/django?addr={addr}", startup_timeout=STARTUP
        )

    message = str(error)
    assert "vault://secret/app/django" in message
    assert "cannot connect" in message
    assert addr in message
    assert isinstance(error.__cause__, SourceUnavailable)
    assert_retried_until_the_deadline(elapsed, caplog, "vault closed port")


def test_a_failed_start_up_is_remembered_not_waited_for_twice(
    vault_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """``manage.py`` reads settings a second time after the first import raised (its command
    parser reports the first ``ImproperlyConfigured``, then loads the settings again), so every
    command against an unreachable backend waited two start-up timeouts (measured: 60.3 s for
    ``manage.py check`` at the default 30 s). The second import must fail at once, with the same
    cause. Real ``manage.py check`` in a subprocess; the settings module counts its imports."""
    imports = tmp_path / "imports"
    (tmp_path / "skr_unreachable_settings.py").write_text(
        textwrap.dedent(
            f"""
            from pathlib import Path

            from secret_keyring.django import secret_keys

            with Path({str(imports)!r}).open("a") as log:
                log.write("imported\\n")
            SECRET_KEY, SECRET_KEY_FALLBACKS = secret_keys(
                "vault://secret/app?addr=http://127.0.0.1:{closed_port()}",
                startup_timeout={STARTUP},
            )
            INSTALLED_APPS = ["secret_keyring.django"]
            """
        )
    )
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "VAULT_TOKEN": "t", "PYTHONPATH": f"{tmp_path}{os.pathsep}{root}"}
    done = subprocess.run(
        [sys.executable, "-m", "django", "check", "--settings=skr_unreachable_settings"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        check=False,
        timeout=60,
    )
    assert done.returncode != 0
    assert imports.read_text().splitlines() == ["imported", "imported"]  # Django's two imports
    # One round of start-up retries, from the first import; the second gave up at once.
    assert done.stderr.count("start-up fetch from vault://secret/app") >= 1
    assert "does not wait again" in done.stderr
    assert "cannot connect" in done.stderr.rsplit("does not wait again", 1)[0]
    assert_no_key_material(done.stdout + done.stderr, "manage.py check output")


def test_aws_closed_port_is_retried_until_the_timeout(
    aws_env: MotoServer, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # One attempt per call: boto3's own retries (with their random backoff) would make the
    # number of attempts inside the budget a matter of luck.
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    endpoint = f"http://127.0.0.1:{closed_port()}"

    with caplog.at_level(logging.WARNING, "secret_keyring"):
        elapsed, error = timed_start(aws_url("prod/app", endpoint), startup_timeout=STARTUP)

    assert "aws-secretsmanager://prod/app" in str(error)
    assert "cannot reach Secrets Manager" in str(error)
    assert_retried_until_the_deadline(elapsed, caplog, "aws closed port")


# Resolvers answer names under .invalid (RFC 6761) with NXDOMAIN at once. Where the machine's
# resolver is unreachable instead, the lookup hangs: the bound still holds (see the hung-resolver
# test below), but the error is then the start-up timeout and there may be no retry.
DNS_CAUSES = ("unknown host", "cannot reach", "within the start-up timeout")


def test_vault_unknown_host_is_retried_until_the_timeout(
    vault_env: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    vault_env.setenv("VAULT_TOKEN", "t")

    with caplog.at_level(logging.WARNING, "secret_keyring"):
        elapsed, error = timed_start(
            "vault://secret/app/django?addr=http://vault.example.invalid:8200",
            startup_timeout=STARTUP,
        )

    assert "vault://secret/app/django" in str(error)
    assert any(cause in str(error) for cause in DNS_CAUSES), str(error)
    assert_retried_until_the_deadline(elapsed, caplog, "vault DNS failure", min_retries=0)


def test_aws_unknown_host_is_retried_until_the_timeout(
    aws_env: MotoServer, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    with caplog.at_level(logging.WARNING, "secret_keyring"):
        elapsed, error = timed_start(
            aws_url("prod/app", "http://secretsmanager.example.invalid"), startup_timeout=STARTUP
        )

    assert "aws-secretsmanager://prod/app" in str(error)
    assert any(cause in str(error) for cause in DNS_CAUSES), str(error)
    assert_retried_until_the_deadline(elapsed, caplog, "aws DNS failure", min_retries=0)


@pytest.fixture
def hung_resolver(monkeypatch: pytest.MonkeyPatch) -> Iterator[threading.Event]:
    """Name lookups of ``*.hang.invalid`` block until the test ends, as a dead resolver does
    (socket timeouts do not cover ``getaddrinfo``)."""
    release = threading.Event()
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(host, str) and host.endswith(".hang.invalid"):
            release.wait(timeout=60)
            raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    try:
        yield release
    finally:
        release.set()


def test_a_hung_name_lookup_cannot_hold_start_up(
    vault_env: pytest.MonkeyPatch, hung_resolver: threading.Event
) -> None:
    vault_env.setenv("VAULT_TOKEN", "t")

    elapsed, error = timed_start(
        "vault://secret/app/django?addr=http://vault.hang.invalid:8200", startup_timeout=STARTUP
    )

    assert "vault://secret/app/django" in str(error)
    assert f"within the start-up timeout ({STARTUP:g}s)" in str(error)
    assert elapsed >= STARTUP - 0.05
    record("startup hung DNS", f"gave up after {elapsed:.2f}s (startup_timeout={STARTUP}s)")


def test_sealed_vault_is_retried_until_the_timeout(
    openbao_private: BaoServer, vault_env: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    server = openbao_private
    path = server.new_path()
    server.write(path, {"current": new_keyring().current})
    server.seal()
    vault_env.setenv("VAULT_TOKEN", server.root_token)

    with caplog.at_level(logging.WARNING, "secret_keyring"):
        elapsed, error = timed_start(
            f"vault://secret/{path}?addr={server.addr}", startup_timeout=STARTUP
        )

    assert "is sealed" in str(error)
    assert f"vault://secret/{path}" in str(error)
    assert_retried_until_the_deadline(elapsed, caplog, "vault sealed")


def test_vault_unsealed_during_start_up_is_used(
    openbao_private: BaoServer, vault_env: pytest.MonkeyPatch
) -> None:
    server = openbao_private
    path = server.new_path()
    keyring = new_keyring()
    server.write(path, {"current": keyring.current, "next": keyring.next})
    unseal_key = server.unseal_key
    server.seal()
    vault_env.setenv("VAULT_TOKEN", server.root_token)
    first_retry = threading.Event()

    class Signal(logging.Handler):
        def emit(self, record_: logging.LogRecord) -> None:
            if "retrying in" in record_.getMessage():
                first_retry.set()

    def unseal_after_the_first_failure() -> None:
        if first_retry.wait(timeout=20):
            server.client().sys.submit_unseal_key(unseal_key)

    handler = Signal()
    logger = logging.getLogger("secret_keyring")
    logger.addHandler(handler)
    helper = threading.Thread(target=unseal_after_the_first_failure, daemon=True)
    helper.start()
    try:
        started = time.monotonic()
        current, fallbacks = secret_keys(
            f"vault://secret/{path}?addr={server.addr}", startup_timeout=20
        )
        elapsed = time.monotonic() - started
    finally:
        logger.removeHandler(handler)
        first_retry.set()
        helper.join(timeout=20)

    assert first_retry.is_set()
    assert (current, fallbacks) == (keyring.current, [keyring.next])
    assert elapsed < 20


# -- not retryable: TLS, credentials -------------------------------------------------------------


def test_tls_without_the_ca_fails_at_once(
    openbao_tls: BaoServer, vault_env: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    path = openbao_tls.new_path()
    openbao_tls.write(path, {"current": new_keyring().current})
    vault_env.setenv("VAULT_TOKEN", openbao_tls.root_token)

    with caplog.at_level(logging.WARNING, "secret_keyring"):
        elapsed, error = timed_start(
            f"vault://secret/{path}?addr={openbao_tls.addr}", startup_timeout=STARTUP
        )

    message = str(error)
    assert "TLS" in message
    assert "VAULT_CACERT" in message
    assert isinstance(error.__cause__, SourceError)
    assert not isinstance(error.__cause__, SourceUnavailable)
    assert retry_delays(caplog) == []  # a missing CA does not fix itself
    assert elapsed < STARTUP
    record("startup TLS failure", f"failed after {elapsed:.2f}s without retrying")


def test_vault_wrong_token_fails_at_once(
    openbao: BaoServer, vault_secret: str, vault_env: pytest.MonkeyPatch
) -> None:
    wrong = uuid.uuid4().hex
    vault_env.setenv("VAULT_TOKEN", wrong)

    elapsed, error = timed_start(
        f"vault://secret/{vault_secret}?addr={openbao.addr}", startup_timeout=STARTUP
    )

    assert isinstance(error.__cause__, AccessDenied)
    assert "permission denied" in str(error)
    assert wrong not in str(error)
    assert elapsed < STARTUP


def test_aws_wrong_credentials_fail_at_once(aws_env: MotoServer, aws_secret: str) -> None:
    with aws_env.enforce_iam():
        elapsed, error = timed_start(
            aws_url(aws_secret, aws_env.endpoint_url), startup_timeout=STARTUP
        )

    assert isinstance(error.__cause__, AccessDenied)
    assert "does not recognise the access key" in str(error)
    assert elapsed < STARTUP


# -- slow and hung backends ------------------------------------------------------------------------


def test_a_slow_vault_that_answers_is_waited_for(
    openbao: BaoServer,
    vault_secret: str,
    make_proxy: Callable[..., FaultProxy],
) -> None:
    proxy = make_proxy(openbao.port, mode="delay", delay_seconds=0.3)

    started = time.monotonic()
    current, _ = secret_keys(
        f"vault://secret/{vault_secret}?addr={proxy.url}", startup_timeout=STARTUP * 4
    )
    elapsed = time.monotonic() - started

    assert len(current) >= 50
    assert elapsed >= 0.3  # the answer really was late
    record("startup slow vault (0.3s per answer)", f"succeeded after {elapsed:.2f}s")


def test_a_hung_vault_cannot_hold_start_up_past_the_timeout(
    openbao: BaoServer, vault_secret: str, make_proxy: Callable[..., FaultProxy]
) -> None:
    # The default per-request timeout (5 s) is longer than the whole start-up budget.
    proxy = make_proxy(openbao.port, mode="stall")

    elapsed, error = timed_start(
        f"vault://secret/{vault_secret}?addr={proxy.url}", startup_timeout=STARTUP
    )

    assert f"vault://secret/{vault_secret}" in str(error)
    assert f"within the start-up timeout ({STARTUP:g}s)" in str(error)
    assert proxy.accepted >= 1  # it connected; the answer never came
    assert elapsed >= STARTUP - 0.05
    record("startup hung vault", f"gave up after {elapsed:.2f}s (startup_timeout={STARTUP}s)")


def test_a_hung_secrets_manager_cannot_hold_start_up_past_the_timeout(
    aws_env: MotoServer, aws_secret: str, make_proxy: Callable[..., FaultProxy]
) -> None:
    # Default read timeout 5 s, three attempts: one call alone could take 15 s.
    proxy = make_proxy(aws_env.port, mode="stall")

    elapsed, error = timed_start(aws_url(aws_secret, proxy.url), startup_timeout=STARTUP)

    assert f"aws-secretsmanager://{aws_secret}" in str(error)
    assert f"within the start-up timeout ({STARTUP:g}s)" in str(error)
    record("startup hung aws", f"gave up after {elapsed:.2f}s (startup_timeout={STARTUP}s)")


def test_a_backend_that_recovers_within_the_timeout_is_used(
    openbao: BaoServer, vault_secret: str, make_proxy: Callable[..., FaultProxy]
) -> None:
    proxy = make_proxy(openbao.port, mode="reset")
    first_attempt = threading.Event()

    def restore_after_the_first_refused_connection() -> None:
        deadline = time.monotonic() + 20
        while proxy.accepted == 0 and time.monotonic() < deadline:
            first_attempt.wait(0.01)  # bounded poll of a counter in another thread
        proxy.restore()

    helper = threading.Thread(target=restore_after_the_first_refused_connection, daemon=True)
    helper.start()
    current, _ = secret_keys(f"vault://secret/{vault_secret}?addr={proxy.url}", startup_timeout=20)
    helper.join(timeout=20)

    assert len(current) >= 50
    assert proxy.accepted >= 2  # refused at least once, then answered


UPGRADING = (
    "Waiting for the primary to upgrade from non-versioned to versioned data. This backend will "
    "be unavailable for a brief period and will resume service when the primary is finished."
)


def test_a_kv_engine_still_upgrading_is_retried(
    vault_env: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # What an OpenBao standby answers (HTTP 400) for a moment after a KV v2 mount is created or
    # migrated from v1; seen for real in test_ha_failover while the cluster settles.
    keyring = new_keyring()
    answers = iter([(400, {"errors": [UPGRADING]})] * 2)

    def route(method: str, path: str, body: bytes) -> tuple[int, dict[str, Any]]:
        del method, body
        status, payload = next(answers, (0, {}))
        if status:
            return status, payload
        assert path.startswith("/v1/secret/data/app")
        meta = {"version": 1, "created_time": "2026-01-01T00:00:00Z"}
        return 200, {"data": {"data": json_data(keyring), "metadata": meta}}

    server = RecordingServer(route)
    vault_env.setenv("VAULT_TOKEN", "t")
    try:
        with caplog.at_level(logging.WARNING, "secret_keyring"):
            current, _ = secret_keys(f"vault://secret/app?addr={server.url}", startup_timeout=20)
    finally:
        server.close()

    assert current == keyring.current
    assert len(retry_delays(caplog)) == 2
    assert "upgrading" in caplog.text
