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

``arn_scoped_secrets=True`` is for least-privilege policy tests. moto checks Secrets Manager calls
against the resource ``"*"`` only, so a statement scoped to a secret ARN never matches and every
call is denied; AWS authorises these calls against the ARN of the secret named by ``SecretId``, and
this option gives moto that same ARN. Policy evaluation itself (action and resource matching,
conditions, explicit deny) stays moto's own.

The pytest fixtures around it are in ``tests/plugins/moto_server.py``; the benchmarks start it
directly.
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

from devservers.processes import LOOPBACK, ServerStartError, stop_process

REGION = "us-east-1"
ACCOUNT_ID = "123456789012"
FAKE_ACCESS_KEY_ID = "testing"
# moto accepts any key pair while IAM is not enforced.
FAKE_SECRET_ACCESS_KEY = "testing"
START_TIMEOUT = 60.0
_ROOT = Path(__file__).resolve().parent.parent
_COUNTS_PATH = "/__counts__"
_FAULTS_PATH = "/__faults__"


class MotoServer:
    """A moto server process on ``127.0.0.1``.

    Args:
        log_path: where the server's stderr goes (werkzeug warnings, moto tracebacks).
        port: the port to bind; 0 picks a free one (kept across :meth:`restart`).
        env: extra environment for the server process (e.g. ``INITIAL_NO_AUTH_ACTION_COUNT``).
    """

    def __init__(
        self,
        log_path: Path,
        *,
        port: int = 0,
        env: dict[str, str] | None = None,
        arn_scoped_secrets: bool = False,
    ) -> None:
        self.log_path = log_path
        self.port = port
        self.extra_env = dict(env or {})
        self.arn_scoped_secrets = arn_scoped_secrets
        self._process: subprocess.Popen[bytes] | None = None
        self._paused = False

    # -- life cycle ---------------------------------------------------------------------------

    @property
    def endpoint_url(self) -> str:
        """``http://127.0.0.1:PORT``; valid once started."""
        if not self.port:
            raise RuntimeError("the moto server has not been started")
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self, timeout: float = START_TIMEOUT) -> MotoServer:
        """Start the process and return once it answers HTTP.

        Raises:
            ServerStartError: the server did not report its port within ``timeout`` seconds.
        """
        if self.running:
            return self
        env = {name: value for name, value in os.environ.items() if not name.startswith("AWS_")}
        env.update(self.extra_env)
        env["PYTHONUNBUFFERED"] = "1"
        # The server process runs this module: make the checkout importable from its directory.
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(_ROOT), env.get("PYTHONPATH")]))
        log = self.log_path.open("ab")
        try:
            self._process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "devservers.moto",
                    str(self.port),
                    *(["--arn-scoped-secrets"] if self.arn_scoped_secrets else []),
                ],
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
            raise ServerStartError(
                f"the moto server did not start within {timeout:.0f}s; see {self.log_path}"
            )
        self.port = int(json.loads(line)["port"])
        # The socket listens before the port is printed; one request proves the app answers.
        self.counts()
        return self

    def stop(self) -> None:
        """Terminate the process (its state is lost; a restart comes back empty)."""
        process, self._process = self._process, None
        if process is None:
            return
        if self._paused:
            process.send_signal(signal.SIGCONT)
            self._paused = False
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
        self.set_iam_enforced(True)
        try:
            yield
        finally:
            self.set_iam_enforced(False)

    def set_iam_enforced(self, enforced: bool) -> None:
        """Turn IAM enforcement on or off until the next call (or :meth:`reset`)."""
        self._request("POST", "/moto-api/reset-auth", b"0" if enforced else b"inf")

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
        request = urllib.request.Request(
            self.endpoint_url + path,
            data=body,
            method=method,
            headers={"Content-Type": "text/plain"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
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


def _secret_resource(self: Any) -> str:  # pragma: no cover - runs in the server process
    """The ARN of the secret ``SecretId`` names, the resource AWS authorises the call against."""
    secret_id = self._get_param("SecretId")
    if not secret_id:
        return "*"  # account-level calls such as ListSecrets and CreateSecret
    secret = self.backend.secrets.get(secret_id)
    if secret is not None:
        return str(secret.arn)
    if secret_id.startswith("arn:"):
        return str(secret_id)
    return f"arn:aws:secretsmanager:{self.region}:{self.current_account}:secret:{secret_id}"


def _serve(port: int, *, arn_scoped_secrets: bool) -> None:  # pragma: no cover - server process
    import logging

    if arn_scoped_secrets:
        from moto.secretsmanager.responses import SecretsManagerResponse

        SecretsManagerResponse._determine_resource = _secret_resource  # type: ignore[attr-defined]

    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import make_server

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    app = _counting_app(DomainDispatcherApplication(create_backend_app))
    server = make_server(LOOPBACK, port, app, threaded=True, request_handler=MotoRequestHandler)
    sys.stdout.write(json.dumps({"port": server.server_address[1]}) + "\n")
    sys.stdout.flush()
    # Nothing reads stdout any more: send later prints to the log instead of a full pipe.
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    server.serve_forever()


if __name__ == "__main__":  # pragma: no cover - the server process
    _serve(
        int(sys.argv[1]) if len(sys.argv) > 1 else 0,
        arn_scoped_secrets="--arn-scoped-secrets" in sys.argv[2:],
    )
