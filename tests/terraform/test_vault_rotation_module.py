"""terraform/modules/vault-rotation-aws, read with python-hcl2: the Lambda runs the Vault handler
from the `--backend vault` package with the settings the handler reads, the schedule invokes it,
each IAM role can do one thing, and the Vault login is bound to the Lambda's role with the
rotator policy only. (What those identities may do in Vault is tried against OpenBao in
test_rotation_identities.py.)"""

from __future__ import annotations

import re

import pytest

from secret_keyring.providers.vault import VaultProvider
from secret_keyring.rotation.lambda_zip import HANDLERS
from secret_keyring.urls import SCHEMES, provider_from_url
from tests.terraform import tfconfig
from tests.terraform.tfconfig import Config

ACCOUNT = "123456789012"
LAMBDA_ARN = f"arn:aws:lambda:eu-west-1:{ACCOUNT}:function:vault-rotate-myapp-django"
LOG_GROUP_ARN = f"arn:aws:logs:eu-west-1:{ACCOUNT}:log-group:/aws/lambda/vault-rotate-myapp-django"


@pytest.fixture(scope="module")
def module(configs: dict[str, Config]) -> Config:
    return configs["vault-rotation-aws"]


def test_the_lambda_runs_the_vault_handler_from_its_package(module: Config) -> None:
    function = module.resources[("aws_lambda_function", "this")]
    assert tfconfig.literal(function["handler"]) == HANDLERS["vault"]
    assert function["filename"] == "${var.lambda_zip_path}"
    # A new package is a new deployment.
    assert function["source_code_hash"] == "${filebase64sha256(var.lambda_zip_path)}"
    assert "--backend vault" in module.variables["lambda_zip_path"]["description"]


def test_the_lambda_gets_the_settings_the_handler_reads(module: Config) -> None:
    (environment,) = module.resources[("aws_lambda_function", "this")]["environment"]
    variables = environment["variables"]
    for name, value in {
        "SECRET_KEYRING_SOURCE": "local.source_url",
        "SECRET_KEYRING_MAX_FALLBACKS": "tostring(var.max_fallbacks)",
        "SECRET_KEYRING_MIN_INTERVAL": "tostring(var.min_interval_seconds)",
        "VAULT_ADDR": "var.vault_address",
    }.items():
        assert re.search(rf"\b{name} = {re.escape(value)}", variables), name
    # The caller's extra variables come first, so they cannot override the module's own.
    assert variables.startswith("${merge(var.lambda_environment_variables, {")
    assert module.variables["min_interval_seconds"]["default"] == 900
    assert module.variables["max_fallbacks"]["default"] == 3


def test_the_source_url_logs_in_with_the_lambda_role(module: Config) -> None:
    """Every option the module may put in the URL is one the library accepts, and a URL built
    from them gives a provider that logs in with auth=aws as the module's role."""
    options_expr = module.locals["source_options"]
    options = set(re.findall(r'"([a-z_]+)=', options_expr))
    assert options == {"auth", "role", "auth_mount", "namespace", "aws_header_value"}
    assert options <= SCHEMES["vault"]
    assert '"auth=aws"' in options_expr
    assert '"role=${local.role_name}"' in options_expr
    # Null with create = false, when mount and name may be null too.
    assert module.locals["source_url"] == (
        '${var.create ? "vault://${var.mount}/${var.name}?'
        '${join("&", local.source_options)}" : null}'
    )
    url = (
        "vault://secret/myapp/django?auth=aws&role=myapp-django-rotator&auth_mount=aws-prod"
        "&namespace=team&aws_header_value=vault.example.com"
    )
    provider = provider_from_url(url)
    assert isinstance(provider, VaultProvider)
    assert (provider.mount, provider.path, provider.auth, provider.role) == (
        "secret",
        "myapp/django",
        "aws",
        "myapp-django-rotator",
    )
    assert provider.aws_header_value == "vault.example.com"


