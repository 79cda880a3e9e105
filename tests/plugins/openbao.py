"""OpenBao fixtures, and the stand-ins OpenBao talks to in tests.

``openbao`` (session) is a plain-HTTP dev server on a free loopback port, ``openbao_tls``
(session) a ``-dev-tls`` one whose generated CA is in ``ca_cert``, and ``openbao_private``
(function) a server of its own for tests that break it (sealing). The server itself is
:class:`devservers.openbao.BaoServer`, shared with ``make demo`` and the benchmarks; this module
only scopes it to tests and adds what only tests need: throwaway certificates, a fake Kubernetes
TokenReview API and a recording HTTP server.
"""

from __future__ import annotations

import base64
import datetime
import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt as pyjwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from devservers.openbao import BaoServer, ClientCertificate
from tests.plugins import started

# -- certificates and a fake Kubernetes API ----------------------------------------------------


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def make_ca(common_name: str = "test CA") -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(_name(common_name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def make_client_certificate(directory: Path, common_name: str = "web") -> ClientCertificate:
    """A throwaway CA and a client certificate it signed, written as PEM files."""
    ca_key, ca_cert = make_ca("client CA")
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    cert_file = directory / "client.pem"
    key_file = directory / "client-key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    ca_pem = ca_cert.public_bytes(serialization.Encoding.PEM).decode()
    return ClientCertificate(ca_pem=ca_pem, cert_file=cert_file, key_file=key_file)


#: The audience the API server gives a service-account token that asks for none (the default
#: token of every pod); a projected token with ``audience:`` carries that audience instead.
API_AUDIENCE = "https://kubernetes.default.svc.cluster.local"


def service_account_jwt(
    namespace: str = "default", name: str = "web", *, audience: str = API_AUDIENCE
) -> str:
    """A JWT shaped like a Kubernetes service-account token (the fake API accepts it)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    claims = {
        "aud": [audience],
        "iss": "kubernetes/serviceaccount",
        "kubernetes.io/serviceaccount/namespace": namespace,
        "kubernetes.io/serviceaccount/service-account.name": name,
        "kubernetes.io/serviceaccount/service-account.uid": "0d6d5a4e-0000-4000-8000-000000000001",
        "sub": f"system:serviceaccount:{namespace}:{name}",
    }
    return pyjwt.encode(claims, key, algorithm="RS256")


class FakeKubernetesAPI:
    """Answers TokenReview like the Kubernetes API server: tokens in ``valid`` are authenticated.

    OpenBao's kubernetes auth sends every login's JWT here, so this checks the real login flow.
    Audiences as the API server plays them (TokenReview, ``spec.audiences``): a review that names
    audiences authenticates a token only if its ``aud`` claim holds one of them, and answers the
    ones it holds in ``status.audiences``; a review that names none checks against the API
    server's own audience (``API_AUDIENCE``), the one a pod's default token carries.
    """

    def __init__(self) -> None:
        self.valid: set[str] = set()
        self.reviews: list[str] = []
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                spec = body.get("spec", {})
                token = str(spec.get("token", ""))
                api.reviews.append(self.path)
                status: dict[str, Any] = {"authenticated": False}
                claims = (
                    pyjwt.decode(token, options={"verify_signature": False})
                    if token in api.valid
                    else {}
                )
                wanted = list(spec.get("audiences") or [API_AUDIENCE])
                held = [a for a in wanted if a in claims.get("aud", [])]
                if claims and not held:
                    status = {"authenticated": False, "error": "token audiences are invalid"}
                elif claims:
                    namespace = claims["kubernetes.io/serviceaccount/namespace"]
                    name = claims["kubernetes.io/serviceaccount/service-account.name"]
                    status = {
                        "audiences": held,
                        "authenticated": True,
                        "user": {
                            "username": f"system:serviceaccount:{namespace}:{name}",
                            "uid": claims["kubernetes.io/serviceaccount/service-account.uid"],
                            "groups": ["system:serviceaccounts"],
                        },
                    }
                answer = json.dumps(
                    {
                        "apiVersion": "authentication.k8s.io/v1",
                        "kind": "TokenReview",
                        "status": status,
                    }
                ).encode()
                self.send_response(201)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib name
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        _, ca = make_ca("fake kubernetes CA")
        self.ca_pem = ca.public_bytes(serialization.Encoding.PEM).decode()
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


class RecordingServer:
    """A loopback HTTP server that records requests and answers from a routing function.

    ``route(method, path, body) -> (status, json)``. Used where OpenBao cannot play the part
    (AWS IAM auth needs AWS) and for a server that never answers (timeouts).
    """

    def __init__(
        self,
        route: Callable[[str, str, bytes], tuple[int, dict[str, Any]]] | None = None,
        *,
        hang: threading.Event | None = None,
    ) -> None:
        self.requests: list[dict[str, Any]] = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                recorder.requests.append(
                    {
                        "method": self.command,
                        "path": self.path,
                        "headers": dict(self.headers),
                        "body": body,
                    }
                )
                if hang is not None:
                    hang.wait(timeout=30)
                    return
                assert route is not None
                status, payload = route(self.command, self.path, body)
                answer = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            do_GET = do_POST = do_PUT = _handle  # noqa: N815 - http.server dispatch names

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib name
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def decode_b64_json(value: str) -> Any:
    return json.loads(base64.b64decode(value))


# -- fixtures --------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def openbao(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BaoServer]:
    """A plain-HTTP OpenBao dev server for the whole session."""
    server = started(BaoServer(tmp_path_factory.mktemp("openbao")))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def openbao_tls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BaoServer]:
    """An OpenBao dev server with TLS (``-dev-tls``); its CA is ``openbao_tls.ca_cert``."""
    server = started(BaoServer(tmp_path_factory.mktemp("openbao-tls"), tls=True))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def openbao_private(tmp_path: Path) -> Iterator[BaoServer]:
    """A dev server for one test only, for tests that seal or stop it."""
    server = started(BaoServer(tmp_path / "openbao"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def kv_path(openbao: BaoServer) -> str:
    """A KV path no other test uses."""
    return openbao.new_path()


@pytest.fixture
def fake_kubernetes_api() -> Iterator[FakeKubernetesAPI]:
    api = FakeKubernetesAPI()
    try:
        yield api
    finally:
        api.close()
