data "aws_caller_identity" "current" {}

locals {
  # mount and name are null only with create = false, when no resource reads these locals.
  path = var.create ? "${var.mount}/${var.name}" : ""
  # Names come from the whole path, mount included, and always end in a hash of it: the same
  # name in two mounts, or two paths that differ only in case or in a character a name refuses
  # ("a/b", "a-b", "A/b"), get names of their own. IAM role and Vault role names are
  # case-insensitive, hence the lower-case slug; the hash keeps what lower() folds apart.
  path_slug = trim(lower(replace(local.path, "/[^A-Za-z0-9-]/", "-")), "-")
  path_hash = substr(sha256(local.path), 0, 8)
  # "vault-rotate-" (13) + slug (<= 33) + "-" + hash (8): at most 55, which leaves room for the
  # scheduler role's "-schedule" suffix within IAM's 64 (function_name is held to 55 too).
  function_name = coalesce(var.function_name, "vault-rotate-${substr(local.path_slug, 0, 33)}-${local.path_hash}")
  # Slug (<= 46) + "-" + hash (8) + "-rotator" (8): at most 63.
  role_name = coalesce(var.vault_role_name, "${substr(local.path_slug, 0, 46)}-${local.path_hash}-rotator")
  # The scheduler's IAM role must differ from the Lambda's (named like the function).
  scheduler_role_name = "${local.function_name}-schedule"

  in_vpc = length(var.lambda_subnet_ids) > 0

  # The handler logs in with the Lambda's own IAM role (auth=aws) and rotates this one secret.
  source_options = concat(
    ["auth=aws", "role=${local.role_name}"],
    var.vault_auth_backend == "aws" ? [] : ["auth_mount=${var.vault_auth_backend}"],
    var.vault_namespace == null ? [] : ["namespace=${var.vault_namespace}"],
    var.vault_aws_header_value == null ? [] : ["aws_header_value=${var.vault_aws_header_value}"],
    var.vault_aws_region == null ? [] : ["aws_region=${var.vault_aws_region}"],
  )
  source_url = var.create ? "vault://${var.mount}/${var.name}?${join("&", local.source_options)}" : null

  # Where the alarms notify: a topic of the module's own, the caller's, or none (the alarms
  # still change state in CloudWatch).
  alarm_topic_arn = var.create_alarm_topic ? try(aws_sns_topic.alarms[0].arn, null) : var.alarm_topic_arn
  alarm_actions   = local.alarm_topic_arn == null ? [] : [local.alarm_topic_arn]
  create_alarms   = var.create && var.create_alarms
  alarm_names = {
    lambda_errors     = "${local.function_name}-errors"
    dead_letters      = "${local.function_name}-dead-letters"
    scheduler_errors  = "${local.function_name}-schedule-target-errors"
    scheduler_dropped = "${local.function_name}-schedule-dropped"
  }
}

################################################################################
# Lambda
################################################################################

