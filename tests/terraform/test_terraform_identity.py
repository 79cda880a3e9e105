"""What the identity running Terraform needs for the modules that manage AWS resources
(aws-secret, vault-rotation-aws): docs/terraform.md lists every AWS call the provider makes for
their resources, derived here from the modules themselves.

``CALLS`` is what the AWS provider (6.x, ``internal/service/*``) calls to create, read, update
and destroy each type; ``TAGGING`` the tagging actions a create call with tags is authorised
for as well (``CreateRole`` with tags needs ``iam:TagRole``, and so on); the other conditional
calls follow from what a resource is given: a customer-managed key on the secret means Secrets
Manager calls KMS on the caller's behalf when it writes the value, a VPC configuration means
Lambda describes the network with the caller's permissions. A resource type the table does not
know fails the test until its calls are added, so a new resource in the module cannot leave
the documented list short.

Then the provider's destroy of the first version (``resourceSecretVersionDelete``): it removes
every label in the version's refreshed state but ``AWSCURRENT``. moto stands in for Secrets
Manager; the calls are the provider's.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from secret_keyring.keygen import new_keyring
from secret_keyring.payload import keyring_to_json
from tests.terraform import tfconfig
from tests.terraform.tfconfig import Config

DOC = tfconfig.REPO / "docs" / "terraform.md"

CALLS: dict[str, set[str]] = {
    "data.aws_caller_identity": {"sts:GetCallerIdentity"},
    "data.aws_region": set(),
    "data.aws_iam_policy_document": set(),
    "aws_secretsmanager_secret": {
        "secretsmanager:CreateSecret",
        "secretsmanager:DescribeSecret",
        "secretsmanager:GetResourcePolicy",
        "secretsmanager:UpdateSecret",
        "secretsmanager:DeleteSecret",
    },
    "aws_secretsmanager_secret_version": {
        "secretsmanager:PutSecretValue",
        "secretsmanager:UpdateSecretVersionStage",
        "secretsmanager:ListSecretVersionIds",
        "secretsmanager:GetSecretValue",
    },
    "aws_secretsmanager_secret_policy": {
        "secretsmanager:PutResourcePolicy",
        "secretsmanager:GetResourcePolicy",
        "secretsmanager:DeleteResourcePolicy",
    },
    "aws_secretsmanager_secret_rotation": {
        "secretsmanager:RotateSecret",
        "secretsmanager:DescribeSecret",
        "secretsmanager:CancelRotateSecret",
        "lambda:InvokeFunction",
    },
    "aws_kms_key": {
        "kms:CreateKey",
        "kms:DescribeKey",
        "kms:GetKeyPolicy",
        "kms:GetKeyRotationStatus",
        "kms:EnableKeyRotation",
        "kms:ListResourceTags",
        "kms:ScheduleKeyDeletion",
    },
    "aws_kms_alias": {"kms:CreateAlias", "kms:ListAliases", "kms:DeleteAlias"},
    "aws_iam_role": {
        "iam:CreateRole",
        "iam:GetRole",
        "iam:ListRolePolicies",
        "iam:ListAttachedRolePolicies",
        "iam:ListInstanceProfilesForRole",
        "iam:DeleteRole",
    },
    "aws_iam_role_policy": {"iam:PutRolePolicy", "iam:GetRolePolicy", "iam:DeleteRolePolicy"},
    "aws_cloudwatch_log_group": {
        "logs:CreateLogGroup",
        "logs:PutRetentionPolicy",
        "logs:DescribeLogGroups",
        "logs:ListTagsForResource",
        "logs:DeleteLogGroup",
    },
    "aws_lambda_function": {
        "lambda:CreateFunction",
        "lambda:GetFunction",
        "lambda:GetFunctionCodeSigningConfig",
        "lambda:ListVersionsByFunction",
        "lambda:UpdateFunctionCode",
        "lambda:UpdateFunctionConfiguration",
        "lambda:DeleteFunction",
        "iam:PassRole",
    },
    "aws_lambda_permission": {
        "lambda:AddPermission",
        "lambda:GetPolicy",
        "lambda:RemovePermission",
    },
    "aws_sns_topic": {
        "sns:CreateTopic",
        "sns:GetTopicAttributes",
        "sns:SetTopicAttributes",
        "sns:ListTagsForResource",
        "sns:DeleteTopic",
    },
    "aws_cloudwatch_event_rule": {
        "events:PutRule",
        "events:DescribeRule",
        "events:ListTagsForResource",
        "events:DeleteRule",
    },
    "aws_cloudwatch_event_target": {
        "events:PutTargets",
        "events:ListTargetsByRule",
        "events:RemoveTargets",
    },
    "aws_cloudwatch_metric_alarm": {
        "cloudwatch:PutMetricAlarm",
        "cloudwatch:DescribeAlarms",
        "cloudwatch:ListTagsForResource",
        "cloudwatch:DeleteAlarms",
    },
    # vault-rotation-aws. These follow each resource's create/read/update/delete API and the
    # provider's tags interceptor; unlike the entries above they were not checked line by line
    # against the provider's source, which was not at hand.
    "data.aws_partition": set(),
    "aws_sqs_queue": {
        "sqs:CreateQueue",
        "sqs:GetQueueAttributes",
        "sqs:SetQueueAttributes",
        "sqs:ListQueueTags",
        "sqs:DeleteQueue",
    },
    "aws_scheduler_schedule": {
        "scheduler:CreateSchedule",
        "scheduler:GetSchedule",
        "scheduler:UpdateSchedule",
        "scheduler:DeleteSchedule",
        "iam:PassRole",
    },
    "aws_lambda_function_event_invoke_config": {
        "lambda:PutFunctionEventInvokeConfig",
        "lambda:GetFunctionEventInvokeConfig",
        "lambda:UpdateFunctionEventInvokeConfig",
        "lambda:DeleteFunctionEventInvokeConfig",
    },
}

#: The modules whose AWS resources the identity running Terraform creates.
AWS_MODULES = ("aws-secret", "vault-rotation-aws")

#: A create call carrying tags is authorised for the tagging action too; later tag changes use
#: both.
TAGGING: dict[str, tuple[str, str]] = {
    "aws_secretsmanager_secret": ("secretsmanager:TagResource", "secretsmanager:UntagResource"),
    "aws_kms_key": ("kms:TagResource", "kms:UntagResource"),
    "aws_iam_role": ("iam:TagRole", "iam:UntagRole"),
    "aws_cloudwatch_log_group": ("logs:TagResource", "logs:UntagResource"),
    "aws_lambda_function": ("lambda:TagResource", "lambda:UntagResource"),
    "aws_sns_topic": ("sns:TagResource", "sns:UntagResource"),
    "aws_cloudwatch_event_rule": ("events:TagResource", "events:UntagResource"),
    "aws_cloudwatch_metric_alarm": ("cloudwatch:TagResource", "cloudwatch:UntagResource"),
    "aws_sqs_queue": ("sqs:TagQueue", "sqs:UntagQueue"),
}

#: Secrets Manager encrypts a value it is given, and decrypts one it is asked for, with the
#: caller's permissions on a customer-managed key.
KMS_ON_BEHALF = {"kms:GenerateDataKey", "kms:Decrypt"}
#: Lambda checks a VPC configuration with the caller's permissions.
LAMBDA_VPC = {"ec2:DescribeSecurityGroups", "ec2:DescribeSubnets", "ec2:DescribeVpcs"}


def required_calls(config: Config) -> dict[str, set[str]]:
    """Every call the provider makes for ``config``'s resources and data sources, by type."""
    needed: dict[str, set[str]] = {}
    blocks: list[tuple[str, dict[str, Any]]] = [
        *((kind, body) for (kind, _), body in config.resources.items()),
        *((f"data.{kind}", body) for (kind, _), body in config.data.items()),
    ]
    secret = config.resources.get(("aws_secretsmanager_secret", "this"), {})
    uses_cmk = "kms_key_id" in secret
    for kind, body in blocks:
        if kind.removeprefix("data.").startswith("vault_"):
            continue  # the Vault provider's, with the Vault token, not the AWS identity
        assert kind in CALLS, f"{kind}: add the provider's calls for it to CALLS"
        calls = needed.setdefault(kind, set())
        calls |= CALLS[kind]
        if "tags" in body:
            assert kind in TAGGING, f"{kind} is tagged: add its tagging actions to TAGGING"
            calls |= set(TAGGING[kind])
        if kind == "aws_secretsmanager_secret_version" and uses_cmk:
            calls |= KMS_ON_BEHALF
        if kind == "aws_lambda_function" and tfconfig.raw_blocks(body, "vpc_config"):
            calls |= LAMBDA_VPC
    return needed


