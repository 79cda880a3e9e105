"""The dead-letter permissions of terraform/modules/vault-rotation-aws, taken from the parsed HCL
with the ARNs of a real (moto) queue substituted, attached to IAM users of a moto server that
enforces IAM: each identity may send to its rotation's dead-letter queue and do nothing else
there or anywhere else.

The users stand in for the two roles: EventBridge Scheduler sends an undelivered invocation to
the target's dead-letter queue with the schedule's execution role, and Lambda sends a failed
asynchronous run to its on-failure destination with the function's execution role; IAM
evaluates the role's identity policy the same way for a user. The queue is created with the
module's own attributes (SQS-managed encryption), so a send that needs no KMS permission is what
is tried."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest

from devservers.moto import MotoServer
from tests.terraform import tfconfig
from tests.terraform.iam import ADMIN, REGION, client, denied, user
from tests.terraform.tfconfig import Config

pytestmark = pytest.mark.aws

FUNCTION = "vault-rotate-secret-myapp-django-0123abcd"


@dataclass(frozen=True)
class Queues:
    dead_letter_url: str
    other_url: str
    scheduler: Any  # SQS client with the scheduler role's policy
    function: Any  # SQS client with the Lambda role's policy
    stranger: Any  # SQS client of a user without either


def _queue_attributes(module: Config) -> dict[str, str]:
    """CreateQueue attributes for the module's aws_sqs_queue.dead_letter, as the provider maps
    its arguments."""
    queue = module.resources[("aws_sqs_queue", "dead_letter")]
    assert queue["name"] == '"${local.function_name}-dlq"'
    return {
        "SqsManagedSseEnabled": str(queue["sqs_managed_sse_enabled"]).lower(),
        "MessageRetentionPeriod": str(queue["message_retention_seconds"]),
    }


@pytest.fixture(scope="module")
def queues(moto_iam: MotoServer, configs: dict[str, Config]) -> Queues:
    module = configs["vault-rotation-aws"]
    admin = client(moto_iam, "sqs", ADMIN)
    iam = client(moto_iam, "iam", ADMIN)
    dead_letter_url = admin.create_queue(
        QueueName=f"{FUNCTION}-dlq", Attributes=_queue_attributes(module)
    )["QueueUrl"]
    other_url = admin.create_queue(QueueName="someone-elses-queue")["QueueUrl"]
    arn = admin.get_queue_attributes(QueueUrl=dead_letter_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    account = arn.split(":")[4]
    known = {
        "aws_sqs_queue.dead_letter[0].arn": arn,
        "aws_lambda_function.this[0].arn": f"arn:aws:lambda:{REGION}:{account}:function:{FUNCTION}",
        "aws_cloudwatch_log_group.this[0].arn": (
            f"arn:aws:logs:{REGION}:{account}:log-group:/aws/lambda/{FUNCTION}"
        ),
        "local.in_vpc": False,
    }
    scheduler = user(iam, "scheduler-role", tfconfig.render_iam_policy(module, "scheduler", known))
    function = user(iam, "lambda-role", tfconfig.render_iam_policy(module, "lambda", known))
    stranger = user(iam, "someone-else")
    moto_iam.set_iam_enforced(True)
    return Queues(
        dead_letter_url=dead_letter_url,
        other_url=other_url,
        scheduler=client(moto_iam, "sqs", scheduler),
        function=client(moto_iam, "sqs", function),
        stranger=client(moto_iam, "sqs", stranger),
    )


def test_the_queue_is_encrypted_with_sqs_managed_keys(moto_iam: MotoServer, queues: Queues) -> None:
    moto_iam.set_iam_enforced(False)
    try:
        attributes = client(moto_iam, "sqs", ADMIN).get_queue_attributes(
            QueueUrl=queues.dead_letter_url, AttributeNames=["All"]
        )["Attributes"]
    finally:
        moto_iam.set_iam_enforced(True)
    assert attributes["SqsManagedSseEnabled"] == "true"
    assert "KmsMasterKeyId" not in attributes  # so no sender needs a KMS permission
    assert attributes["MessageRetentionPeriod"] == "1209600"


@pytest.mark.parametrize("identity", ["scheduler", "function"])
def test_each_role_can_dead_letter_a_failed_run(queues: Queues, identity: str) -> None:
    client = getattr(queues, identity)
    sent = client.send_message(
        QueueUrl=queues.dead_letter_url, MessageBody=json.dumps({"source": identity})
    )
    assert sent["MessageId"]


@pytest.mark.parametrize("identity", ["scheduler", "function"])
def test_no_role_can_read_or_empty_the_queue_or_send_elsewhere(
    queues: Queues, identity: str
) -> None:
    client = getattr(queues, identity)
    assert "sqs:ReceiveMessage" in denied(
        lambda: client.receive_message(QueueUrl=queues.dead_letter_url)
    )
    assert "sqs:PurgeQueue" in denied(lambda: client.purge_queue(QueueUrl=queues.dead_letter_url))
    denied(lambda: client.send_message(QueueUrl=queues.other_url, MessageBody="{}"))


def test_a_user_without_the_policies_cannot_send(queues: Queues) -> None:
    """Control: enforcement is on, so the roles' sends are allowed by their policies."""
    denied(lambda: queues.stranger.send_message(QueueUrl=queues.dead_letter_url, MessageBody="{}"))
