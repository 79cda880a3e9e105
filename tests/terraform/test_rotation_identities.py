"""The identities the Terraform modules and examples give the scheduled rotation and the
application, tried in a real OpenBao laid out as terraform/examples/vault-complete makes it
(KV mount ``django``, keyring ``myapp/prod``, the vault-secret policies rendered from the HCL).

* The Kubernetes CronJob (examples/kubernetes) logs in through OpenBao's own Kubernetes auth as
  the role the vault-complete example creates for it, with its service account (the API server's
  TokenReview is answered by a loopback fake); its command line, taken from the YAML, rotates the
  keyring and is refused on any other path.
* The Lambda of vault-rotation-aws logs in with the ``aws`` auth method, which OpenBao does not
  ship: its token is minted with exactly what the module's ``vault_aws_auth_backend_role`` grants
  (the rotator policy, ``vault_token_ttl``). The request signing is tested client side in
  tests/integration/test_vault_auth.py.
* The application's identity reads and cannot rotate.

Then the first write of vault-secret: check-and-set ``cas = 0`` against OpenBao.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from secret_keyring.cli import main as cli
from secret_keyring.errors import AccessDenied
from secret_keyring.keygen import new_keyring
from secret_keyring.payload import keyring_to_json, parse_mapping
from secret_keyring.providers.vault import auth as vault_provider
from secret_keyring.rotation.vault import lambda_handler
from tests.plugins.leakguard import assert_no_key_material
from tests.plugins.openbao import API_AUDIENCE, FakeKubernetesAPI, service_account_jwt
from tests.terraform import tfconfig
from tests.terraform.conftest import PolicyBao

pytestmark = pytest.mark.vault

CRONJOB = tfconfig.REPO / "examples" / "kubernetes" / "rotation-cronjob.yaml"
MOUNT = "django"  # vault-complete: mount = "django"
NAME = "myapp/prod"  # "${var.app_name}/${var.environment}" with the defaults
NEIGHBOURS = ("myapp/staging", "otherapp/prod")
APP_NAME = "myapp"


@dataclass(frozen=True)
class Layout:
    server: PolicyBao
    policies: dict[str, str]  # "app" / "rotator" -> policy name


def _ok(answer: tuple[int, Any], *expected: int) -> Any:
    status, body = answer
    assert status in (expected or (200, 204)), (status, body)
    return body


def _write(server: PolicyBao, path: str) -> None:
    keyring = json.loads(keyring_to_json(new_keyring()))
    _ok(server.request("POST", f"{MOUNT}/data/{path}", body={"data": keyring}))


def _versions(server: PolicyBao, path: str) -> int:
    body = _ok(server.request("GET", f"{MOUNT}/metadata/{path}"))
    return int(body["data"]["current_version"])


@pytest.fixture(scope="module")
def layout(policy_bao: PolicyBao, vault_module: tfconfig.Config) -> Layout:
    _ok(
        policy_bao.request(
            "POST", f"sys/mounts/{MOUNT}", body={"type": "kv", "options": {"version": "2"}}
        )
    )
    known = {"local.mount": MOUNT, "var.name": NAME}
    prefix = "django-secret-keyring-django-myapp-prod"  # what policy_name_prefix derives
    evaluator = tfconfig.Evaluator(vault_module, {"local.policy_name_prefix": prefix})
    policies = {}
    for name in ("app", "rotator"):
        policy_name = str(evaluator.value(vault_module.resources[("vault_policy", name)]["name"]))
        document = tfconfig.render_vault_policy(vault_module, name, known)
        _ok(
            policy_bao.request(
                "PUT", f"sys/policies/acl/{policy_name}", body={"policy": json.dumps(document)}
            )
        )
        policies[name] = policy_name
    for path in (NAME, *NEIGHBOURS):
        _write(policy_bao, path)
    return Layout(policy_bao, policies)


@pytest.fixture
def environment(vault_env: pytest.MonkeyPatch, layout: Layout) -> pytest.MonkeyPatch:
    """What a scheduled run is given: Vault's address and nothing from this machine."""
    vault_env.setenv("VAULT_ADDR", layout.server.addr)
    return vault_env


# -- the Kubernetes CronJob ----------------------------------------------------------------------


