"""Run-time outages: after a good start the backend goes away for longer than the TTL.

Time that must pass (TTL, backoff, ``max_stale``) passes on a :class:`FakeClock`; the backend
calls are real and run in real background threads, so a ``get()`` that waited on the backend would
show in its measured latency. Two kinds of outage:

* **gone**: a :class:`FaultProxy` between the app and the backend drops every connection and
  resets new ones, which is what a client sees when the server process has died. The backend
  itself stays up, so an operator can rotate the secret meanwhile (OpenBao's dev server keeps its
  data in memory: a real restart would lose it, so killing it could not show that the rotation
  made during the outage is picked up afterwards);
* **hung**: the backend process is frozen with ``SIGSTOP`` (OpenBao, moto): connections are
  accepted by the kernel and never answered, so each refresh runs into its read timeout.
"""

from __future__ import annotations

import logging
import re
import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Literal

import pytest

from devservers.moto import REGION, MotoServer
from devservers.openbao import BaoServer
from secret_keyring import CachedKeyring, Keyring
from secret_keyring.errors import SourceUnavailable
from secret_keyring.keygen import new_keyring, rotate
from secret_keyring.payload import keyring_to_json
from secret_keyring.providers.aws import AwsSecretsManagerProvider
from secret_keyring.providers.vault import VaultProvider
from secret_keyring.testing import FakeClock
from tests.reliability.conftest import record
from tests.reliability.proxy import FaultProxy

TTL = 60.0
BACKOFF_INITIAL = 1.0
BACKOFF_MAX = 30.0
# A get() that waited for the backend would take at least the provider's timeout (1 s here).
# Measured worst cases are a few milliseconds (starting the refresh thread, the GIL handing
# over); the bound leaves room for a loaded CI machine and still sits well below 1 s.
NON_BLOCKING_BOUND = 0.5
REFRESH_DEADLINE = 30.0


class ThreadSpawner:
    """Runs background refreshes in real threads, as the default does, and lets the test wait
    for each to finish (no sleeping)."""

    def __init__(self) -> None:
        self.done: list[threading.Event] = []

    def __call__(self, target: Callable[[], None]) -> None:
        finished = threading.Event()
        self.done.append(finished)

        def run() -> None:
            try:
                target()
            finally:
                finished.set()

        threading.Thread(target=run, daemon=True, name="secret-keyring-refresh").start()

    def wait_last(self) -> None:
        assert self.done, "no background refresh was started"
        assert self.done[-1].wait(REFRESH_DEADLINE), "a background refresh never finished"


class Latency:
    """Worst and count of measured ``get()`` calls."""

    def __init__(self) -> None:
        self.worst = 0.0
        self.calls = 0

    def get(self, cache: CachedKeyring) -> Keyring:
        started = time.perf_counter()
        keyring = cache.get()
        self.worst = max(self.worst, time.perf_counter() - started)
        self.calls += 1
        return keyring

    def hammer_while(self, cache: CachedKeyring, finished: threading.Event, good: Keyring) -> None:
        """Read about every millisecond, as request threads would, until the in-flight
        refresh finishes (bounded by its deadline)."""
        deadline = time.monotonic() + REFRESH_DEADLINE
        while not finished.wait(0.001) and time.monotonic() < deadline:
            assert self.get(cache) is good


def make_cache(provider: Any, clock: FakeClock, spawner: ThreadSpawner, **options: Any) -> Any:
    return CachedKeyring(
        provider,
        ttl=TTL,
        jitter=0.0,
        backoff_initial=BACKOFF_INITIAL,
        backoff_max=BACKOFF_MAX,
        clock=clock,
        random=lambda: 0.0,
        spawn=spawner,
        **options,
    )


def ride_out_the_outage(
    cache: CachedKeyring,
    clock: FakeClock,
    spawner: ThreadSpawner,
    good: Keyring,
    *,
    latency: Latency,
    caplog: pytest.LogCaptureFixture,
    rounds: int,
    error: str,
) -> None:
    """Let the TTL run out, then ``rounds`` failed refreshes, checking what is served, the
    status, the logs and the backoff after each."""
    clock.advance(TTL)
    for attempt in range(1, rounds + 1):
        caplog.clear()
        assert latency.get(cache) is good  # due: starts a refresh, returns at once
        latency.hammer_while(cache, spawner.done[-1], good)
        spawner.wait_last()

        status = cache.status()
        delay = min(BACKOFF_INITIAL * 2 ** (attempt - 1), BACKOFF_MAX)
        assert status["failures"] == attempt
        assert error in status["last_error"]
        assert status["next_refresh"] == pytest.approx(delay)
        assert status["fingerprints"] == good.fingerprints
        warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert any(
            f"refresh from {cache.provider.source} failed" in text
            and f"retry {attempt + 1} in {delay:.1f}s" in text
            and good.fingerprints["current"] in text
            for text in warnings
        ), warnings
        clock.advance(delay)


