"""Sealed servers, refused connections, HA address lists, timeouts, forks, and the AWS IAM login
(signed client-side; OpenBao has no aws auth method, so a loopback server records the login)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import hvac
import pytest
import requests
from requests.adapters import HTTPAdapter

from devservers.openbao import BaoServer
from secret_keyring import _fork
from secret_keyring.errors import SourceUnavailable
from secret_keyring.providers.vault import VaultProvider
from tests.plugins.leakguard import make_key
from tests.plugins.openbao import RecordingServer, decode_b64_json

pytestmark = pytest.mark.vault


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class FakeClock:
    def __init__(self) -> None:
        self.now = 500.0

    def __call__(self) -> float:
        return self.now


# -- sealed, refused, HA, timeouts ---------------------------------------------------------------


def test_sealed_server_is_unavailable_then_recovers(openbao_private: BaoServer) -> None:
    server = openbao_private
    path = server.new_path()
    key = make_key()
    server.write(path, {"secret_key": key})
    vault = VaultProvider("secret", path, environ=server.environ(server.root_token))
    assert vault.fetch().current == key

    server.seal()
    with pytest.raises(SourceUnavailable) as caught:
        vault.fetch()
    assert caught.value.retryable
    assert "is sealed" in str(caught.value)
    assert server.addr in str(caught.value)

    server.unseal()
    deadline = time.monotonic() + 15
    while server.health() != 200:
        assert time.monotonic() < deadline, "the server did not come back after unseal"
        time.sleep(0.05)  # bounded poll for the server's own recovery
    assert vault.fetch().current == key


def test_connection_refused_is_unavailable() -> None:
    addr = f"http://127.0.0.1:{closed_port()}"
    vault = VaultProvider("secret", "a/b", environ={"VAULT_ADDR": addr, "VAULT_TOKEN": "t"})

    with pytest.raises(SourceUnavailable, match="cannot connect") as caught:
        vault.fetch()
    assert addr in str(caught.value)
    assert "VAULT_ADDR" in str(caught.value)


def test_address_list_moves_on_to_a_live_node(
    openbao: BaoServer, kv_path: str, caplog: pytest.LogCaptureFixture
) -> None:
    key = make_key()
    openbao.write(kv_path, {"secret_key": key})
    dead = f"http://127.0.0.1:{closed_port()}"
    environ = openbao.environ(openbao.root_token, VAULT_ADDR=f"{dead}, {openbao.addr}")
    vault = VaultProvider("secret", kv_path, environ=environ)
    assert vault.settings.addresses == (dead, openbao.addr)

    with caplog.at_level(logging.WARNING):
        assert vault.fetch().current == key

    assert vault.address == openbao.addr
    assert f"{dead} failed" in caplog.text
    caplog.clear()
    assert vault.fetch().current == key
    assert "failed" not in caplog.text  # it stays on the node that answered


def test_address_list_with_a_sealed_node(
    openbao: BaoServer, openbao_private: BaoServer, kv_path: str
) -> None:
    key = make_key()
    openbao.write(kv_path, {"secret_key": key})
    openbao_private.seal()
    environ = openbao.environ(
        openbao.root_token, VAULT_ADDR=f"{openbao_private.addr},{openbao.addr}"
    )

    assert VaultProvider("secret", kv_path, environ=environ).fetch().current == key


def test_all_addresses_down() -> None:
    addresses = [f"http://127.0.0.1:{closed_port()}" for _ in range(2)]
    environ = {"VAULT_ADDR": ",".join(addresses), "VAULT_TOKEN": "t"}

    with pytest.raises(SourceUnavailable, match="cannot connect"):
        VaultProvider("secret", "a/b", environ=environ).fetch()


@pytest.fixture
def hanging_server() -> Iterator[RecordingServer]:
    release = threading.Event()
    server = RecordingServer(hang=release)
    try:
        yield server
    finally:
        release.set()
        server.close()


def test_timeout_is_unavailable(hanging_server: RecordingServer) -> None:
    environ = {"VAULT_ADDR": hanging_server.url, "VAULT_TOKEN": "t"}
    vault = VaultProvider("secret", "a/b", timeout=0.3, environ=environ)

    started = time.monotonic()
    with pytest.raises(SourceUnavailable, match=r"no answer within 0\.3s"):
        vault.fetch()

    assert time.monotonic() - started < 5
    assert hanging_server.requests  # it did connect; the answer never came


def test_read_timeout_moves_on_for_reads_but_not_for_writes(
    openbao: BaoServer, kv_path: str, hanging_server: RecordingServer
) -> None:
    key = make_key()
    openbao.write(kv_path, {"secret_key": key})
    environ = openbao.environ(openbao.root_token, VAULT_ADDR=f"{hanging_server.url},{openbao.addr}")
    vault = VaultProvider("secret", kv_path, timeout=0.3, environ=environ)

    assert vault.fetch().current == key  # a read is safe to send again elsewhere
    assert vault.address == openbao.addr

    writer = VaultProvider("secret", kv_path, timeout=0.3, environ=environ)

    def write(client: Any) -> Any:
        return client.secrets.kv.v2.create_or_update_secret(
            kv_path, secret={"secret_key": make_key()}, cas=1, mount_point="secret"
        )

    # The hanging node may have applied the write: sending it to another node could apply it
    # twice, so a timed-out write is reported instead.
    with pytest.raises(SourceUnavailable, match="no answer"):
        writer.session.run(write, action="write", idempotent=False)
    assert writer.address == hanging_server.url
    assert (
        openbao.client().secrets.kv.v2.read_secret_metadata(kv_path)["data"]["current_version"] == 1
    )


def test_refused_connection_moves_on_even_for_writes(openbao: BaoServer, kv_path: str) -> None:
    openbao.write(kv_path, {"secret_key": make_key()})
    dead = f"http://127.0.0.1:{closed_port()}"
    environ = openbao.environ(openbao.root_token, VAULT_ADDR=f"{dead},{openbao.addr}")
    writer = VaultProvider("secret", kv_path, environ=environ)

    response = writer.session.run(
        lambda client: client.secrets.kv.v2.create_or_update_secret(
            kv_path, secret={"secret_key": make_key()}, cas=1, mount_point="secret"
        ),
        action="write",
        idempotent=False,
    )

    assert response["data"]["version"] == 2


# -- fork safety ---------------------------------------------------------------------------------


def test_child_after_fork_builds_its_own_client_and_keeps_the_token(
    openbao: BaoServer, kv_path: str, caplog: pytest.LogCaptureFixture
) -> None:
    key = make_key()
    openbao.write(kv_path, {"secret_key": key})
    mount, role_id, secret_id = openbao.approle([openbao.read_policy(kv_path)])
    environ = openbao.environ(VAULT_ROLE_ID=role_id, VAULT_SECRET_ID=secret_id)
    vault = VaultProvider("secret", kv_path, auth="approle", auth_mount=mount, environ=environ)
    vault.fetch()
    parent_client = vault.session.client()
    parent_lock = vault._lock

    caplog.clear()
    _fork.run_after_fork()

    assert vault._lock is not parent_lock
    assert vault.fetch().current == key
    child_client = vault.session.client()
    assert child_client is not parent_client
    assert child_client.session is not parent_client.session
    assert child_client.token == parent_client.token
    assert "logged in" not in caplog.text


def test_injected_client_gets_a_fresh_session_after_fork(openbao: BaoServer, kv_path: str) -> None:
    key = make_key()
    openbao.write(kv_path, {"secret_key": key})
    client = openbao.client()
    old_session = client.session
    vault = VaultProvider("secret", kv_path, client=client, environ=openbao.environ())

    _fork.run_after_fork()

    assert vault.session.client() is client
    assert client.session is not old_session
    assert vault.fetch().current == key


class RecordingAdapter(HTTPAdapter):
    """A user's adapter: a subclass with its own attribute and retry policy, that records
    which adapter object and which pool manager sent each request."""

    def __init__(self, sent: list[tuple[int, int]]) -> None:
        self.sent = sent  # set before super().__init__, which builds the pool manager
        super().__init__(max_retries=2)

    def send(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        self.sent.append((id(self), id(self.poolmanager)))
        return super().send(request, *args, **kwargs)


def test_injected_client_keeps_its_mounted_adapter_headers_and_auth_after_fork(
    openbao: BaoServer, kv_path: str
) -> None:
    """The child gets new connection pools, and keeps everything else the user configured."""
    key = make_key()
    openbao.write(kv_path, {"secret_key": key})
    sent: list[tuple[int, int]] = []
    session = requests.Session()
    session.mount(openbao.addr, RecordingAdapter(sent))
    session.headers["X-Team"] = "web"
    session.auth = ("proxy-user", "proxy-pass")  # e.g. a proxy in front of Vault
    client = hvac.Client(url=openbao.addr, token=openbao.root_token, session=session)
    vault = VaultProvider("secret", kv_path, client=client, environ=openbao.environ())
    assert vault.fetch().current == key
    parent_adapter, parent_pool = sent[-1]

    _fork.run_after_fork()

    sent.clear()
    assert vault.fetch().current == key
    assert sent, "the mounted adapter was dropped"
    adapter_id, pool_id = sent[-1]
    assert adapter_id != parent_adapter  # a copy of the user's adapter...
    assert pool_id != parent_pool  # ...with its own connection pool
    child = client.session
    mounted = child.get_adapter(openbao.addr)
    assert isinstance(mounted, RecordingAdapter)
    assert mounted.max_retries.total == 2
    assert child.headers["X-Team"] == "web"
    assert child.auth == ("proxy-user", "proxy-pass")
    assert session.get_adapter(openbao.addr).poolmanager is not mounted.poolmanager


# -- client-side behaviour against a scripted server ---------------------------------------------


class ScriptedVault:
    """Answers like Vault for one KV v2 secret and one login mount, and records everything."""

    def __init__(self, key: str, *, login_path: str, lease: int = 60) -> None:
        self.key = key
        self.login_path = login_path
        self.lease = lease
        self.renew_lease = lease
        self.logins = 0
        self.renewals = 0
        self.server = RecordingServer(self.route)

    def route(self, method: str, path: str, body: bytes) -> tuple[int, dict[str, Any]]:
        del body
        path = urlsplit(path).path
        if method in ("POST", "PUT") and path == self.login_path:
            self.logins += 1
            return 200, self._auth(f"tok-{self.logins}", self.lease)
        if path == "/v1/auth/token/renew-self":
            self.renewals += 1
            return 200, self._auth(f"tok-{self.logins}", self.renew_lease)
        if path == "/v1/secret/metadata/app":
            created = "2026-01-01T00:00:00Z"
            versions = {"1": {"created_time": created, "deletion_time": "", "destroyed": False}}
            return 200, {"data": {"current_version": 1, "versions": versions}}
        if path == "/v1/secret/data/app":
            meta = {"version": 1, "created_time": "2026-01-01T00:00:00Z"}
            return 200, {"data": {"data": {"current": self.key}, "metadata": meta}}
        return 404, {"errors": []}

    @staticmethod
    def _auth(token: str, lease: int) -> dict[str, Any]:
        return {"auth": {"client_token": token, "lease_duration": lease, "renewable": True}}

    def close(self) -> None:
        self.server.close()


def _sigv4_signature(headers: dict[str, str], body: str, secret_key: str, region: str) -> str:
    """Recompute an AWS Signature Version 4 for sts:GetCallerIdentity, from the AWS spec."""
    signed = [name.lower() for name in sorted(headers) if name.lower() != "authorization"]
    lower = {name.lower(): value for name, value in headers.items()}
    canonical_headers = "".join(f"{name}:{lower[name]}\n" for name in signed)
    canonical = "\n".join(
        [
            "POST",
            "/",
            "",
            canonical_headers,
            ";".join(signed),
            hashlib.sha256(body.encode()).hexdigest(),
        ]
    )
    stamp = lower["x-amz-date"]
    scope = f"{stamp[:8]}/{region}/sts/aws4_request"
    to_sign = "\n".join(
        ["AWS4-HMAC-SHA256", stamp, scope, hashlib.sha256(canonical.encode()).hexdigest()]
    )
    key = f"AWS4{secret_key}".encode()
    for part in (stamp[:8], region, "sts", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()


@pytest.mark.filterwarnings(
    # hvac's SigV4 helper calls datetime.utcnow(), deprecated since Python 3.12.
    "ignore:datetime.datetime.utcnow:DeprecationWarning"
)
def test_aws_iam_login_sends_a_sigv4_signed_request(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    access_key, secret_key, session_token = "AKIDEXAMPLE", "wJalrXUtnFEMIexample", "FwoGZXIvYXdz"
    for name in (
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_ROLE_ARN",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret_key)
    monkeypatch.setenv("AWS_SESSION_TOKEN", session_token)
    key = make_key()
    fake = ScriptedVault(key, login_path="/v1/auth/aws-prod/login")
    try:
        vault = VaultProvider(
            "secret",
            "app",
            auth="aws",
            role="web",
            auth_mount="aws-prod",
            aws_header_value="vault.example.com",
            environ={"VAULT_ADDR": fake.server.url},
        )
        assert vault.fetch().current == key
        login = next(r for r in fake.server.requests if r["path"] == "/v1/auth/aws-prod/login")
    finally:
        fake.close()

    body = json.loads(login["body"])
    assert body["role"] == "web"
    assert body["iam_http_request_method"] == "POST"
    assert base64.b64decode(body["iam_request_url"]).decode() == "https://sts.amazonaws.com/"
    sts_body = base64.b64decode(body["iam_request_body"]).decode()
    assert sts_body == "Action=GetCallerIdentity&Version=2011-06-15"
    headers = {
        name: values[0] for name, values in decode_b64_json(body["iam_request_headers"]).items()
    }
    assert headers["X-Amz-Security-Token"] == session_token
    assert headers["X-Vault-AWS-IAM-Server-ID"] == "vault.example.com"
    authorization = headers["Authorization"]
    assert authorization.startswith(f"AWS4-HMAC-SHA256 Credential={access_key}/")
    assert "/us-east-1/sts/aws4_request" in authorization
    assert "x-vault-aws-iam-server-id" in authorization.split("SignedHeaders=")[1]
    signature = authorization.rsplit("Signature=", 1)[1]
    assert signature == _sigv4_signature(headers, sts_body, secret_key, "us-east-1")
    # The secret access key itself never travels.
    assert secret_key not in login["body"].decode()


def test_aws_without_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    # No instance metadata service on a test machine: do not wait for it.
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    fake = ScriptedVault(make_key(), login_path="/v1/auth/aws/login")
    try:
        vault = VaultProvider(
            "secret", "app", auth="aws", role="web", environ={"VAULT_ADDR": fake.server.url}
        )
        with pytest.raises(Exception, match="no AWS credentials"):
            vault.fetch()
    finally:
        fake.close()


def test_renewal_capped_by_max_ttl_leads_to_a_new_login() -> None:
    key = make_key()
    fake = ScriptedVault(key, login_path="/v1/auth/approle/login", lease=60)
    clock = FakeClock()
    try:
        vault = VaultProvider(
            "secret",
            "app",
            auth="approle",
            clock=clock,
            environ={"VAULT_ADDR": fake.server.url, "VAULT_ROLE_ID": "r", "VAULT_SECRET_ID": "s"},
        )
        vault.fetch()
        assert (fake.logins, fake.renewals) == (1, 0)

        clock.now += 45  # past two thirds of 60 s: renew
        vault.fetch()
        assert (fake.logins, fake.renewals) == (1, 1)

        fake.renew_lease = 10  # the max TTL is near: renewing buys too little
        clock.now += 45
        vault.fetch()
        assert (fake.logins, fake.renewals) == (2, 2)
        assert vault.session.client().token == "tok-2"

        clock.now += 61  # expired on our clock: log in without trying to renew
        vault.fetch()
        assert (fake.logins, fake.renewals) == (3, 2)
    finally:
        fake.close()