def _cronjob() -> tuple[dict[str, Any], dict[str, Any]]:
    documents = list(yaml.safe_load_all(CRONJOB.read_text(encoding="utf-8")))
    (account,) = [d for d in documents if d["kind"] == "ServiceAccount"]
    (cronjob,) = [d for d in documents if d["kind"] == "CronJob"]
    return account, cronjob


def _container(cronjob: dict[str, Any]) -> dict[str, Any]:
    (container,) = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    return container


def _example_rotator_role() -> str:
    """The vault-complete example's Kubernetes role for the CronJob, as HCL text."""
    text = (tfconfig.EXAMPLES["vault-complete"] / "main.tf").read_text(encoding="utf-8")
    kubernetes_roles = text[text.index("kubernetes_roles = {") :]
    match = re.search(r'"\$\{var\.app_name\}-rotator" = \{(.*?)\n      \}', kubernetes_roles, re.S)
    assert match, "vault-complete has no Kubernetes role for the rotation CronJob"
    return match.group(1)


@pytest.fixture(scope="module")
def kubernetes(layout: Layout) -> Iterator[FakeKubernetesAPI]:
    """Kubernetes auth at its default mount, with the example's two roles."""
    api = FakeKubernetesAPI()
    server = layout.server
    try:
        _ok(server.request("POST", "sys/auth/kubernetes", body={"type": "kubernetes"}))
        _ok(
            server.request(
                "POST",
                "auth/kubernetes/config",
                body={
                    "kubernetes_host": api.url,
                    "kubernetes_ca_cert": api.ca_pem,
                    "disable_local_ca_jwt": True,
                },
            )
        )
        role = _example_rotator_role()
        assert 'policies                         = ["rotator"]' in role
        assert 'bound_service_account_names      = ["${var.app_name}-rotator"]' in role
        assert "token_ttl                        = 300" in role
        # What vault_kubernetes_auth_backend_role makes of it, namespace = var.kubernetes_namespace.
        roles = {
            f"{APP_NAME}-rotator": (f"{APP_NAME}-rotator", "rotator", 300, 900, _role_audience()),
            f"{APP_NAME}-web": (APP_NAME, "app", 3600, 14400, ""),
        }
        for role_name, (account, policy, ttl, max_ttl, audience) in roles.items():
            _ok(
                server.request(
                    "POST",
                    f"auth/kubernetes/role/{role_name}",
                    body={
                        "bound_service_account_names": [account],
                        "bound_service_account_namespaces": [APP_NAME],
                        "token_policies": [layout.policies[policy]],
                        "token_ttl": ttl,
                        "token_max_ttl": max_ttl,
                        "audience": audience,
                    },
                )
            )
        yield api
    finally:
        api.close()


def _role_audience() -> str:
    """The audience the example's rotator role checks (``audience = "..."`` in its HCL)."""
    match = re.search(r'audience\s+=\s+"([^"]+)"', _example_rotator_role())
    assert match, "the example's rotator role names no audience"
    return match.group(1)


