"""moto in server mode: real HTTP Secrets Manager, STS and IAM on a loopback port.

Why a subprocess and not ``moto.server.ThreadedMotoServer``:

* tests can stop, restart, pause (``SIGSTOP``) and resume it, which is how reliability tests make
  the backend vanish, hang or come back on the same port;
* moto's state (and its ``INITIAL_NO_AUTH_ACTION_COUNT`` IAM switch, a module global) lives in
  another interpreter, so nothing a test does with moto in-process can leak into the server and
  the server's work never competes with the code under test for the GIL;
* requests are counted where the server receives them: the process serves moto's own WSGI app
  behind a small counting middleware, so a count is what went over the wire, not what a mock saw.

The server binds port 0 and reports the port it got on stdout, so there is no free-port race, and
readiness is that line plus one answered HTTP request; nothing sleeps.

Extra endpoints served in front of moto (they never reach it):

* ``GET /__counts__`` -> ``{"secretsmanager:GetSecretValue": 2, ...}``; ``DELETE`` resets them.
* ``POST /__faults__`` with ``{"action": "secretsmanager:GetSecretValue", "status": 500,
  "code": "InternalServiceError", "count": 1}`` answers the next ``count`` matching requests with
  that error instead of passing them to moto (still counted); ``DELETE`` clears the faults.

Fixtures (for every test folder):

* ``moto_server`` (session): the running :class:`MotoServer`.
* ``aws_env`` (function): resets moto, the counts, the faults and IAM enforcement, points boto3 at
  the server through the environment (fake credentials, region ``us-east-1``, no config files, no
  instance metadata) and yields the :class:`MotoServer`.
* ``secretsmanager`` (function): an admin Secrets Manager client for the server (uses ``aws_env``).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import selectors
import signal
import subprocess
import sys
import threading
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, Any
from urllib.parse import parse_qs

import pytest

REGION = "us-east-1"
ACCOUNT_ID = "123456789012"
FAKE_ACCESS_KEY_ID = "testing"
# moto accepts any key pair while IAM is not enforced.
FAKE_SECRET_ACCESS_KEY = "testing"
START_TIMEOUT = 60.0
_COUNTS_PATH = "/__counts__"
_FAULTS_PATH = "/__faults__"


class MotoServer:
    """A moto server process on ``127.0.0.1``.

    Args:
        log_path: where the server's stderr goes (werkzeug warnings, moto tracebacks).
        port: the port to bind; 0 picks a free one (kept across :meth:`restart`).
        env: extra environment for the server process (e.g. ``INITIAL_NO_AUTH_ACTION_COUNT``).
    """

    def __init__(self, log_path: Path, *, port: int = 0, env: dict[str, str] | None = None) -> None:
        self.log_path = log_path
        self.port = port
        self.extra_env = dict(env or {})
        self._process: subprocess.Popen[bytes] | None = None
        self._paused = False

    # -- life cycle ---------------------------------------------------------------------------

    @property
    def endpoint_url(self) -> str:
        """``http://127.0.0.1:PORT``; valid once started."""
        if not self.port:
            raise RuntimeError("the moto server has not been started")
        return f"http://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self, timeout: float = START_TIMEOUT) -> None:
        """Start the process and return once it answers HTTP."""
        if self.running:
            return
        env = {name: value for name, value in os.environ.items() if not name.startswith("AWS_")}
        env.update(self.extra_env)
        env["PYTHONUNBUFFERED"] = "1"
        log = self.log_path.open("ab")
        try:
            self._process = subprocess.Popen(
                [sys.executable, str(Path(__file__).resolve()), str(self.port)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=log,
                env=env,
                cwd=str(self.log_path.parent),
            )
        finally:
            log.close()
        self._paused = False
        assert self._process.stdout is not None
        line = _read_line(self._process.stdout, timeout)
        if not line:
            self.stop()
            raise RuntimeError(
                f"the moto server did not start within {timeout:.0f}s; see {self.log_path}"
            )
        self.port = int(json.loads(line)["port"])
        # The socket listens before the port is printed; one request proves the app answers.
        self.counts()

    def stop(self) -> None:
        """Terminate the process (its state is lost; a restart comes back empty)."""
        process, self._process = self._process, None
        if process is None:
            return
        if self._paused:
            process.send_signal(signal.SIGCONT)
            self._paused = False
        # Imported here: this file also runs as the server process, where tests/ is not a package.
        from tests.plugins.processes import stop_process

        stop_process(process)
        if process.stdout is not None:
            process.stdout.close()

    def restart(self) -> None:
        """Stop and start again on the same port."""
        self.stop()
        self.start()

    def pause(self) -> None:
        """Freeze the process (``SIGSTOP``): connections are accepted by the kernel, never
        answered, so clients hit their read timeout."""
        assert self._process is not None
        self._process.send_signal(signal.SIGSTOP)
        self._paused = True

    def resume(self) -> None:
        """Undo :meth:`pause`."""
        assert self._process is not None
        self._process.send_signal(signal.SIGCONT)
        self._paused = False

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        self.pause()
        try:
            yield
        finally:
            self.resume()

    # -- state --------------------------------------------------------------------------------

    def reset(self) -> None:
        """Empty moto, zero the counts, clear faults and turn IAM enforcement off."""
        self._request("POST", "/moto-api/reset")
        self._request("POST", "/moto-api/reset-auth", b"inf")
        self._request("DELETE", _FAULTS_PATH)
        self.reset_counts()

    def counts(self) -> Counter[str]:
        """Requests the server received since the last reset, by ``service:Action``."""
        return Counter(json.loads(self._request("GET", _COUNTS_PATH)))

    def reset_counts(self) -> None:
        self._request("DELETE", _COUNTS_PATH)

    def fail_next(
        self,
        action: str,
        *,
        status: int = 500,
        code: str = "InternalServiceError",
        message: str = "injected by the test harness",
        count: int = 1,
    ) -> None:
        """Answer the next ``count`` requests for ``action`` (``service:Action``) with an error
        in the AWS JSON protocol's shape."""
        body = {
            "action": action,
            "status": status,
            "code": code,
            "message": message,
            "count": count,
        }
        self._request("POST", _FAULTS_PATH, json.dumps(body).encode())

    def clear_faults(self) -> None:
        self._request("DELETE", _FAULTS_PATH)

    @contextlib.contextmanager
    def enforce_iam(self) -> Iterator[None]:
        """Check signatures and IAM policies for every request inside the block.

        moto skips IAM until it has served ``INITIAL_NO_AUTH_ACTION_COUNT`` requests (default:
        never); ``/moto-api/reset-auth`` sets that count and restarts it in the server process.
        """
        self._request("POST", "/moto-api/reset-auth", b"0")
        try:
            yield
        finally:
            self._request("POST", "/moto-api/reset-auth", b"inf")

    def client_env(self) -> dict[str, str]:
        """Environment that points boto3 (in this or a child process) at the server."""
        return {
            "AWS_ACCESS_KEY_ID": FAKE_ACCESS_KEY_ID,
            "AWS_SECRET_ACCESS_KEY": FAKE_SECRET_ACCESS_KEY,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        }

    def _request(self, method: str, path: str, body: bytes | None = None) -> bytes:
        # Not form-encoded: Flask would parse the body away and moto reads the raw data.
        request = urllib.request.Request(  # noqa: S310 - a fixed http://127.0.0.1 URL
            self.endpoint_url + path,
            data=body,
            method=method,
            headers={"Content-Type": "text/plain"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - as above
            data: bytes = response.read()
            return data

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"MotoServer(port={self.port}, {state})"


def _read_line(stream: IO[bytes], timeout: float) -> bytes:
    """One line from a pipe, or ``b""`` if none arrives within ``timeout`` (no polling)."""
    with selectors.DefaultSelector() as selector:
        selector.register(stream, selectors.EVENT_READ)
        if not selector.select(timeout):
            return b""
    return stream.readline()


# -- fixtures ---------------------------------------------------------------------------------

# Variables that would make boto3 look beyond the fake credentials and the server.
_AWS_VARIABLES = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_REGION",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_ROLE_ARN",
    "AWS_ROLE_SESSION_NAME",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN",
    "AWS_ENDPOINT_URL_SECRETS_MANAGER",
    "AWS_ENDPOINT_URL_STS",
    "AWS_RETRY_MODE",
    "AWS_MAX_ATTEMPTS",
    "AWS_CA_BUNDLE",
    "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
)


@pytest.fixture(scope="session")
def moto_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    """One moto server for the session (started on first use)."""
    server = MotoServer(tmp_path_factory.mktemp("moto-server") / "moto-server.log")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def aws_env(moto_server: MotoServer, monkeypatch: pytest.MonkeyPatch) -> MotoServer:
    """A clean moto and an environment where boto3 talks to it with fake credentials."""
    if not moto_server.running:  # a previous test stopped it and failed before restarting
        moto_server.start()
    moto_server.reset()
    for name in _AWS_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    for name, value in moto_server.client_env().items():
        monkeypatch.setenv(name, value)
    return moto_server


@pytest.fixture
def secretsmanager(aws_env: MotoServer) -> Any:
    """An admin Secrets Manager client for the moto server (boto3, standard retries)."""
    from secret_keyring.providers.aws import build_client

    return build_client(region=REGION, endpoint_url=aws_env.endpoint_url)


# -- the server process -----------------------------------------------------------------------


def _action(environ: dict[str, Any]) -> str:
    """``service:Action`` of a request, read the way moto reads it (without consuming it)."""
    service = ""
    auth = environ.get("HTTP_AUTHORIZATION", "")
    if "Credential=" in auth:
        scope = auth.split("Credential=", 1)[1].split(",", 1)[0].split("/")
        if len(scope) >= 4:
            service = scope[3]
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    if target:
        prefix, _, action = target.rpartition(".")
        return f"{service or prefix.lower()}:{action}"
    path = environ.get("PATH_INFO", "")
    if "/operation/" in path:  # Smithy RPC v2 (CBOR) puts the operation in the path
        return f"{service}:{path.rsplit('/', 1)[-1]}"
    length = int(environ.get("CONTENT_LENGTH") or 0)
    if length and "form-urlencoded" in environ.get("CONTENT_TYPE", ""):
        body = environ["wsgi.input"].read(length)
        environ["wsgi.input"] = io.BytesIO(body)
        action = parse_qs(body.decode("latin-1")).get("Action", [""])[0]
        if action:
            return f"{service}:{action}"
    return f"{service or 'unknown'}:{environ.get('REQUEST_METHOD', '')} {path}"


def _counting_app(app: Callable[..., Iterable[bytes]]) -> Callable[..., Iterable[bytes]]:
    counts: Counter[str] = Counter()
    faults: list[dict[str, Any]] = []
    lock = threading.Lock()

    def respond(start_response: Any, status: str, payload: Any) -> list[bytes]:
        body = json.dumps(payload).encode()
        start_response(status, [("Content-Type", "application/json")])
        return [body]

    def wrapped(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD", "")
        if path == _COUNTS_PATH:
            with lock:
                snapshot = dict(counts)
                if method == "DELETE":
                    counts.clear()
            return respond(start_response, "200 OK", snapshot)
        if path == _FAULTS_PATH:
            with lock:
                if method == "DELETE":
                    faults.clear()
                else:
                    length = int(environ.get("CONTENT_LENGTH") or 0)
                    faults.append(json.loads(environ["wsgi.input"].read(length)))
            return respond(start_response, "200 OK", {"status": "ok"})
        if path.startswith("/moto-api/"):
            return app(environ, start_response)
        action = _action(environ)
        with lock:
            counts[action] += 1
            fault = next((f for f in faults if f["action"] == action and f["count"] > 0), None)
            if fault is not None:
                fault["count"] -= 1
        if fault is not None:
            status = f"{fault['status']} Injected"
            body = {"__type": fault["code"], "message": fault["message"]}
            return respond(start_response, status, body)
        return app(environ, start_response)

    return wrapped


def _serve(port: int) -> None:  # pragma: no cover - runs in the server process
    import logging

    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import make_server

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    app = _counting_app(DomainDispatcherApplication(create_backend_app))
    server = make_server("127.0.0.1", port, app, threaded=True, request_handler=MotoRequestHandler)
    sys.stdout.write(json.dumps({"port": server.server_address[1]}) + "\n")
    sys.stdout.flush()
    # Nothing reads stdout any more: send later prints to the log instead of a full pipe.
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    server.serve_forever()


if __name__ == "__main__":  # pragma: no cover - the server process
    _serve(int(sys.argv[1]) if len(sys.argv) > 1 else 0)