def _documented() -> dict[str, set[str]]:
    """The table of docs/terraform.md's section, by resource (continuation rows included)."""
    text = DOC.read_text(encoding="utf-8")
    section = text.split("## What the identity running Terraform needs (AWS)\n", 1)[1]
    section = section.split("\n## ", 1)[0]
    documented: dict[str, set[str]] = {}
    current = ""
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) != 2:
            continue
        match = re.match(r"`([\w.]+)`", cells[0])
        if match:
            current = match.group(1)
        elif cells[0]:
            continue  # the header row and the line under it
        documented.setdefault(current, set()).update(
            re.findall(r"`([a-z0-9-]+:[A-Za-z]+)`", cells[1])
        )
    return documented


@pytest.mark.parametrize("module", AWS_MODULES)
def test_every_call_the_provider_makes_for_the_module_is_documented(
    configs: dict[str, Config], module: str
) -> None:
    documented = _documented()
    missing = {
        kind: sorted(calls - documented.get(kind, set()))
        for kind, calls in required_calls(configs[module]).items()
        if calls - documented.get(kind, set())
    }
    assert not missing, f"docs/terraform.md does not list, for {module}: {missing}"


def test_the_derivation_sees_tags_keys_and_networks(aws_module: Config) -> None:
    """The conditional calls the review found missing are derived, not assumed."""
    needed = required_calls(aws_module)
    assert {
        "iam:TagRole",
        "lambda:TagResource",
        "logs:TagResource",
        "kms:TagResource",
    } <= set().union(*needed.values())
    assert KMS_ON_BEHALF <= needed["aws_secretsmanager_secret_version"]
    assert LAMBDA_VPC <= needed["aws_lambda_function"]


