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
FUNCTION = "vault-rotate-secret-myapp-django-87ac6ac7"
LAMBDA_ARN = f"arn:aws:lambda:eu-west-1:{ACCOUNT}:function:{FUNCTION}"
LOG_GROUP_ARN = f"arn:aws:logs:eu-west-1:{ACCOUNT}:log-group:/aws/lambda/{FUNCTION}"
QUEUE_ARN = f"arn:aws:sqs:eu-west-1:{ACCOUNT}:{FUNCTION}-dlq"


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


def test_the_source_url_logs_in_with_the_lambda_role(
    module: Config, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every option the module may put in the URL is one the library accepts, and a URL built
    from them gives a provider that logs in with auth=aws as the module's role."""
    monkeypatch.setenv("VAULT_ADDR", "https://vault.example.com:8200")  # the Lambda's env has it
    options_expr = module.locals["source_options"]
    options = set(re.findall(r'"([a-z_]+)=', options_expr))
    assert options == {"auth", "role", "auth_mount", "namespace", "aws_header_value", "aws_region"}
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
        "&namespace=team&aws_header_value=vault.example.com&aws_region=eu-west-1"
    )
    provider = provider_from_url(url)
    assert isinstance(provider, VaultProvider)
    assert (provider.mount, provider.path, provider.auth, provider.session.login_options.role) == (
        "secret",
        "myapp/django",
        "aws",
        "myapp-django-rotator",
    )
    assert provider.session.login_options.aws_header_value == "vault.example.com"
    assert provider.session.login_options.aws_region == "eu-west-1"


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
    # The rotator policy only: OpenBao's answer to such a token is tried in
    # test_rotation_identities.py.
    assert role["token_no_default_policy"] is True
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


def test_the_lambda_role_may_write_its_logs_and_dead_letters_and_nothing_else(
    module: Config,
) -> None:
    known = {
        "aws_cloudwatch_log_group.this[0].arn": LOG_GROUP_ARN,
        "aws_sqs_queue.dead_letter[0].arn": QUEUE_ARN,
        "local.in_vpc": False,
    }
    policy = tfconfig.render_iam_policy(module, "lambda", known)
    assert policy["Statement"] == [
        {
            "Sid": "WriteOwnLogs",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": [f"{LOG_GROUP_ARN}:*"],
        },
        {
            # Lambda sends a failed run's event to its on-failure destination with this role.
            "Sid": "SendFailedRunsToTheDeadLetterQueue",
            "Effect": "Allow",
            "Action": ["sqs:SendMessage"],
            "Resource": [QUEUE_ARN],
        },
    ]
    in_vpc = tfconfig.render_iam_policy(module, "lambda", {**known, "local.in_vpc": True})
    (ec2,) = [s for s in in_vpc["Statement"] if s["Sid"] == "ManageVpcNetworkInterfaces"]
    assert all(action.startswith("ec2:") for action in ec2["Action"])
    # Lambda's own check of a VPC function's role asks for it, as in aws-secret.
    assert "ec2:DescribeSubnets" in ec2["Action"]
    assert _trusted_service(module, "lambda_assume_role") == "lambda.amazonaws.com"


def test_the_schedule_may_invoke_this_function_and_dead_letter_only(module: Config) -> None:
    known = {
        "aws_lambda_function.this[0].arn": LAMBDA_ARN,
        "aws_sqs_queue.dead_letter[0].arn": QUEUE_ARN,
    }
    policy = tfconfig.render_iam_policy(module, "scheduler", known)
    assert policy["Statement"] == [
        {
            "Sid": "InvokeTheRotationLambda",
            "Effect": "Allow",
            "Action": ["lambda:InvokeFunction"],
            "Resource": [LAMBDA_ARN],
        },
        {
            # EventBridge Scheduler sends to a target's dead-letter queue with the schedule's
            # execution role.
            "Sid": "SendUndeliveredRunsToTheDeadLetterQueue",
            "Effect": "Allow",
            "Action": ["sqs:SendMessage"],
            "Resource": [QUEUE_ARN],
        },
    ]
    assert _trusted_service(module, "scheduler_assume_role") == "scheduler.amazonaws.com"
    (statement,) = module.data[("aws_iam_policy_document", "scheduler_assume_role")]["statement"]
    (condition,) = statement["condition"]
    assert tfconfig.literal(condition["variable"]) == "aws:SourceAccount"
    assert condition["values"] == ["${data.aws_caller_identity.current.account_id}"]


def test_the_schedule_targets_the_lambda(module: Config) -> None:
    schedule = module.resources[("aws_scheduler_schedule", "this")]
    assert schedule["schedule_expression"] == "${var.schedule_expression}"
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


