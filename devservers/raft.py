"""A 3-node OpenBao cluster on integrated storage (raft), on loopback ports.

Each node is ``bao server -config=FILE`` with ``storage "raft"`` (its own data directory and
``node_id``), a plain-HTTP listener, and ``api_addr``/``cluster_addr`` naming its own loopback
ports. Bootstrapping is what an operator does with ``bao operator init``, ``bao operator unseal``
and ``bao operator raft join``, through the same HTTP API the CLI calls:

1. initialise the first node (one key share) and unseal it: a one-node cluster, active;
2. join the other two to it (``sys/storage/raft/join`` with ``leader_api_addr``) and unseal them;
3. wait until autopilot has promoted both to voters: only then does losing the leader leave a
   quorum (2 of 3) that can elect a new one.

``performance_multiplier = 1`` is the tight raft timing OpenBao recommends for production (the
default, 5, is tuned for slow development machines).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from devservers.openbao import bao_binary
from devservers.processes import free_port, stop_process

BOOT_DEADLINE = 90.0
_POLL = 0.05


@dataclasses.dataclass
class Node:
    name: str
    api_port: int
    cluster_port: int
    workdir: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def addr(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def config(self) -> str:
        return f"""
storage "raft" {{
  path                   = "{self.workdir / "data"}"
  node_id                = "{self.name}"
  performance_multiplier = 1
}}
listener "tcp" {{
  address         = "127.0.0.1:{self.api_port}"
  cluster_address = "127.0.0.1:{self.cluster_port}"
  tls_disable     = true
}}
api_addr      = "{self.addr}"
cluster_addr  = "http://127.0.0.1:{self.cluster_port}"
disable_mlock = true
ui            = false
log_level     = "info"
"""

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def health(self) -> int:
        """``sys/health`` status: 200 active, 429 standby, 503 sealed, 501 not initialised,
        0 not answering."""
        if not self.alive:
            return 0
        try:
            with urllib.request.urlopen(f"{self.addr}/v1/sys/health", timeout=0.5) as answer:
                return int(answer.status)
        except urllib.error.HTTPError as exc:
            return int(exc.code)
        except OSError:
            return 0


class RaftCluster:
    """Three raft nodes; :meth:`start` boots and joins them, :meth:`stop` ends them."""

    def __init__(self, workdir: Path, size: int = 3) -> None:
        self.workdir = workdir
        self.nodes = [
            Node(f"node{i}", free_port(), free_port(), workdir / f"node{i}") for i in range(size)
        ]
        self.root_token = ""
        self.unseal_key = ""

    # -- life cycle -----------------------------------------------------------------------------

    def start(self) -> RaftCluster:
        env = {
            name: value
            for name, value in os.environ.items()
            if not name.startswith(("VAULT_", "BAO_"))
        }
        for node in self.nodes:
            (node.workdir / "data").mkdir(parents=True, exist_ok=True)
            (node.workdir / "config.hcl").write_text(node.config(), encoding="utf-8")
            with (node.workdir / "server.log").open("wb") as log:
                node.process = subprocess.Popen(
                    [str(bao_binary()), "server", f"-config={node.workdir / 'config.hcl'}"],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    env={**env, "HOME": str(node.workdir)},
                    cwd=node.workdir,
                )
        for node in self.nodes:
            self._wait(lambda node=node: node.health() == 501, f"{node.name} to listen")
        first, *others = self.nodes
        init = self._call(first, "PUT", "/v1/sys/init", {"secret_shares": 1, "secret_threshold": 1})
        self.unseal_key, self.root_token = init["keys"][0], init["root_token"]
        self._call(first, "PUT", "/v1/sys/unseal", {"key": self.unseal_key})
        self._wait(lambda: first.health() == 200, f"{first.name} to become active")
        self._call(
            first,
            "POST",
            "/v1/sys/storage/raft/autopilot/configuration",
            {"server_stabilization_time": "1s", "cleanup_dead_servers": False},
        )
        for node in others:
            joined = self._call(
                node, "POST", "/v1/sys/storage/raft/join", {"leader_api_addr": first.addr}
            )
            assert joined.get("joined") is True, joined
            self._call(node, "PUT", "/v1/sys/unseal", {"key": self.unseal_key})
        self._wait(self._all_voters, "every node to become a raft voter")
        self._call(
            first, "POST", "/v1/sys/mounts/secret", {"type": "kv", "options": {"version": "2"}}
        )
        self._wait(self._kv_ready, "the KV v2 engine to be writable")
        return self

    def stop(self) -> None:
        for node in self.nodes:
            process, node.process = node.process, None
            stop_process(process)

    def kill(self, node: Node) -> None:
        """``SIGKILL``: the node dies without telling anyone, as a crashed host would."""
        assert node.process is not None
        node.process.send_signal(signal.SIGKILL)
        node.process.wait(timeout=10)

    # -- state ----------------------------------------------------------------------------------

    def active(self) -> Node | None:
        return next((node for node in self.nodes if node.health() == 200), None)

    def standbys(self) -> list[Node]:
        return [node for node in self.nodes if node.health() == 429]

    def peers(self) -> list[dict[str, Any]]:
        active = self.active()
        assert active is not None
        answer = self._call(active, "GET", "/v1/sys/storage/raft/configuration")
        return list(answer["data"]["config"]["servers"])

    def write(self, path: str, data: dict[str, Any]) -> int:
        active = self.active()
        assert active is not None, "no active node to write to"
        answer = self._call(active, "POST", f"/v1/secret/data/{path}", {"data": data})
        return int(answer["data"]["version"])

    def version_on(self, node: Node, path: str) -> int:
        """The KV v2 version ``node`` itself answers with (0: none or not answering)."""
        try:
            answer = self._call(node, "GET", f"/v1/secret/data/{path}")
        except OSError:
            return 0
        return int(answer["data"]["metadata"]["version"])

    # -- helpers --------------------------------------------------------------------------------

    def _all_voters(self) -> bool:
        try:
            servers = self.peers()
        except (AssertionError, OSError, KeyError):
            return False
        return len(servers) == len(self.nodes) and all(server["voter"] for server in servers)

    def _kv_ready(self) -> bool:
        """Written on the leader and readable on every node (a standby answers 400 "waiting
        for the primary to upgrade" for a moment after a KV v2 mount is created)."""
        with contextlib.suppress(OSError, KeyError, AssertionError):
            self.write("cluster/ready", {"ok": "yes"})
            for node in self.nodes:
                self._call(node, "GET", "/v1/secret/data/cluster/ready")
            return True
        return False

    def _call(
        self, node: Node, method: str, path: str, body: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        request = urllib.request.Request(
            node.addr + path,
            method=method,
            data=json.dumps(body).encode() if body is not None else None,
            headers={"X-Vault-Token": self.root_token} if self.root_token else {},
        )
        with urllib.request.urlopen(request, timeout=10) as answer:
            text = answer.read()
        return dict(json.loads(text)) if text else {}

    def _wait(self, check: Any, what: str) -> None:
        deadline = time.monotonic() + BOOT_DEADLINE
        while not check():
            for node in self.nodes:
                if node.process is not None and node.process.poll() is not None:
                    log = (node.workdir / "server.log").read_text("utf-8", "replace")[-2000:]
                    raise RuntimeError(f"{node.name} exited while waiting for {what}:\n{log}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"timed out waiting for {what}")
            time.sleep(_POLL)  # bounded poll of external processes
