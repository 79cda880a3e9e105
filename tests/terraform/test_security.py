"""Security properties read off the parsed HCL: least-privilege IAM and Vault policies, keys only
in write-only arguments, sensitive outputs, the rotation Lambda wiring, and source URLs the
library accepts."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from secret_keyring.urls import SCHEMES, parse_source_url
from tests.terraform import tfconfig
from tests.terraform.tfconfig import Config, Reference

HANDLER = "secret_keyring.rotation.aws.lambda_handler"
ROTATION_ACTIONS = {
    "secretsmanager:DescribeSecret",
    "secretsmanager:GetSecretValue",
    "secretsmanager:PutSecretValue",
    "secretsmanager:UpdateSecretVersionStage",
}
APP_ACTIONS = {"secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue", "kms:Decrypt"}
READ_VERBS = ("Get", "Describe", "List", "Decrypt", "BatchGet")
SECRET_SERVICES = ("secretsmanager:", "kms:")
ALL_NAMES = sorted({**tfconfig.MODULES, **tfconfig.EXAMPLES})


def _statements(config: Config) -> dict[str, list[dict[str, Any]]]:
    return {
        name: tfconfig.raw_blocks(body, "statement")
        for (kind, name), body in config.data.items()
        if kind == "aws_iam_policy_document"
    }


def _actions(statement: dict[str, Any]) -> list[str]:
    return [tfconfig.literal(action) for action in statement["actions"]]


# -- IAM --------------------------------------------------------------------------------------


def test_every_iam_policy_comes_from_a_policy_document(aws_module: Config) -> None:
    """So the checks below see every statement: no inline JSON policy anywhere."""
    attachments = 0
    for address, body in aws_module.blocks():
        for attribute in ("policy", "assume_role_policy"):
            if attribute in body and address.startswith("aws_iam_"):
                attachments += 1
                assert re.fullmatch(
                    r"\$\{data\.aws_iam_policy_document\.\w+\[0\]\.json\}", body[attribute]
                ), f"{address}.{attribute} = {body[attribute]}"
    assert attachments == 3  # the rotation role's trust and permissions, the app attachment


def test_no_statement_grants_wildcards_on_secrets(aws_module: Config) -> None:
    for document, statements in _statements(aws_module).items():
        for statement in statements:
            actions = _actions(statement)
            assert "not_actions" not in statement
            assert "not_resources" not in statement
            assert "effect" not in statement or tfconfig.literal(statement["effect"]) == "Allow"
            for action in actions:
                assert action != "*", document
                assert not action.endswith(":*"), f"{document}: {action}"
                if action.startswith(SECRET_SERVICES):
                    assert "*" not in action, f"{document}: wildcard action {action}"
            if any(action.startswith(SECRET_SERVICES) for action in actions):
                resources = statement["resources"]
                assert resources, f"{document}: secret actions without resources"
                for resource in resources:
                    assert tfconfig.is_expression(resource), (document, resource)
                    assert "*" not in resource, f"{document}: {resource}"


def test_secret_actions_are_scoped_to_this_secret_and_key(aws_module: Config) -> None:
    for document, statements in _statements(aws_module).items():
        for statement in statements:
            actions = _actions(statement)
            if any(action.startswith("secretsmanager:") for action in actions):
                assert statement["resources"] == ["${local.secret_arn}"], document
            if any(action.startswith("kms:") for action in actions):
                assert statement["resources"] == ["${statement.value}"], document
                (condition,) = statement["condition"]
                assert tfconfig.literal(condition["test"]) == "StringEquals"
                assert tfconfig.literal(condition["variable"]) == "kms:ViaService"
                assert condition["values"] == ["${local.kms_via_secretsmanager}"]


def test_app_policy_is_read_only(aws_module: Config) -> None:
    actions = {a for s in _statements(aws_module)["app_read"] for a in _actions(s)}
    assert actions == APP_ACTIONS
    writes = [a for a in actions if not a.split(":", 1)[1].startswith(READ_VERBS)]
    assert writes == []


def test_rotation_policy_is_exactly_the_rotation_protocol(aws_module: Config) -> None:
    statements = _statements(aws_module)["rotation"]
    secret_actions = {a for s in statements for a in _actions(s) if a.startswith("secretsmanager:")}
    assert secret_actions == ROTATION_ACTIONS
    kms_actions = {a for s in statements for a in _actions(s) if a.startswith("kms:")}
    assert kms_actions == {"kms:Decrypt", "kms:GenerateDataKey"}
    logs = next(s for s in statements if _actions(s)[0].startswith("logs:"))
    assert logs["resources"] == ['"${aws_cloudwatch_log_group.rotation[0].arn}:*"']


def test_rendered_app_policy_without_a_customer_key(aws_module: Config) -> None:
    """With the AWS-managed key the policy has no KMS statement at all."""
    policy = tfconfig.render_iam_policy(
        aws_module,
        "app_read",
        {
            "local.secret_arn": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:x-AbCdEf",
            "local.use_cmk": False,
            "local.kms_key_arn": None,
            "data.aws_region.current.region": "eu-west-1",
        },
    )
    (statement,) = policy["Statement"]
    assert set(statement["Action"]) == {
        "secretsmanager:DescribeSecret",
        "secretsmanager:GetSecretValue",
    }


# -- rotation Lambda ----------------------------------------------------------------------------


# The EC2 actions of the AWS managed policy AWSLambdaVPCAccessExecutionRole (policy version v3).
LAMBDA_VPC_ACCESS_EC2 = {
    "ec2:CreateNetworkInterface",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeSubnets",
    "ec2:DeleteNetworkInterface",
    "ec2:AssignPrivateIpAddresses",
    "ec2:UnassignPrivateIpAddresses",
}


def test_a_lambda_in_a_vpc_gets_what_the_managed_vpc_policy_grants(aws_module: Config) -> None:
    known = {
        "local.secret_arn": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:x-AbCdEf",
        "local.use_cmk": False,
        "local.kms_key_arn": None,
        "aws_cloudwatch_log_group.rotation[0].arn": "arn:aws:logs:eu-west-1:1:log-group:x",
    }
    inside = tfconfig.render_iam_policy(aws_module, "rotation", {**known, "local.in_vpc": True})
    (vpc,) = [s for s in inside["Statement"] if any(a.startswith("ec2:") for a in s["Action"])]
    assert set(vpc["Action"]) == LAMBDA_VPC_ACCESS_EC2
    outside = tfconfig.render_iam_policy(aws_module, "rotation", {**known, "local.in_vpc": False})
    assert not [a for s in outside["Statement"] for a in s["Action"] if a.startswith("ec2:")]


def test_lambda_handler_and_package(aws_module: Config) -> None:
    function = aws_module.resources[("aws_lambda_function", "rotation")]
    assert tfconfig.literal(function["handler"]) == HANDLER
    assert function["filename"] == "${var.lambda_zip_path}"
    assert function["source_code_hash"] == "${filebase64sha256(var.lambda_zip_path)}"
    assert function["runtime"] == "${var.lambda_runtime}"
    assert function["timeout"] == "${var.lambda_timeout}"
    assert function["memory_size"] == "${var.lambda_memory_size}"
    assert function["role"] == "${aws_iam_role.rotation[0].arn}"
    runtime = aws_module.variables["lambda_runtime"]
    assert tfconfig.literal(runtime["default"]).startswith("python3.")


def test_only_secrets_manager_may_invoke_the_lambda_for_this_secret(aws_module: Config) -> None:
    (permission,) = [
        body for (kind, _), body in aws_module.resources.items() if kind == "aws_lambda_permission"
    ]
    assert tfconfig.literal(permission["action"]) == "lambda:InvokeFunction"
    assert tfconfig.literal(permission["principal"]) == "secretsmanager.amazonaws.com"
    assert permission["source_account"] == "${local.account_id}"
    assert permission["source_arn"] == "${local.secret_arn}"
    assert permission["function_name"] == "${aws_lambda_function.rotation[0].function_name}"
    assert aws_module.locals["account_id"] == "${data.aws_caller_identity.current.account_id}"


def test_rotation_schedule(aws_module: Config) -> None:
    rotation = aws_module.resources[("aws_secretsmanager_secret_rotation", "this")]
    assert rotation["rotation_lambda_arn"] == "${aws_lambda_function.rotation[0].arn}"
    assert rotation["rotate_immediately"] == "${var.rotate_immediately}"
    assert aws_module.variables["rotate_immediately"]["default"] is False
    (rules,) = rotation["rotation_rules"]
    assert rules["schedule_expression"] == "${var.rotation_schedule_expression}"
    assert "var.rotation_automatically_after_days" in rules["automatically_after_days"]
    assert rotation["depends_on"] == [
        "${aws_lambda_permission.secretsmanager}",
        "${aws_secretsmanager_secret_version.initial}",
    ]


# -- keys only in write-only arguments ---------------------------------------------------------


def _secret_bearing(ref: Reference) -> bool:
    """References whose value is, or holds, key material or login material."""
    attribute = ref.parts[-1] if ref.parts else ""
    return (
        ref.root == "ephemeral"
        or ref.root in {"random_password", "random_string", "random_bytes"}
        or (ref.root == "aws_secretsmanager_secret_version" and attribute.startswith("secret_"))
        or (ref.root == "vault_kv_secret_v2" and attribute.startswith("data"))
        or ref.root == "vault_approle_auth_backend_role_secret_id"
        or (ref.root == "vault_approle_auth_backend_role" and attribute == "role_id")
        or (ref.root == "data" and ref.parts[:1] in (("aws_secretsmanager_secret_version",),))
    )


#: How many write-only arguments each module feeds generated keys into (a new module must say).
KEY_WRITES = {"aws-secret": 1, "vault-secret": 1, "vault-rotation-aws": 0}


@pytest.mark.parametrize("name", sorted(tfconfig.MODULES))
def test_generated_keys_reach_only_write_only_arguments(
    configs: dict[str, Config], name: str
) -> None:
    writes = KEY_WRITES[name]
    config = configs[name]
    assert not any(
        kind in {"random_password", "random_string", "random_bytes"} for kind, _ in config.resources
    ), "a managed random value would be stored in state"
    write_only_uses = 0
    for where, expr in config.expressions():
        refs = [ref for ref in tfconfig.scan_expression(expr).references if ref.root == "ephemeral"]
        if not refs:
            continue
        attribute = where.split(".")[-1]
        assert attribute.endswith("_wo"), f"{where} uses {refs[0]}"
        write_only_uses += 1
    assert write_only_uses == writes


@pytest.mark.parametrize(
    ("name", "resource", "attribute"),
    [
        ("aws-secret", ("aws_secretsmanager_secret_version", "initial"), "secret_string_wo"),
        ("vault-secret", ("vault_kv_secret_v2", "this"), "data_json_wo"),
    ],
)
def test_first_keyring_is_keyring_json_through_write_only(
    configs: dict[str, Config], name: str, resource: tuple[str, str], attribute: str
) -> None:
    config = configs[name]
    body = config.resources[resource]
    assert not {"secret_string", "secret_binary", "data_json"} & set(body)
    assert body[attribute] == (
        "${jsonencode({current = ephemeral.random_password.current[0].result, "
        "next = ephemeral.random_password.next[0].result, previous = []})}"
    )
    version = f"{attribute}_version"
    assert body[version] == f"${{var.{version}}}"
    assert config.variables[version]["default"] == 1
    for key in ("current", "next"):
        password = config.ephemerals[("random_password", key)]
        assert password["length"] == "${var.key_length}"
        # Letters, digits and at most '-' and '_': URL- and shell-safe, like the library's keys.
        special = password.get("special", True)
        assert special is False or set(tfconfig.literal(password["override_special"])) <= set("-_")
    key_length = config.variables["key_length"]
    assert key_length["default"] >= 50
    (validation,) = key_length["validation"]
    assert "var.key_length >= 50" in validation["condition"]


def test_rotation_owns_the_value_after_the_first_write(aws_module: Config) -> None:
    """The first version is written once with AWSCURRENT and a label of its own; Terraform then
    ignores its labels, so it never moves AWSCURRENT back, and the own label (which no rotation,
    put-secret-value or `secret-keyring rotate` touches) keeps the version from being
    deprecated, so the provider never finds it gone and never writes a new first keyring. The
    behaviour behind it is checked against moto in
    tests/integration/test_terraform_initial_version.py."""
    version = aws_module.resources[("aws_secretsmanager_secret_version", "initial")]
    (lifecycle,) = version["lifecycle"]
    assert "version_stages" in lifecycle["ignore_changes"]
    assert version["version_stages"] == ['"AWSCURRENT"', "${local.initial_version_stage}"]
    label = tfconfig.literal(aws_module.locals["initial_version_stage"])
    assert label not in {"AWSCURRENT", "AWSPENDING", "AWSPREVIOUS"}
    assert 1 <= len(label) <= 256  # Secrets Manager's limit for a staging label
    # Every mode (rotation on or off) writes through this same resource.
    assert version["count"] == "${var.create && var.write_initial_keyring ? 1 : 0}"


def test_vault_secret_resource_has_nothing_to_update_in_place(vault_module: Config) -> None:
    """An in-place update could resend a freshly generated write-only keyring over the rotated
    one, so the KV resource holds only arguments that never change: metadata and the destroy
    behaviour (`delete_all_versions_on_destroy`, which users change after creation) live apart.
    The one write is create-only (the check-and-set option `options = { cas = "0" }`; the
    provider's top-level `cas` is ignored by KV v2) and can be switched off."""
    body = vault_module.resources[("vault_kv_secret_v2", "this")]
    arguments = {key for key in body if not key.startswith("__")}
    assert arguments == {
        "count",
        "mount",
        "name",
        "namespace",
        "options",
        "data_json_wo",
        "data_json_wo_version",
    }
    assert body["options"] == {"cas": '"0"'}
    assert body["count"] == "${local.write_initial_keyring ? 1 : 0}"
    assert (
        vault_module.locals["write_initial_keyring"] == "${var.create && var.write_initial_keyring}"
    )
    assert vault_module.variables["write_initial_keyring"]["default"] is True
    for key in ("current", "next"):  # no key is generated when none is written
        assert vault_module.ephemerals[("random_password", key)]["count"] == body["count"]
    metadata = vault_module.resources[("vault_generic_endpoint", "metadata")]
    # Deleting the metadata destroys every version: only when asked for, and the flag is an
    # ordinary in-place update of this resource.
    assert metadata["disable_delete"] == "${!var.delete_all_versions_on_destroy}"
    assert vault_module.variables["delete_all_versions_on_destroy"]["default"] is False
    assert metadata["count"] == "${var.create ? 1 : 0}"  # also without the first write
    assert not any(_secret_bearing(ref) for ref in tfconfig.references_in(metadata))


def test_approle_credentials_expire_by_default(vault_module: Config) -> None:
    body = vault_module.variables["approle_roles"]["type"]
    defaults = dict(re.findall(r"(\w+)\s*=\s*optional\(number, (\d+)\)", body))
    assert {name: int(value) for name, value in defaults.items()} == {
        "token_ttl": 3600,
        "token_max_ttl": 14400,
        "secret_id_ttl": 30 * 86400,
        "secret_id_num_uses": 1000,
    }
    assert "secret_id_bound_cidrs = optional(list(string), [])" in body
    conditions = " ".join(
        v["condition"] for v in vault_module.variables["approle_roles"]["validation"]
    )
    assert "role.secret_id_ttl > 0" in conditions
    assert "role.token_ttl > 0" in conditions
    role = vault_module.resources[("vault_approle_auth_backend_role", "this")]
    for argument in (
        "secret_id_ttl",
        "secret_id_num_uses",
        "secret_id_bound_cidrs",
        "token_max_ttl",
    ):
        assert role[argument] == f"${{each.value.{argument}}}"


# -- sensitive outputs ---------------------------------------------------------------------------


def _tainted_locals(config: Config) -> set[str]:
    tainted: set[str] = set()
    changed = True
    while changed:
        changed = False
        for name, expr in config.locals.items():
            if name in tainted:
                continue
            refs = tfconfig.references_in(expr)
            if any(_secret_bearing(r) or _local_in(r, tainted) for r in refs):
                tainted.add(name)
                changed = True
    return tainted


def _local_in(ref: Reference, names: set[str]) -> bool:
    return ref.root == "local" and bool(ref.parts) and ref.parts[0] in names


def _unmarked_outputs(config: Config) -> list[str]:
    tainted = _tainted_locals(config)
    sensitive_module_outputs = {
        (call, output)
        for call in config.modules
        for output, body in tfconfig.load(tfconfig.module_source_dir(config, call)).outputs.items()
        if body.get("sensitive") is True
    }
    problems = []
    for output, body in config.outputs.items():
        refs = tfconfig.references_in(body["value"])
        secret = any(
            _secret_bearing(r)
            or _local_in(r, tainted)
            or (r.root == "module" and tuple(r.parts[:2]) in sensitive_module_outputs)
            for r in refs
        )
        if secret and body.get("sensitive") is not True:
            problems.append(output)
    return problems


@pytest.mark.parametrize("name", ALL_NAMES)
def test_outputs_derived_from_secrets_are_sensitive(configs: dict[str, Config], name: str) -> None:
    assert _unmarked_outputs(configs[name]) == []


def test_sensitive_outputs_that_exist(configs: dict[str, Config]) -> None:
    """The rule above is not vacuous: role IDs are marked, and so is the example passing them on."""
    assert configs["vault-secret"].outputs["approle_role_ids"]["sensitive"] is True
    assert configs["vault-complete"].outputs["approle_role_ids"]["sensitive"] is True


def test_sensitivity_check_catches_an_unmarked_output(tmp_path: Path) -> None:
    (tmp_path / "main.tf").write_text(
        """
ephemeral "random_password" "key" {
  length = 50
}

locals {
  keyring = jsonencode({ current = ephemeral.random_password.key.result })
}

resource "aws_secretsmanager_secret_version" "v" {
  secret_id     = "x"
  secret_string = local.keyring
}

output "leak" {
  value = aws_secretsmanager_secret_version.v.secret_string
}

output "also_leak" {
  value = local.keyring
}

output "fine" {
  value     = local.keyring
  sensitive = true
}
""",
        encoding="utf-8",
    )
    assert sorted(_unmarked_outputs(tfconfig.load(tmp_path))) == ["also_leak", "leak"]


# -- Vault policies ------------------------------------------------------------------------------


def _rules(config: Config, name: str) -> list[tuple[str, list[str]]]:
    body = config.data[("vault_policy_document", name)]
    return [
        (rule["path"], [tfconfig.literal(c) for c in rule["capabilities"]]) for rule in body["rule"]
    ]


def test_vault_app_policy_reads_one_secret_only(vault_module: Config) -> None:
    assert _rules(vault_module, "app") == [
        ("${local.data_path}", ["read"]),
        ("${local.metadata_path}", ["read"]),
    ]


def test_vault_rotator_policy(vault_module: Config) -> None:
    assert _rules(vault_module, "rotator") == [
        ("${local.data_path}", ["create", "read", "update"]),
        ("${local.metadata_path}", ["read"]),
    ]


def test_vault_policy_paths_have_no_glob(vault_module: Config) -> None:
    """Whatever mount and name a caller picks, the paths name one secret: the inputs' own
    validation refuses '*' and '+' and the templates add none."""
    for name in ("app", "rotator"):
        policy = tfconfig.render_vault_policy(
            vault_module, name, {"local.mount": "kv", "var.name": "team/app/django"}
        )
        assert set(policy["path"]) == {"kv/data/team/app/django", "kv/metadata/team/app/django"}
    for variable in ("mount", "name"):
        (validation,) = vault_module.variables[variable]["validation"]
        pattern = re.search(r'regex\("([^"]+)"', validation["condition"]).group(1)  # type: ignore[union-attr]
        assert not re.match(pattern.replace("\\\\", "\\"), "app/*")


def test_vault_policies_and_roles_use_the_documents(vault_module: Config) -> None:
    for name in ("app", "rotator"):
        policy = vault_module.resources[("vault_policy", name)]
        assert policy["policy"] == f"${{data.vault_policy_document.{name}[0].hcl}}"
    for kind in (
        "vault_approle_auth_backend_role",
        "vault_kubernetes_auth_backend_role",
        "vault_jwt_auth_backend_role",
    ):
        role = vault_module.resources[(kind, "this")]
        assert role["token_policies"] == (
            "${[for policy in each.value.policies : local.policy_names[policy]]}"
        )


# -- source URLs -------------------------------------------------------------------------------


def test_aws_source_url_is_accepted_by_the_library(aws_module: Config) -> None:
    value = aws_module.outputs["source_url"]["value"]
    template = re.search(r'("aws-secretsmanager://[^"]*")', value).group(1)  # type: ignore[union-attr]
    arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/myapp/django-AbCdEf"
    url = tfconfig.Evaluator(
        aws_module, {"local.secret_arn": arn, "data.aws_region.current.region": "eu-west-1"}
    ).value(template)
    parsed = parse_source_url(str(url))
    assert (parsed.scheme, parsed.location, dict(parsed.options)) == (
        "aws-secretsmanager",
        arn,
        {"region": "eu-west-1"},
    )


def test_vault_source_urls_are_accepted_by_the_library(vault_module: Config) -> None:
    base = tfconfig.Evaluator(vault_module, {"local.mount": "secret", "var.name": "myapp/django"})
    url = str(base.reference("local.source_url"))
    assert parse_source_url(url).location == "secret/myapp/django"
    options: set[str] = set()
    for output in ("approle_source_urls", "kubernetes_source_urls", "jwt_source_urls"):
        options |= set(re.findall(r'"([a-z_]+)=', vault_module.outputs[output]["value"]))
    options |= set(re.findall(r'"([a-z_]+)=', vault_module.locals["namespace_option"]))
    assert options == {"auth", "role", "auth_mount", "namespace"}
    assert options <= SCHEMES["vault"]
    full = f"{url}?auth=kubernetes&role=web&auth_mount=k8s-prod&namespace=team"
    assert dict(parse_source_url(full).options) == {
        "auth": "kubernetes",
        "role": "web",
        "auth_mount": "k8s-prod",
        "namespace": "team",
    }