def test_the_default_schedule_does_not_fire_at_apply_time(module: Config) -> None:
    """Stands in for EventBridge Scheduler's documented behaviour, which no emulator plays: a
    rate() schedule without a start date invokes its target as soon as it is created, and then
    every period after the apply. The provider's aws_scheduler_schedule sends StartDate only
    when start_date is set. So the default must be a cron() expression (a fixed time of the
    month, in six fields as Scheduler reads them) and start_date must reach the schedule;
    that a rate() one without it is refused is planned in test_variable_plans.py."""
    schedule = module.resources[("aws_scheduler_schedule", "this")]
    assert schedule["start_date"] == "${var.schedule_start_date}"
    default = tfconfig.literal(module.variables["schedule_expression"]["default"])
    match = re.fullmatch(r"cron\((\S+) (\S+) (\S+) (\S+) (\S+) (\S+)\)", default)
    assert match is not None, default
    minutes, hours, day_of_month, month, day_of_week, year = match.groups()
    # One fixed minute of one day a month: never "at once", never every minute.
    assert minutes.isdigit(), default
    assert hours.isdigit(), default
    assert day_of_month.isdigit(), default
    assert (month, day_of_week, year) == ("*", "?", "*"), default
    assert tfconfig.literal(module.variables["schedule_timezone"]["default"]) == "UTC"


def test_the_first_invocation_finds_everything_it_needs(module: Config) -> None:
    """Terraform creates what nothing orders in parallel: without these edges the schedule could
    exist (and a rate() one fire) before the scheduler's role may invoke the function or before
    the Vault role exists, and the first run failed. The Vault role waits for the Lambda
    function, whose creation the AWS provider retries until IAM has propagated the new role:
    with resolve_aws_unique_ids Vault calls iam:GetRole on that role when the role is written,
    and IAM is eventually consistent. Lambda refuses an on-failure destination the function's
    role may not send to, so the invoke config waits for the role's policy."""
    schedule = module.resources[("aws_scheduler_schedule", "this")]
    assert set(schedule["depends_on"]) >= {
        "${aws_iam_role_policy.scheduler}",
        "${vault_aws_auth_backend_role.this}",
    }
    role = module.resources[("vault_aws_auth_backend_role", "this")]
    assert "${aws_lambda_function.this}" in role["depends_on"]
    invoke = module.resources[("aws_lambda_function_event_invoke_config", "this")]
    assert "${aws_iam_role_policy.lambda}" in invoke["depends_on"]


def test_a_failed_run_lands_in_an_encrypted_dead_letter_queue(module: Config) -> None:
    """Lambda retries a failed asynchronous run twice and EventBridge Scheduler retries an
    undelivered invocation, then each drops the event unless told where to send it: the next
    attempt was the next month's run, and nobody heard of the failure. Both ends send to one
    SQS queue, encrypted at rest with SQS-managed keys (so neither role needs KMS)."""
    queue = module.resources[("aws_sqs_queue", "dead_letter")]
    assert queue["sqs_managed_sse_enabled"] is True
    assert "kms_master_key_id" not in queue
    assert queue["message_retention_seconds"] == 14 * 24 * 3600  # SQS's longest
    (target,) = module.resources[("aws_scheduler_schedule", "this")]["target"]
    (dead_letter,) = target["dead_letter_config"]
    assert dead_letter["arn"] == "${aws_sqs_queue.dead_letter[0].arn}"
    invoke = module.resources[("aws_lambda_function_event_invoke_config", "this")]
    (destinations,) = invoke["destination_config"]
    (on_failure,) = destinations["on_failure"]
    assert on_failure["destination"] == "${aws_sqs_queue.dead_letter[0].arn}"
    assert "on_success" not in destinations


#: alarm resource -> (namespace, metric, dimension name, dimension value)
ALARMS = {
    "lambda_errors": (
        "AWS/Lambda",
        "Errors",
        "FunctionName",
        "${aws_lambda_function.this[0].function_name}",
    ),
    "dead_letters": (
        "AWS/SQS",
        "ApproximateNumberOfMessagesVisible",
        "QueueName",
        "${aws_sqs_queue.dead_letter[0].name}",
    ),
    "scheduler_errors": (
        "AWS/Scheduler",
        "TargetErrorCount",
        "ScheduleGroup",
        "${var.schedule_group_name}",
    ),
    "scheduler_dropped": (
        "AWS/Scheduler",
        "InvocationDroppedCount",
        "ScheduleGroup",
        "${var.schedule_group_name}",
    ),
}