def come_back(
    cache: CachedKeyring,
    spawner: ThreadSpawner,
    good: Keyring,
    rotated: Keyring,
    *,
    latency: Latency,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The first refresh after the outage picks up the rotation made during it."""
    caplog.clear()
    assert latency.get(cache) is good  # still stale-while-revalidate: no waiting
    spawner.wait_last()
    assert cache.get().same_keys(rotated)
    status = cache.status()
    assert (status["failures"], status["last_error"]) == (0, None)
    assert "answers again after" in caplog.text


# -- OpenBao --------------------------------------------------------------------------------------


@pytest.fixture
def bao_keyring(openbao: BaoServer) -> tuple[str, Keyring]:
    path = openbao.new_path()
    keyring = new_keyring()
    openbao.write(path, json_data(keyring))
    return path, keyring


def json_data(keyring: Keyring) -> dict[str, Any]:
    data: dict[str, Any] = {"current": keyring.current, "next": keyring.next}
    data["previous"] = list(keyring.previous)
    return data


def vault_provider(addr: str, token: str, path: str) -> VaultProvider:
    environ = {"VAULT_ADDR": addr, "VAULT_TOKEN": token, "HOME": "/nonexistent"}
    return VaultProvider("secret", path, timeout=1.0, environ=environ)


def test_vault_gone_longer_than_the_ttl(
    openbao: BaoServer,
    bao_keyring: tuple[str, Keyring],
    make_proxy: Callable[..., FaultProxy],
    caplog: pytest.LogCaptureFixture,
) -> None:
    path, keyring = bao_keyring
    proxy = make_proxy(openbao.port)
    clock, spawner, latency = FakeClock(), ThreadSpawner(), Latency()
    cache = make_cache(vault_provider(proxy.url, openbao.root_token, path), clock, spawner)
    good = cache.get()
    assert good.same_keys(keyring)

    proxy.cut()
    rotated = rotate(keyring)
    openbao.write(path, json_data(rotated))  # the rotation job still reaches Vault
    with caplog.at_level(logging.WARNING, "secret_keyring"):
        ride_out_the_outage(
            cache,
            clock,
            spawner,
            good,
            latency=latency,
            caplog=caplog,
            rounds=6,
            error="cannot connect",
        )
        assert clock() - 1000.0 > TTL * 2  # the outage outlasted the TTL twice over
        proxy.restore()
        come_back(cache, spawner, good, rotated, latency=latency, caplog=caplog)

    assert latency.worst < NON_BLOCKING_BOUND
    record(
        "outage vault gone: worst get()",
        f"{latency.worst * 1e6:.0f} us over {latency.calls} calls",
    )


@contextmanager
def frozen(server: BaoServer) -> Iterator[None]:
    assert server.process is not None
    server.process.send_signal(signal.SIGSTOP)
    try:
        yield
    finally:
        server.process.send_signal(signal.SIGCONT)


def test_vault_frozen_longer_than_the_ttl(
    openbao_private: BaoServer, caplog: pytest.LogCaptureFixture
) -> None:
    server = openbao_private
    path = server.new_path()
    keyring = new_keyring()
    server.write(path, json_data(keyring))
    clock, spawner, latency = FakeClock(), ThreadSpawner(), Latency()
    cache = make_cache(vault_provider(server.addr, server.root_token, path), clock, spawner)
    good = cache.get()

    with frozen(server), caplog.at_level(logging.WARNING, "secret_keyring"):
        # Each refresh hangs for the 1 s read timeout; readers keep getting the old keyring.
        ride_out_the_outage(
            cache,
            clock,
            spawner,
            good,
            latency=latency,
            caplog=caplog,
            rounds=3,
            error="no answer within 1s",
        )
    rotated = rotate(keyring)
    server.write(path, json_data(rotated))
    with caplog.at_level(logging.WARNING, "secret_keyring"):
        come_back(cache, spawner, good, rotated, latency=latency, caplog=caplog)

    assert latency.worst < NON_BLOCKING_BOUND
    record(
        "outage vault frozen (SIGSTOP): worst get()",
        f"{latency.worst * 1e6:.0f} us over {latency.calls} calls, each refresh hung 1 s",
    )


# -- Secrets Manager ------------------------------------------------------------------------------


@pytest.fixture
def aws_keyring(secretsmanager: Any, aws_env: MotoServer) -> tuple[str, Keyring]:
    name = f"test/{uuid.uuid4().hex[:12]}/django"
    keyring = new_keyring()
    secretsmanager.create_secret(Name=name, SecretString=keyring_to_json(keyring))
    return name, keyring


def aws_provider(name: str, endpoint: str) -> AwsSecretsManagerProvider:
    return AwsSecretsManagerProvider(
        name,
        region=REGION,
        endpoint_url=endpoint,
        connect_timeout=1.0,
        read_timeout=1.0,
        max_attempts=1,
    )


def test_secrets_manager_gone_longer_than_the_ttl(
    aws_env: MotoServer,
    aws_keyring: tuple[str, Keyring],
    secretsmanager: Any,
    make_proxy: Callable[..., FaultProxy],
    caplog: pytest.LogCaptureFixture,
) -> None:
    name, keyring = aws_keyring
    proxy = make_proxy(aws_env.port)
    clock, spawner, latency = FakeClock(), ThreadSpawner(), Latency()
    cache = make_cache(aws_provider(name, proxy.url), clock, spawner)
    good = cache.get()

    proxy.cut()
    rotated = rotate(keyring)
    secretsmanager.put_secret_value(SecretId=name, SecretString=keyring_to_json(rotated))
    with caplog.at_level(logging.WARNING, "secret_keyring"):
        ride_out_the_outage(
            cache,
            clock,
            spawner,
            good,
            latency=latency,
            caplog=caplog,
            rounds=6,
            error="cannot reach",
        )
        proxy.restore()
        come_back(cache, spawner, good, rotated, latency=latency, caplog=caplog)

    assert latency.worst < NON_BLOCKING_BOUND
    record(
        "outage aws gone: worst get()",
        f"{latency.worst * 1e6:.0f} us over {latency.calls} calls",
    )


def test_secrets_manager_frozen_longer_than_the_ttl(
    aws_env: MotoServer,
    aws_keyring: tuple[str, Keyring],
    secretsmanager: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    name, keyring = aws_keyring
    clock, spawner, latency = FakeClock(), ThreadSpawner(), Latency()
    cache = make_cache(aws_provider(name, aws_env.endpoint_url), clock, spawner)
    good = cache.get()

    with aws_env.paused(), caplog.at_level(logging.WARNING, "secret_keyring"):
        ride_out_the_outage(
            cache,
            clock,
            spawner,
            good,
            latency=latency,
            caplog=caplog,
            rounds=3,
            error="ReadTimeout",
        )
    rotated = rotate(keyring)
    secretsmanager.put_secret_value(SecretId=name, SecretString=keyring_to_json(rotated))
    with caplog.at_level(logging.WARNING, "secret_keyring"):
        come_back(cache, spawner, good, rotated, latency=latency, caplog=caplog)

    assert latency.worst < NON_BLOCKING_BOUND
    record(
        "outage aws frozen (SIGSTOP): worst get()",
        f"{latency.worst * 1e6:.0f} us over {latency.calls} calls, each refresh hung 1 s",
    )


# -- past max_stale -------------------------------------------------------------------------------


def outage_past_max_stale(
    openbao: BaoServer,
    path: str,
    proxy: FaultProxy,
    policy: Literal["serve", "fail"],
) -> tuple[CachedKeyring, FakeClock, ThreadSpawner, Keyring]:
    clock, spawner = FakeClock(), ThreadSpawner()
    cache = make_cache(
        vault_provider(proxy.url, openbao.root_token, path),
        clock,
        spawner,
        max_stale=300.0,
        on_stale=policy,
    )
    good = cache.get()
    proxy.cut()
    # Failed refreshes with backoff until the keyring is past max_stale.
    clock.advance(TTL)
    for _ in range(100):
        if clock() - 1000.0 > 300.0:
            return cache, clock, spawner, good
        started = len(spawner.done)
        cache.get()
        assert len(spawner.done) == started + 1
        spawner.wait_last()
        clock.advance(cache.status()["next_refresh"])
    raise AssertionError("the backoff never reached max_stale")


def test_past_max_stale_serve_logs_errors_and_keeps_serving(
    openbao: BaoServer,
    bao_keyring: tuple[str, Keyring],
    make_proxy: Callable[..., FaultProxy],
    caplog: pytest.LogCaptureFixture,
) -> None:
    path, _ = bao_keyring
    proxy = make_proxy(openbao.port)
    with caplog.at_level(logging.WARNING, "secret_keyring"):
        cache, _, spawner, good = outage_past_max_stale(openbao, path, proxy, "serve")
        caplog.clear()
        assert cache.get() is good
        spawner.wait_last()

    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert errors, "past max_stale, each failed refresh is an ERROR"
    assert re.search(r"serving the keyring fetched \d+s ago .* PAST max_stale", errors[-1])
    assert cache.status()["stale"] is True


def test_past_max_stale_fail_raises_on_every_read(
    openbao: BaoServer,
    bao_keyring: tuple[str, Keyring],
    make_proxy: Callable[..., FaultProxy],
) -> None:
    path, _ = bao_keyring
    proxy = make_proxy(openbao.port)
    cache, clock, spawner, _ = outage_past_max_stale(openbao, path, proxy, "fail")

    started = len(spawner.done)
    with pytest.raises(SourceUnavailable, match="past max_stale=300s"):
        cache.get()  # due: refreshes in line (refused again), and the stale keyring is refused
    assert len(spawner.done) == started  # in line: no background refresh
    # Between two retries (the backoff window) the keyring is just as stale: still refused.
    clock.advance(cache.status()["next_refresh"] / 2)
    with pytest.raises(SourceUnavailable, match="past max_stale"):
        cache.get()

    proxy.restore()
    clock.advance(cache.status()["next_refresh"])
    # The first read once a retry is due refreshes in line rather than failing the caller.
    assert cache.get().version is not None
    assert cache.status()["stale"] is False
