"""A Vault rotation whose answer is lost, then retried.

Schedulers retry a run that did not report success: Lambda retries a failed asynchronous
invocation twice, a Kubernetes Job retries up to its ``backoffLimit``, cron starts the next run
whatever the last one did. When the failure was only the answer (the write reached Vault, the
connection died on the way back), the retry starts from a keyring that has *already* been
rotated. Rotating it again promotes a ``next`` that processes whose cache is up to one TTL old
have never seen, so they reject what the refreshed processes sign (Django ticket #35400, the
failure the keyring exists to prevent).

OpenBao's dev server never loses an answer. A loopback proxy stands in for the network: it
forwards the check-and-set write, lets OpenBao apply it, and resets the client's connection when
the answer starts to come back. The retried run, through the same proxy, must find the new
version younger than the minimum interval and write nothing: exactly one new version. The
control test shows what the retry did without the interval.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable

import pytest
from django.core.signing import BadSignature, Signer

from devservers.openbao import BaoServer
from secret_keyring import Keyring
from secret_keyring.cli import main as cli
from secret_keyring.errors import SourceError
from secret_keyring.keygen import new_keyring
from secret_keyring.payload import keyring_to_json, parse_mapping
from secret_keyring.rotation.vault import lambda_handler
from tests.plugins.leakguard import assert_no_key_material
from tests.reliability.proxy import FaultProxy

pytestmark = pytest.mark.vault


def history(server: BaoServer, path: str) -> list[Keyring]:
    client = server.client()
    current = int(client.secrets.kv.v2.read_secret_metadata(path)["data"]["current_version"])
    return [
        parse_mapping(
            client.secrets.kv.v2.read_secret_version(
                path, version=number, raise_on_deleted_version=True
            )["data"]["data"]
        ).to_keyring()
        for number in range(1, current + 1)
    ]


def kv_write_of(path: str) -> Callable[[bytes], bool]:
    """Matches the HTTP request that writes a version of ``secret/<path>``."""
    targets = tuple(f"{verb} /v1/secret/data/{path} ".encode() for verb in ("POST", "PUT"))
    return lambda data: data.startswith(targets)


def verifies(keyring: Keyring, signed: str) -> bool:
    try:
        Signer(key=keyring.current, fallback_keys=keyring.fallbacks).unsign(signed)
    except BadSignature:
        return False
    return True


@pytest.fixture
def scheduled(
    openbao: BaoServer,
    make_proxy: Callable[..., FaultProxy],
    vault_env: pytest.MonkeyPatch,
) -> tuple[str, FaultProxy]:
    """A fresh keyring at a new path, and the environment a scheduled run gets, pointing at
    OpenBao through the proxy."""
    path = openbao.new_path("retry")
    openbao.write(path, json.loads(keyring_to_json(new_keyring())))
    proxy = make_proxy(openbao.port)
    vault_env.setenv("VAULT_ADDR", proxy.url)
    vault_env.setenv("VAULT_TOKEN", openbao.root_token)
    vault_env.setenv("SECRET_KEYRING_SOURCE", f"vault://secret/{path}")
    return path, proxy


def _handler_run(monkeypatch: pytest.MonkeyPatch, *, first: bool) -> tuple[bool, str]:
    """The Lambda: an exception is a failed invocation, which Lambda retries."""
    if first:
        monkeypatch.setenv("SECRET_KEYRING_MIN_INTERVAL", "0")
    else:
        monkeypatch.delenv("SECRET_KEYRING_MIN_INTERVAL", raising=False)
    try:
        result = lambda_handler({"source": "aws.scheduler"}, None)
    except SourceError as exc:
        return False, f"{type(exc).__name__}: {exc}"
    assert_no_key_material(json.dumps(result), "the handler's result")
    return True, str(result["how"])


def _cli_run(capsys: pytest.CaptureFixture[str], *, first: bool) -> tuple[bool, str]:
    """The CronJob / systemd unit: a non-zero exit is a failed run, which the Job retries."""
    extra = ["--min-interval", "0"] if first else []
    status = cli(["rotate", os.environ["SECRET_KEYRING_SOURCE"], *extra])
    captured = capsys.readouterr()
    assert_no_key_material(captured.out + captured.err, "the command's output")
    return status == 0, captured.out + captured.err


@pytest.mark.parametrize("runner", ["lambda_handler", "secret-keyring rotate"])
def test_a_retry_after_a_lost_answer_creates_exactly_one_version(
    openbao: BaoServer,
    scheduled: tuple[str, FaultProxy],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    runner: str,
) -> None:
    """The first run stands for a scheduled run on a month-old keyring: its age check passes
    (here by a minimum of 0, as the keyring was written a moment ago). The retry runs exactly as
    configured, with the default minimum interval."""
    path, proxy = scheduled

    def run(*, first: bool) -> tuple[bool, str]:
        if runner == "lambda_handler":
            return _handler_run(monkeypatch, first=first)
        return _cli_run(capsys, first=first)

    (before,) = history(openbao, path)
    signed_before = Signer(key=before.current).sign("a session made before the rotation")

    proxy.drop_reply_once(kv_write_of(path))
    succeeded, said = run(first=True)

    assert proxy.dropped_replies == 1
    assert not succeeded, said  # the scheduler saw a failure...
    assert len(history(openbao, path)) == 2  # ...of a write OpenBao applied

    succeeded, said = run(first=False)  # the scheduler's retry, through the same network

    assert succeeded, said
    assert "skipped: the last rotation is " in said
    after = history(openbao, path)
    assert len(after) == 2  # exactly one new version
    assert after[1].current == before.next
    assert after[1].previous == (before.current,)
    # A process still holding the old keyring accepts what the new current key signs, and the
    # new keyring accepts what was signed before.
    assert verifies(before, Signer(key=after[1].current).sign("after"))
    assert verifies(after[1], signed_before)


def test_without_the_interval_the_retry_rotates_twice(
    openbao: BaoServer,
    scheduled: tuple[str, FaultProxy],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Control: what the retry did before the minimum interval (and does with it set to 0)."""
    path, proxy = scheduled
    (before,) = history(openbao, path)

    proxy.drop_reply_once(kv_write_of(path))
    assert not _handler_run(monkeypatch, first=True)[0]
    assert _handler_run(monkeypatch, first=True)[0]  # the retry, with no minimum either

    after = history(openbao, path)
    assert len(after) == 3  # rotated twice
    # A process whose cache still holds the keyring from before the first run rejects what the
    # refreshed processes now sign: its `next` was promoted and then replaced within one TTL.
    assert not verifies(before, Signer(key=after[2].current).sign("after"))