@pytest.mark.parametrize("name", sorted(ALARMS))
def test_each_alarm_watches_its_metric_and_notifies_the_topic(module: Config, name: str) -> None:
    """The metric names and dimensions are those CloudWatch publishes: Lambda's per function,
    SQS's per queue, EventBridge Scheduler's per schedule group."""
    namespace, metric, dimension, owner = ALARMS[name]
    alarm = module.resources[("aws_cloudwatch_metric_alarm", name)]
    assert alarm["count"] == "${local.create_alarms ? 1 : 0}"
    assert tfconfig.literal(alarm["namespace"]) == namespace
    assert tfconfig.literal(alarm["metric_name"]) == metric
    assert alarm["dimensions"] == {dimension: owner}
    assert alarm["alarm_name"] == f"${{local.alarm_names.{name}}}"
    assert alarm["threshold"] == 1
    assert tfconfig.literal(alarm["comparison_operator"]) == "GreaterThanOrEqualToThreshold"
    # A month without a run is no error.
    assert tfconfig.literal(alarm["treat_missing_data"]) == "notBreaching"
    assert alarm["alarm_actions"] == alarm["ok_actions"] == "${local.alarm_actions}"
    assert "When a rotation alarm fires" in alarm["alarm_description"]
    assert name in module.locals["alarm_names"]


def test_the_alarm_topic_is_created_or_passed_in(module: Config) -> None:
    assert module.locals["alarm_topic_arn"] == (
        "${var.create_alarm_topic ? try(aws_sns_topic.alarms[0].arn, null) : var.alarm_topic_arn}"
    )
    assert module.locals["alarm_actions"] == (
        "${local.alarm_topic_arn == null ? [] : [local.alarm_topic_arn]}"
    )
    topic = module.resources[("aws_sns_topic", "alarms")]
    assert topic["count"] == "${local.create_alarms && var.create_alarm_topic ? 1 : 0}"
    assert topic["policy"] == "${data.aws_iam_policy_document.alarm_topic[0].json}"


def test_only_this_rotations_alarms_may_publish_to_its_topic(module: Config) -> None:
    """The topic policy lets CloudWatch publish for the module's four alarms of this account,
    and nobody else (CloudWatch publishes to a topic as the service principal, with the alarm's
    ARN as aws:SourceArn)."""
    (statement,) = module.data[("aws_iam_policy_document", "alarm_topic")]["statement"]
    assert [tfconfig.literal(a) for a in statement["actions"]] == ["sns:Publish"]
    (principals,) = statement["principals"]
    assert tfconfig.literal(principals["type"]) == "Service"
    assert [tfconfig.literal(i) for i in principals["identifiers"]] == ["cloudwatch.amazonaws.com"]
    (resource,) = statement["resources"]
    assert resource.endswith(':${local.function_name}-alarms"')
    topic = module.resources[("aws_sns_topic", "alarms")]
    assert topic["name"] == '"${local.function_name}-alarms"'
    conditions = {tfconfig.literal(c["variable"]): c for c in statement["condition"]}
    assert set(conditions) == {"aws:SourceArn", "aws:SourceAccount"}
    assert tfconfig.literal(conditions["aws:SourceArn"]["test"]) == "ArnEquals"
    source_arns = str(conditions["aws:SourceArn"]["values"])
    assert "for name in values(local.alarm_names)" in source_arns
    assert ":alarm:${name}" in source_arns


def test_the_example_wires_the_rotator_policy_of_its_secret(configs: dict[str, Config]) -> None:
    example = configs["vault-rotation-aws-complete"]
    call = example.modules["django_secret_key_rotation"]
    assert call["rotator_policy_name"] == "${module.django_secret_key.rotator_policy_name}"
    assert call["mount"] == "${module.django_secret_key.mount}"
    assert call["name"] == example.modules["django_secret_key"]["name"]
    assert call["vault_auth_backend"] == "${vault_aws_auth_backend_client.aws.backend}"
    assert "start_date" not in call
    assert call["schedule_expression"].startswith('"cron(')


def test_the_example_protects_the_login_against_replay(configs: dict[str, Config]) -> None:
    """Vault accepts a signed sts:GetCallerIdentity from anyone who captured one unless the aws
    auth method requires X-Vault-AWS-IAM-Server-ID: the example sets it on the auth method and
    the same value in the Lambda's source URL (aws_header_value, which the library signs into
    the request)."""
    example = configs["vault-rotation-aws-complete"]
    client = example.resources[("vault_aws_auth_backend_client", "aws")]
    assert client["backend"] == "${vault_auth_backend.aws.path}"
    assert client["iam_server_id_header_value"] == "${var.vault_server_id}"
    call = example.modules["django_secret_key_rotation"]
    assert call["vault_aws_header_value"] == "${var.vault_server_id}"
    assert "default" not in example.variables["vault_server_id"]
    assert call["create_alarm_topic"] is True