data "aws_iam_policy_document" "lambda_assume_role" {
  count = var.create ? 1 : 0

  statement {
    sid     = "LambdaAssumeRole"
    effect  = "Allow"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

# The role proves its identity to Vault with a signed sts:GetCallerIdentity, which needs no IAM
# permission. It may write its own logs, send a failed run's event to its dead-letter queue (the
# on-failure destination: Lambda sends it with the function's role), and manage network
# interfaces in a VPC; nothing else.
data "aws_iam_policy_document" "lambda" {
  count = var.create ? 1 : 0

  statement {
    sid    = "WriteOwnLogs"
    effect = "Allow"
    actions = [
      "logs:CreateLogStream",
      "logs:PutLogEvents",
    ]
    resources = ["${aws_cloudwatch_log_group.this[0].arn}:*"]
  }

  statement {
    sid       = "SendFailedRunsToTheDeadLetterQueue"
    effect    = "Allow"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.dead_letter[0].arn]
  }

  # EC2 does not support resource-level permissions for these calls, hence "*".
  dynamic "statement" {
    for_each = local.in_vpc ? [1] : []

    content {
      sid    = "ManageVpcNetworkInterfaces"
      effect = "Allow"
      actions = [
        "ec2:AssignPrivateIpAddresses",
        "ec2:CreateNetworkInterface",
        "ec2:DeleteNetworkInterface",
        "ec2:DescribeNetworkInterfaces",
        "ec2:DescribeSubnets",
        "ec2:UnassignPrivateIpAddresses",
      ]
      resources = ["*"]
    }
  }
}

resource "aws_iam_role" "lambda" {
  count = var.create ? 1 : 0

  name                 = local.function_name
  description          = "Scheduled Vault rotation of the Django secret keyring ${var.mount}/${var.name}"
  assume_role_policy   = data.aws_iam_policy_document.lambda_assume_role[0].json
  permissions_boundary = var.lambda_role_permissions_boundary_arn
  tags                 = var.tags
}

resource "aws_iam_role_policy" "lambda" {
  count = var.create ? 1 : 0

  name   = "run-${local.function_name}"
  role   = aws_iam_role.lambda[0].id
  policy = data.aws_iam_policy_document.lambda[0].json
}

# Created here, not by Lambda on first run, so the role needs no logs:CreateLogGroup and the
# retention is set.
resource "aws_cloudwatch_log_group" "this" {
  count = var.create ? 1 : 0

  name              = "/aws/lambda/${local.function_name}"
  retention_in_days = var.lambda_log_retention_in_days
  tags              = var.tags
}

resource "aws_lambda_function" "this" {
  count = var.create ? 1 : 0

  function_name    = local.function_name
  description      = "Rotates the Django secret keyring ${var.mount}/${var.name} in Vault (django-secret-keyring)"
  role             = aws_iam_role.lambda[0].arn
  runtime          = var.lambda_runtime
  handler          = "secret_keyring.rotation.vault.lambda_handler"
  filename         = var.lambda_zip_path
  source_code_hash = filebase64sha256(var.lambda_zip_path)
  architectures    = [var.lambda_architecture]
  timeout          = var.lambda_timeout
  memory_size      = var.lambda_memory_size
  # One run at a time: check-and-set already makes a concurrent second writer lose, this keeps
  # it from even trying. Null leaves the account's unreserved pool untouched.
  reserved_concurrent_executions = var.lambda_reserved_concurrent_executions

  environment {
    variables = merge(
      var.lambda_environment_variables,
      {
        SECRET_KEYRING_SOURCE        = local.source_url
        SECRET_KEYRING_MAX_FALLBACKS = tostring(var.max_fallbacks)
        SECRET_KEYRING_MIN_INTERVAL  = tostring(var.min_interval_seconds)
        VAULT_ADDR                   = var.vault_address
      },
    )
  }

  dynamic "vpc_config" {
    for_each = local.in_vpc ? [1] : []

    content {
      subnet_ids         = var.lambda_subnet_ids
      security_group_ids = var.lambda_security_group_ids
    }
  }

  tags = var.tags

  depends_on = [
    aws_iam_role_policy.lambda,
    aws_cloudwatch_log_group.this,
  ]
}

# The scheduler invokes asynchronously; Lambda retries a failed run itself. A retried run whose
# first attempt wrote (and then timed out) finds the version younger than min_interval_seconds
# and writes nothing, so retries never rotate twice. After the last retry the event goes to the
# dead-letter queue instead of being dropped: without it the next attempt is the next scheduled
# run, a month later, and nobody hears of the failure.
resource "aws_lambda_function_event_invoke_config" "this" {
  count = var.create ? 1 : 0

  function_name                = aws_lambda_function.this[0].function_name
  maximum_retry_attempts       = var.lambda_maximum_retry_attempts
  maximum_event_age_in_seconds = var.schedule_maximum_event_age_in_seconds

  destination_config {
    on_failure {
      destination = aws_sqs_queue.dead_letter[0].arn
    }
  }

  # Lambda refuses a destination the function's role may not send to when the config is
  # written; the provider retries that refusal while IAM propagates, but the policy must exist.
  depends_on = [aws_iam_role_policy.lambda]
}

################################################################################
# Failed runs: dead-letter queue
################################################################################

# One queue for both ends of a failed run: the scheduler's events it could not deliver (its
# dead-letter queue) and the Lambda's runs that failed after every retry (its on-failure
# destination). A message here is a rotation that did not happen; the dead_letters alarm fires.
resource "aws_sqs_queue" "dead_letter" {
  count = var.create ? 1 : 0

  name = "${local.function_name}-dlq"
  # SQS-managed encryption at rest: neither the scheduler's nor the Lambda's role then needs a
  # KMS permission to send. The events hold the schedule's input and the error, never a key.
  sqs_managed_sse_enabled = true
  # The longest SQS allows: a failure found after a holiday is still there to read.
  message_retention_seconds = 1209600
  tags                      = var.tags
}

################################################################################
# EventBridge Scheduler
################################################################################

data "aws_iam_policy_document" "scheduler_assume_role" {
  count = var.create ? 1 : 0

  statement {
    sid     = "SchedulerAssumeRole"
    effect  = "Allow"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["scheduler.amazonaws.com"]
    }

    # Only schedules of this account (confused-deputy protection).
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

data "aws_iam_policy_document" "scheduler" {
  count = var.create ? 1 : 0

  statement {
    sid       = "InvokeTheRotationLambda"
    effect    = "Allow"
    actions   = ["lambda:InvokeFunction"]
    resources = [aws_lambda_function.this[0].arn]
  }

  statement {
    sid       = "SendUndeliveredRunsToTheDeadLetterQueue"
    effect    = "Allow"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.dead_letter[0].arn]
  }
}

resource "aws_iam_role" "scheduler" {
  count = var.create ? 1 : 0

  name                 = local.scheduler_role_name
  description          = "EventBridge Scheduler: invoke the Vault rotation of ${var.mount}/${var.name}"
  assume_role_policy   = data.aws_iam_policy_document.scheduler_assume_role[0].json
  permissions_boundary = var.lambda_role_permissions_boundary_arn
  tags                 = var.tags
}

resource "aws_iam_role_policy" "scheduler" {
  count = var.create ? 1 : 0

  name   = "invoke-${local.function_name}"
  role   = aws_iam_role.scheduler[0].id
  policy = data.aws_iam_policy_document.scheduler[0].json
}

resource "aws_scheduler_schedule" "this" {
  count = var.create ? 1 : 0

  name        = local.function_name
  group_name  = var.schedule_group_name
  description = "Rotate the Django secret keyring ${var.mount}/${var.name}"

  # A rate() schedule without a start date fires as soon as it is created, so the first apply
  # against a keyring older than min_interval_seconds rotated at once and anchored the cycle to
  # apply time: the default is a cron() expression, and a rate() one needs start_date.
  schedule_expression          = var.schedule_expression
  schedule_expression_timezone = var.schedule_timezone
  start_date                   = var.schedule_start_date
  state                        = var.schedule_enabled ? "ENABLED" : "DISABLED"

  flexible_time_window {
    mode = "OFF"
  }

  target {
    arn      = aws_lambda_function.this[0].arn
    role_arn = aws_iam_role.scheduler[0].arn
    input    = jsonencode({ source = "django-secret-keyring schedule" })

    retry_policy {
      maximum_retry_attempts       = var.schedule_maximum_retry_attempts
      maximum_event_age_in_seconds = var.schedule_maximum_event_age_in_seconds
    }

    dead_letter_config {
      arn = aws_sqs_queue.dead_letter[0].arn
    }
  }

  # The first invocation must find everything it needs: the scheduler's permission to invoke
  # and to dead-letter, and the Vault role the Lambda logs in as.
  depends_on = [
    aws_iam_role_policy.scheduler,
    vault_aws_auth_backend_role.this,
  ]
}

################################################################################
# Vault: the Lambda's IAM role logs in as the rotator
################################################################################

resource "vault_aws_auth_backend_role" "this" {
  count = var.create ? 1 : 0

  backend   = var.vault_auth_backend
  role      = local.role_name
  namespace = var.vault_namespace
  auth_type = "iam"
  # The Lambda's role and nothing else; unique IDs, so a role re-created under the same name
  # does not inherit the login.
  bound_iam_principal_arns = [aws_iam_role.lambda[0].arn]
  resolve_aws_unique_ids   = true
  # The rotator policy and nothing else: not even the default policy's token self-service.
  token_no_default_policy = true
  token_policies          = [var.rotator_policy_name]
  token_ttl               = var.vault_token_ttl
  token_max_ttl           = var.vault_token_ttl

  # With resolve_aws_unique_ids, Vault looks the new IAM role up (iam:GetRole) when the role is
  # written, and IAM is eventually consistent: a role created a moment ago may not be found yet.
  # The AWS provider retries the Lambda function's creation until Lambda can assume the role
  # ("The role defined for the function cannot be assumed by Lambda"), so once the function
  # exists, IAM has propagated the role.
  depends_on = [aws_lambda_function.this]
}

################################################################################
# Alarms
################################################################################

data "aws_partition" "current" {
  count = local.create_alarms && var.create_alarm_topic ? 1 : 0
}

data "aws_region" "current" {
  count = local.create_alarms && var.create_alarm_topic ? 1 : 0
}

# Only this module's alarms may publish to the topic it creates. Alarm notifications carry
# names, states and metric values, never key material; CloudWatch cannot publish to a topic
# encrypted with the AWS-managed SNS key, so the topic is not encrypted with it.
data "aws_iam_policy_document" "alarm_topic" {
  count = local.create_alarms && var.create_alarm_topic ? 1 : 0

  statement {
    sid     = "CloudWatchAlarmsOfThisRotation"
    effect  = "Allow"
    actions = ["sns:Publish"]
    resources = [
      "arn:${data.aws_partition.current[0].partition}:sns:${data.aws_region.current[0].region}:${data.aws_caller_identity.current.account_id}:${local.function_name}-alarms",
    ]

    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com"]
    }

    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values = [
        for name in values(local.alarm_names) :
        "arn:${data.aws_partition.current[0].partition}:cloudwatch:${data.aws_region.current[0].region}:${data.aws_caller_identity.current.account_id}:alarm:${name}"
      ]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

resource "aws_sns_topic" "alarms" {
  count = local.create_alarms && var.create_alarm_topic ? 1 : 0

  name   = "${local.function_name}-alarms"
  policy = data.aws_iam_policy_document.alarm_topic[0].json
  tags   = var.tags
}

# A run failed (an attempt: Lambda may still succeed on a retry; the dead_letters alarm says
# when every retry failed).
resource "aws_cloudwatch_metric_alarm" "lambda_errors" {
  count = local.create_alarms ? 1 : 0

  alarm_name          = local.alarm_names.lambda_errors
  alarm_description   = "The Vault rotation Lambda of ${var.mount}/${var.name} failed a run. See docs/operations.md, \"When a rotation alarm fires\"."
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  dimensions          = { FunctionName = aws_lambda_function.this[0].function_name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  # No run, no data: a month without a rotation is not an error.
  treat_missing_data = "notBreaching"
  alarm_actions      = local.alarm_actions
  ok_actions         = local.alarm_actions
  tags               = var.tags
}

# A rotation that did not happen after every retry: the event is in the dead-letter queue.
resource "aws_cloudwatch_metric_alarm" "dead_letters" {
  count = local.create_alarms ? 1 : 0

  alarm_name          = local.alarm_names.dead_letters
  alarm_description   = "A scheduled rotation of ${var.mount}/${var.name} failed after every retry; its event is in the queue ${aws_sqs_queue.dead_letter[0].name}. See docs/operations.md, \"When a rotation alarm fires\"."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = aws_sqs_queue.dead_letter[0].name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = var.tags
}

# EventBridge Scheduler publishes its metrics per schedule group: other schedules of the group
# count too (use a group of the rotation's own to tell them apart).
resource "aws_cloudwatch_metric_alarm" "scheduler_errors" {
  count = local.create_alarms ? 1 : 0

  alarm_name          = local.alarm_names.scheduler_errors
  alarm_description   = "EventBridge Scheduler could not invoke a target in schedule group ${var.schedule_group_name}, which runs the rotation of ${var.mount}/${var.name}. See docs/operations.md, \"When a rotation alarm fires\"."
  namespace           = "AWS/Scheduler"
  metric_name         = "TargetErrorCount"
  dimensions          = { ScheduleGroup = var.schedule_group_name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "scheduler_dropped" {
  count = local.create_alarms ? 1 : 0

  alarm_name          = local.alarm_names.scheduler_dropped
  alarm_description   = "EventBridge Scheduler gave up on an invocation in schedule group ${var.schedule_group_name}, which runs the rotation of ${var.mount}/${var.name}. See docs/operations.md, \"When a rotation alarm fires\"."
  namespace           = "AWS/Scheduler"
  metric_name         = "InvocationDroppedCount"
  dimensions          = { ScheduleGroup = var.schedule_group_name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = var.tags
}