def _cronjob_audience() -> str:
    """The audience of the token the CronJob projects for its container."""
    pod = _cronjob()[1]["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    (volume,) = pod["volumes"]
    return str(volume["projected"]["sources"][0]["serviceAccountToken"].get("audience", ""))


def _pod_token(
    api: FakeKubernetesAPI,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    account: str,
    *,
    audience: str = API_AUDIENCE,
) -> None:
    """The service-account token of a pod running as ``account``: the default one, or one
    projected with ``audience``."""
    token = service_account_jwt(namespace=APP_NAME, name=account, audience=audience)
    api.valid.add(token)
    token_file = tmp_path / f"{account}.token"
    token_file.write_text(token)
    monkeypatch.setattr(vault_provider, "KUBERNETES_TOKEN_FILE", str(token_file))


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    status = cli(argv)
    captured = capsys.readouterr()
    assert_no_key_material(captured.out + captured.err, "the command's output")
    return status, captured.out + captured.err


def _denied(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    status, said = _run(argv, capsys)
    assert status == 1
    assert "AccessDenied" in said, said


def test_the_cronjob_matches_the_role_the_module_creates_for_it(
    configs: dict[str, tfconfig.Config],
) -> None:
    account, cronjob = _cronjob()
    pod = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert cronjob["spec"]["concurrencyPolicy"] == "Forbid"
    assert pod["serviceAccountName"] == account["metadata"]["name"] == f"{APP_NAME}-rotator"
    assert account["metadata"]["namespace"] == cronjob["metadata"]["namespace"] == APP_NAME
    # The example's roles bind service accounts in kubernetes_namespace: by default, the
    # CronJob's (a role bound to "default" refused the CronJob's login).
    example = configs["vault-complete"].variables["kubernetes_namespace"]
    assert tfconfig.literal(example["default"]) == cronjob["metadata"]["namespace"]
    assert pod["restartPolicy"] == "Never"
    assert cronjob["spec"]["jobTemplate"]["spec"]["backoffLimit"] >= 1
    (volume,) = pod["volumes"]
    (mount,) = _container(cronjob)["volumeMounts"]
    token_path = (
        f"{mount['mountPath']}/{volume['projected']['sources'][0]['serviceAccountToken']['path']}"
    )
    assert token_path == vault_provider.KUBERNETES_TOKEN_FILE  # where the library looks


def test_the_cronjob_command_is_a_valid_rotate_command() -> None:
    from secret_keyring.cli import _parser
    from secret_keyring.urls import parse_source_url

    command = _container(_cronjob()[1])["command"]
    assert command[0] == "secret-keyring"
    args = _parser().parse_args(command[1:])
    assert args.command == "rotate"
    assert args.min_interval == 900
    assert args.force is False
    url = parse_source_url(args.url)
    assert url.location == f"{MOUNT}/{NAME}"
    assert dict(url.options) == {"auth": "kubernetes", "role": f"{APP_NAME}-rotator"}


def test_the_cronjob_rotates_its_keyring_once_and_nothing_else(
    layout: Layout,
    kubernetes: FakeKubernetesAPI,
    environment: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _pod_token(
        kubernetes, environment, tmp_path, f"{APP_NAME}-rotator", audience=_cronjob_audience()
    )
    command = _container(_cronjob()[1])["command"][1:]
    before = _versions(layout.server, NAME)

    # The keyring was written seconds ago; the schedule's first run would find it a month old.
    status, said = _run([*command, "--min-interval", "0"], capsys)
    assert status == 0, said
    assert _versions(layout.server, NAME) == before + 1

    # The Job's retry (or the next run too soon): exactly the YAML's command line.
    status, said = _run(command, capsys)
    assert status == 0, said
    assert "skipped: the last rotation is " in said
    assert _versions(layout.server, NAME) == before + 1

    for neighbour in NEIGHBOURS:
        other = f"vault://{MOUNT}/{neighbour}?auth=kubernetes&role={APP_NAME}-rotator"
        _denied(["rotate", other, "--force"], capsys)


def test_the_web_pods_read_and_cannot_rotate(
    layout: Layout,
    kubernetes: FakeKubernetesAPI,
    environment: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _pod_token(kubernetes, environment, tmp_path, APP_NAME)
    url = f"vault://{MOUNT}/{NAME}?auth=kubernetes&role={APP_NAME}-web"
    before = _versions(layout.server, NAME)

    assert _run(["status", url], capsys)[0] == 0
    _denied(["rotate", url, "--force"], capsys)
    assert _versions(layout.server, NAME) == before
    _denied(
        ["status", f"vault://{MOUNT}/{NEIGHBOURS[0]}?auth=kubernetes&role={APP_NAME}-web"], capsys
    )


def test_a_pod_of_another_service_account_cannot_log_in_as_the_rotator(
    kubernetes: FakeKubernetesAPI,
    environment: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # The web pods' account, even with a token minted for Vault's audience.
    _pod_token(kubernetes, environment, tmp_path, APP_NAME, audience=_cronjob_audience())
    status, said = _run(
        ["rotate", f"vault://{MOUNT}/{NAME}?auth=kubernetes&role={APP_NAME}-rotator", "--force"],
        capsys,
    )
    assert status == 1
    assert "AccessDenied" in said, said
    assert "service account name not authorized" in said, said


def test_the_rotator_role_and_the_cronjob_token_share_a_dedicated_audience() -> None:
    """Not the API server's audience: a token made for the API server (every pod's default one)
    or for another service must not be a rotator's credential."""
    assert _role_audience() == _cronjob_audience()
    assert _role_audience() not in ("", API_AUDIENCE)


def test_the_rotators_default_token_cannot_log_in_as_the_rotator(
    kubernetes: FakeKubernetesAPI,
    environment: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The rotator's own service account, with a token minted for the API server (what a pod
    mounts when nothing asks for an audience): OpenBao checks the token's ``aud`` claim against
    the role's audience itself, and sends that audience in the TokenReview, where the API server
    (the fake, playing its audience rules) would refuse the token too."""
    _pod_token(kubernetes, environment, tmp_path, f"{APP_NAME}-rotator")  # default audience
    status, said = _run(
        ["rotate", f"vault://{MOUNT}/{NAME}?auth=kubernetes&role={APP_NAME}-rotator", "--force"],
        capsys,
    )
    assert status == 1
    assert "AccessDenied" in said, said
    assert "audience" in said, said


# -- the Lambda of vault-rotation-aws ------------------------------------------------------------


def _lambda_token(layout: Layout, configs: dict[str, tfconfig.Config]) -> str:
    """A token with what the module's aws auth role grants the Lambda's IAM role: its policies,
    its TTL, and whether the default policy is left out (token_no_default_policy)."""
    module = configs["vault-rotation-aws"]
    example = configs["vault-rotation-aws-complete"]
    role = module.resources[("vault_aws_auth_backend_role", "this")]
    assert role["token_policies"] == ["${var.rotator_policy_name}"]
    wiring = example.modules["django_secret_key_rotation"]["rotator_policy_name"]
    assert wiring == "${module.django_secret_key.rotator_policy_name}"
    ttl = module.variables["vault_token_ttl"]["default"]
    no_default_policy = role.get("token_no_default_policy", False)
    body = _ok(
        layout.server.request(
            "POST",
            "auth/token/create",
            body={
                "policies": [layout.policies["rotator"]],
                "ttl": f"{ttl}s",
                "no_default_policy": no_default_policy,
            },
        )
    )
    return str(body["auth"]["client_token"])


def test_the_lambda_identity_rotates_its_keyring_and_nothing_else(
    layout: Layout, configs: dict[str, tfconfig.Config], environment: pytest.MonkeyPatch
) -> None:
    environment.setenv("VAULT_TOKEN", _lambda_token(layout, configs))
    environment.setenv("SECRET_KEYRING_MIN_INTERVAL", "0")
    before = _versions(layout.server, NAME)

    environment.setenv("SECRET_KEYRING_SOURCE", f"vault://{MOUNT}/{NAME}")
    result = lambda_handler({}, None)

    assert (result["rotated"], result["version"]) == (True, str(before + 1))
    for neighbour in NEIGHBOURS:
        environment.setenv("SECRET_KEYRING_SOURCE", f"vault://{MOUNT}/{neighbour}")
        with pytest.raises(AccessDenied):
            lambda_handler({}, None)


def test_the_lambda_token_holds_the_rotator_policy_alone(
    layout: Layout, configs: dict[str, tfconfig.Config]
) -> None:
    """token_no_default_policy = true on the module's aws auth role: OpenBao then mints the
    token without the default policy (token self-service, cubbyhole, response wrapping), and
    the rotation above still succeeds with the rotator policy alone."""
    token = _lambda_token(layout, configs)
    body = _ok(layout.server.request("POST", "auth/token/lookup", body={"token": token}))
    assert body["data"]["policies"] == [layout.policies["rotator"]]
    status, _ = layout.server.request("GET", "auth/token/lookup-self", token=token)
    assert status == 403


def test_openbao_ships_no_aws_auth_method(
    layout: Layout, configs: dict[str, tfconfig.Config]
) -> None:
    """What `vault_auth_backend { type = "aws" }` asks of OpenBao, sent as the Vault provider
    sends it (POST sys/auth/PATH with the type): OpenBao has no built-in aws auth method (it is
    the external auth-aws plugin), so the request fails. The example takes the type from a
    variable for the plugin's registered name, and the module's README says how to register
    it."""
    status, answer = layout.server.request("POST", "sys/auth/aws-probe", body={"type": "aws"})
    assert status == 400, answer
    assert "plugin not found in the catalog: aws" in json.dumps(answer)

    example = configs["vault-rotation-aws-complete"]
    backend = example.resources[("vault_auth_backend", "aws")]
    assert backend["type"] == "${var.aws_auth_plugin}"
    assert tfconfig.literal(example.variables["aws_auth_plugin"]["default"]) == "aws"
    readme = (tfconfig.MODULES["vault-rotation-aws"] / "README.md").read_text(encoding="utf-8")
    assert "plugin not found in the catalog: aws" in readme
    assert "bao plugin register" in readme
    assert "bao auth enable -path=aws openbao-plugin-auth-aws" in readme


# -- vault-secret's first write ------------------------------------------------------------------


def _first_write(vault_module: tfconfig.Config) -> dict[str, Any]:
    """The body vault_kv_secret_v2 sends for the module's first write, built as the provider
    builds it (terraform-provider-vault 5.x, ``kvSecretV2Write``, which serves both create and
    update): ``{"data": ..., "cas": d.Get("cas"), "options": d.Get("options")}``. ``cas`` goes at
    the top level whether set or not (an unset TypeInt reads 0), ``options`` is a map of strings
    (a TypeMap; Terraform turns a number into its string). What the KV v2 engine then does with
    that body is OpenBao's own answer, not this test's."""
    resource = vault_module.resources[("vault_kv_secret_v2", "this")]
    options = resource.get("options", {})
    return {
        "data": json.loads(keyring_to_json(new_keyring())),
        "cas": int(resource.get("cas", 0)),
        "options": {
            key: tfconfig.literal(value) if tfconfig.is_quoted(value) else str(value)
            for key, value in options.items()
        },
    }


@pytest.mark.parametrize("rotations", [0, 2], ids=["from-init", "rotated"])
def test_the_first_write_never_overwrites_a_keyring(
    layout: Layout, vault_module: tfconfig.Config, rotations: int
) -> None:
    """The module pointed at a path that already holds a keyring (``from-init``: made by
    `secret-keyring init` or a migration), or ``data_json_wo_version`` raised on a secret that
    rotation has been maintaining (``rotated``: the provider's update sends the same body): the
    write is refused and the keyring is unchanged. A top-level ``cas`` alone was ignored by the
    engine, which wrote a new keyring and logged every user out."""
    server = layout.server
    path = f"existing-{rotations}/prod"
    for _ in range(1 + rotations):
        _write(server, path)
    before = _ok(server.request("GET", f"{MOUNT}/data/{path}"))["data"]

    status, answer = server.request("POST", f"{MOUNT}/data/{path}", body=_first_write(vault_module))

    assert status == 400, answer
    assert "check-and-set parameter did not match the current version" in json.dumps(answer)
    after = _ok(server.request("GET", f"{MOUNT}/data/{path}"))["data"]
    assert after == before
    assert _versions(server, path) == 1 + rotations


def test_the_first_write_creates_a_new_secret(
    layout: Layout, vault_module: tfconfig.Config
) -> None:
    path = "newapp/prod"
    body = _ok(
        layout.server.request("POST", f"{MOUNT}/data/{path}", body=_first_write(vault_module))
    )
    assert body["data"]["version"] == 1
    data = _ok(layout.server.request("GET", f"{MOUNT}/data/{path}"))["data"]["data"]
    assert parse_mapping(data).to_keyring().next is not None


def test_without_the_first_write_init_fills_the_metadata_only_path(
    layout: Layout,
    vault_module: tfconfig.Config,
    environment: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """write_initial_keyring = false: the module writes the metadata only, and
    `secret-keyring init` (check-and-set 0 too) then writes the first keyring."""
    path = "initapp/prod"
    metadata = vault_module.resources[("vault_generic_endpoint", "metadata")]
    assert metadata["path"] == "${local.metadata_path}"
    _ok(
        layout.server.request(
            "POST",
            f"{MOUNT}/metadata/{path}",
            body={"max_versions": 10, "custom_metadata": {"managed-by": "django-secret-keyring"}},
        )
    )
    environment.setenv("VAULT_TOKEN", layout.server.root_token)

    status, said = _run(["init", f"vault://{MOUNT}/{path}"], capsys)

    assert status == 0, said
    assert "first keyring written" in said
    assert _versions(layout.server, path) == 1


def test_deleting_the_metadata_first_then_the_data_destroys_cleanly(layout: Layout) -> None:
    """delete_all_versions_on_destroy = true: the metadata resource (disable_delete = false) is
    destroyed first (it depends on the KV resource), then the KV resource deletes its data path."""
    path = "goneapp/prod"
    _write(layout.server, path)
    _write(layout.server, path)
    _ok(layout.server.request("DELETE", f"{MOUNT}/metadata/{path}"))
    _ok(layout.server.request("DELETE", f"{MOUNT}/data/{path}"))
    status, _ = layout.server.request("GET", f"{MOUNT}/metadata/{path}")
    assert status == 404
