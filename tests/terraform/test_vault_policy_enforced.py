"""The two policies of terraform/modules/vault-secret, rendered from the parsed HCL, loaded into a
real OpenBao dev server: a token with the app policy reads the one secret and nothing else, a
token with the rotator policy rotates it with check-and-set and can do nothing else."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest

from tests.plugins.leakguard import make_key
from tests.terraform import tfconfig
from tests.terraform.conftest import PolicyBao

pytestmark = pytest.mark.vault

MOUNT = "secret"  # the dev server's KV version 2 mount
NAME = "myapp/django"


@dataclass(frozen=True)
class Tokens:
    app: str
    rotator: str


def _keyring() -> dict[str, object]:
    return {"current": make_key(), "next": make_key(), "previous": []}


def _token(policy_bao: PolicyBao, policy: str) -> str:
    status, body = policy_bao.request(
        "POST", "auth/token/create", body={"policies": [policy], "ttl": "10m"}
    )
    assert status == 200, body
    return str(body["auth"]["client_token"])


@pytest.fixture(scope="module")
def tokens(policy_bao: PolicyBao, vault_module: tfconfig.Config) -> Tokens:
    known = {"local.mount": MOUNT, "var.name": NAME}
    for name in ("app", "rotator"):
        policy = tfconfig.render_vault_policy(vault_module, name, known)
        status, body = policy_bao.request(
            "PUT", f"sys/policies/acl/keyring-{name}", body={"policy": json.dumps(policy)}
        )
        assert status == 204, body
    # What the module's write-only first write leaves behind, and a neighbour.
    for path in (NAME, "myapp/other", "otherapp/django"):
        status, body = policy_bao.request("POST", f"{MOUNT}/data/{path}", body={"data": _keyring()})
        assert status == 200, body
    return Tokens(_token(policy_bao, "keyring-app"), _token(policy_bao, "keyring-rotator"))


def test_app_reads_the_keyring_and_its_history(policy_bao: PolicyBao, tokens: Tokens) -> None:
    status, body = policy_bao.request("GET", f"{MOUNT}/data/{NAME}", token=tokens.app)
    assert status == 200, body
    assert set(body["data"]["data"]) == {"current", "next", "previous"}
    status, body = policy_bao.request("GET", f"{MOUNT}/data/{NAME}?version=1", token=tokens.app)
    assert status == 200, body
    status, body = policy_bao.request("GET", f"{MOUNT}/metadata/{NAME}", token=tokens.app)
    assert status == 200, body
    assert "versions" in body["data"]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", f"{MOUNT}/data/{NAME}", {"data": {"current": "x" * 50}}),
        ("PATCH", f"{MOUNT}/data/{NAME}", {"data": {"current": "x" * 50}}),
        ("DELETE", f"{MOUNT}/data/{NAME}", None),
        ("POST", f"{MOUNT}/delete/{NAME}", {"versions": [1]}),
        ("POST", f"{MOUNT}/destroy/{NAME}", {"versions": [1]}),
        ("POST", f"{MOUNT}/metadata/{NAME}", {"max_versions": 1}),
        ("LIST", f"{MOUNT}/metadata/myapp", None),
        ("GET", f"{MOUNT}/data/myapp/other", None),
        ("GET", f"{MOUNT}/data/otherapp/django", None),
        ("GET", f"{MOUNT}/metadata/myapp/other", None),
    ],
)
def test_app_can_do_nothing_else(
    policy_bao: PolicyBao, tokens: Tokens, method: str, path: str, body: object
) -> None:
    status, answer = policy_bao.request(method, path, token=tokens.app, body=body)
    assert status == 403, (status, answer)


def test_rotator_rotates_with_check_and_set(policy_bao: PolicyBao, tokens: Tokens) -> None:
    status, body = policy_bao.request("GET", f"{MOUNT}/data/{NAME}", token=tokens.rotator)
    assert status == 200, body
    version = body["data"]["metadata"]["version"]
    rotated = {"data": _keyring(), "options": {"cas": version}}
    status, body = policy_bao.request(
        "POST", f"{MOUNT}/data/{NAME}", token=tokens.rotator, body=rotated
    )
    assert status == 200, body
    assert body["data"]["version"] == version + 1
    # A second rotation from the same read loses: check-and-set is what the policy relies on.
    status, body = policy_bao.request(
        "POST", f"{MOUNT}/data/{NAME}", token=tokens.rotator, body=rotated
    )
    assert status == 400, body
    status, body = policy_bao.request("GET", f"{MOUNT}/metadata/{NAME}", token=tokens.rotator)
    assert status == 200, body


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("DELETE", f"{MOUNT}/data/{NAME}", None),
        ("POST", f"{MOUNT}/delete/{NAME}", {"versions": [1]}),
        ("POST", f"{MOUNT}/destroy/{NAME}", {"versions": [1]}),
        ("DELETE", f"{MOUNT}/metadata/{NAME}", None),
        ("POST", f"{MOUNT}/metadata/{NAME}", {"max_versions": 1}),
        ("LIST", f"{MOUNT}/metadata/myapp", None),
        ("GET", f"{MOUNT}/data/myapp/other", None),
        ("POST", f"{MOUNT}/data/myapp/other", {"data": {"current": "x" * 50}}),
        ("PUT", "sys/policies/acl/keyring-app", {"policy": "{}"}),
    ],
)
def test_rotator_can_do_nothing_else(
    policy_bao: PolicyBao, tokens: Tokens, method: str, path: str, body: object
) -> None:
    status, answer = policy_bao.request(method, path, token=tokens.rotator, body=body)
    assert status == 403, (status, answer)