def test_the_vault_role_is_bound_to_the_lambda_role_with_the_rotator_policy(
    module: Config,
) -> None:
    role = module.resources[("vault_aws_auth_backend_role", "this")]
    assert tfconfig.literal(role["auth_type"]) == "iam"
    assert role["role"] == "${local.role_name}"
    assert role["backend"] == "${var.vault_auth_backend}"
    assert role["bound_iam_principal_arns"] == ["${aws_iam_role.lambda[0].arn}"]
    assert role["resolve_aws_unique_ids"] is True
    assert role["token_policies"] == ["${var.rotator_policy_name}"]
    assert role["token_ttl"] == role["token_max_ttl"] == "${var.vault_token_ttl}"
    assert module.variables["vault_token_ttl"]["default"] == 300
    (validation,) = module.variables["rotator_policy_name"]["validation"]
    assert '["root", "default"]' in validation["condition"]


def _trusted_service(module: Config, document: str) -> str:
    (statement,) = module.data[("aws_iam_policy_document", document)]["statement"]
    assert [tfconfig.literal(a) for a in statement["actions"]] == ["sts:AssumeRole"]
    (principals,) = statement["principals"]
    assert tfconfig.literal(principals["type"]) == "Service"
    (service,) = principals["identifiers"]
    return tfconfig.literal(service)


def test_the_lambda_role_may_write_its_logs_and_nothing_else(module: Config) -> None:
    known = {"aws_cloudwatch_log_group.this[0].arn": LOG_GROUP_ARN, "local.in_vpc": False}
    policy = tfconfig.render_iam_policy(module, "lambda", known)
    assert policy["Statement"] == [
        {
            "Sid": "WriteOwnLogs",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": [f"{LOG_GROUP_ARN}:*"],
        }
    ]
    in_vpc = tfconfig.render_iam_policy(module, "lambda", {**known, "local.in_vpc": True})
    (ec2,) = [s for s in in_vpc["Statement"] if s["Sid"] == "ManageVpcNetworkInterfaces"]
    assert all(action.startswith("ec2:") for action in ec2["Action"])
    assert _trusted_service(module, "lambda_assume_role") == "lambda.amazonaws.com"


def test_the_schedule_may_invoke_this_function_only(module: Config) -> None:
    known = {"aws_lambda_function.this[0].arn": LAMBDA_ARN}
    policy = tfconfig.render_iam_policy(module, "scheduler", known)
    assert policy["Statement"] == [
        {
            "Sid": "InvokeTheRotationLambda",
            "Effect": "Allow",
            "Action": ["lambda:InvokeFunction"],
            "Resource": [LAMBDA_ARN],
        }
    ]
    assert _trusted_service(module, "scheduler_assume_role") == "scheduler.amazonaws.com"
    (statement,) = module.data[("aws_iam_policy_document", "scheduler_assume_role")]["statement"]
    (condition,) = statement["condition"]
    assert tfconfig.literal(condition["variable"]) == "aws:SourceAccount"
    assert condition["values"] == ["${data.aws_caller_identity.current.account_id}"]


def test_the_schedule_targets_the_lambda(module: Config) -> None:
    schedule = module.resources[("aws_scheduler_schedule", "this")]
    assert schedule["schedule_expression"] == "${var.schedule_expression}"
    assert tfconfig.literal(module.variables["schedule_expression"]["default"]) == "rate(30 days)"
    (window,) = schedule["flexible_time_window"]
    assert tfconfig.literal(window["mode"]) == "OFF"
    (target,) = schedule["target"]
    assert target["arn"] == "${aws_lambda_function.this[0].arn}"
    assert target["role_arn"] == "${aws_iam_role.scheduler[0].arn}"
    (retry,) = target["retry_policy"]
    assert set(retry) - {"__is_block__"} == {
        "maximum_retry_attempts",
        "maximum_event_age_in_seconds",
    }
    invoke = module.resources[("aws_lambda_function_event_invoke_config", "this")]
    assert invoke["maximum_retry_attempts"] == "${var.lambda_maximum_retry_attempts}"


def test_the_example_wires_the_rotator_policy_of_its_secret(configs: dict[str, Config]) -> None:
    example = configs["vault-rotation-aws-complete"]
    call = example.modules["django_secret_key_rotation"]
    assert call["rotator_policy_name"] == "${module.django_secret_key.rotator_policy_name}"
    assert call["mount"] == "${module.django_secret_key.mount}"
    assert call["name"] == example.modules["django_secret_key"]["name"]
    assert call["vault_auth_backend"] == "${vault_auth_backend.aws.path}"
    backend = example.resources[("vault_auth_backend", "aws")]
    assert tfconfig.literal(backend["type"]) == "aws"