def test_the_table_is_what_the_section_says_it_is() -> None:
    """The parser reads rows and continuation rows; a section it cannot read fails here."""
    documented = _documented()
    assert "kms:GenerateDataKey" in documented["aws_secretsmanager_secret_version"]
    assert "sts:GetCallerIdentity" in documented["data.aws_caller_identity"]


# -- destroying the first version ----------------------------------------------------------------


def _provider_destroys_version(client: Any, secret_id: str, version_id: str) -> None:
    """``resourceSecretVersionDelete``: for each label in the refreshed state's
    ``version_stages`` (the version's labels in AWS, since ``ignore_changes`` does not stop a
    refresh), ``UpdateSecretVersionStage`` with ``RemoveFromVersionId``, skipping ``AWSCURRENT``,
    which cannot be removed, only moved."""
    stages = client.describe_secret(SecretId=secret_id)["VersionIdsToStages"][version_id]
    for stage in stages:
        if stage == "AWSCURRENT":
            continue
        client.update_secret_version_stage(
            SecretId=secret_id, VersionStage=stage, RemoveFromVersionId=version_id
        )


@pytest.mark.aws
def test_destroying_the_first_version_takes_every_label_but_awscurrent(
    secretsmanager: Any, aws_module: Config
) -> None:
    """After one rotation the first version holds AWSPREVIOUS and SECRET_KEYRING_TERRAFORM:
    destroying the resource (``write_initial_keyring = false``) leaves it with no label at all,
    so AWSPREVIOUS is gone from the secret. The docs say so instead of "only removes the
    SECRET_KEYRING_TERRAFORM label"."""
    # The module's apply, and a rotation with the label moves AWS makes (moto's own
    # PutSecretValue drops labels AWS keeps; that module says how it stands in).
    from tests.integration.test_terraform_initial_version import provision, put_by_hand

    label = tfconfig.literal(aws_module.locals["initial_version_stage"])
    secret, first, _ = provision(secretsmanager, ["AWSCURRENT", label])
    put_by_hand(secretsmanager, secret, keyring_to_json(new_keyring()))
    stages = secretsmanager.describe_secret(SecretId=secret)["VersionIdsToStages"]
    assert sorted(stages[first]) == sorted(["AWSPREVIOUS", label])

    _provider_destroys_version(secretsmanager, secret, first)

    stages = secretsmanager.describe_secret(SecretId=secret)["VersionIdsToStages"]
    assert stages.get(first, []) == []
    assert not any("AWSPREVIOUS" in labels for labels in stages.values())
    text = DOC.read_text(encoding="utf-8")
    readme = (tfconfig.MODULES["aws-secret"] / "README.md").read_text(encoding="utf-8")
    for page in (text, readme):
        assert "only removes the `SECRET_KEYRING_TERRAFORM` label" not in page
        assert "every label but\n`AWSCURRENT`" in page or "every label but `AWSCURRENT`" in page
