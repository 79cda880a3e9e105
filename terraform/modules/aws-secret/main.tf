data "aws_caller_identity" "current" {}

data "aws_region" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  region     = data.aws_region.current.region

  # The secret name may hold / + = . @ which Lambda, IAM and KMS alias names refuse, and may be
  # 512 characters long. A name made only of letters, digits, '-' and '_' that fits is used as
  # it is; any other is replaced, cut to fit and suffixed with a hash of the full name, so that
  # "a/b" and "a-b" (or two long names sharing a prefix) never get the same resource names.
  name          = var.name == null ? "" : var.name # null only with create = false
  name_slug     = replace(local.name, "/[^0-9A-Za-z_-]/", "-")
  name_hash     = substr(sha256(local.name), 0, 8)
  name_verbatim = local.name_slug == local.name
  # Each limit minus its fixed prefix or suffix: Lambda function and IAM role names 64 with
  # "-rotation", KMS alias names 256 with "alias/django-secret-keyring/", inline policy names 128
  # with "rotate-" (the longer of "rotate-" and "read-").
  name_for_lambda = local.name_verbatim && length(local.name) <= 55 ? local.name : "${substr(local.name_slug, 0, 46)}-${local.name_hash}"
  name_for_alias  = local.name_verbatim && length(local.name) <= 228 ? local.name : "${substr(local.name_slug, 0, 219)}-${local.name_hash}"
  name_for_policy = local.name_verbatim && length(local.name) <= 121 ? local.name : "${substr(local.name_slug, 0, 112)}-${local.name_hash}"

  lambda_function_name = coalesce(var.lambda_function_name, "${local.name_for_lambda}-rotation")
  # EventBridge rule names: 64 with "-rotation-failed".
  name_for_rule = local.name_verbatim && length(local.name) <= 48 ? local.name : "${substr(local.name_slug, 0, 39)}-${local.name_hash}"

  # Without a customer-managed key the secret uses the AWS-managed key aws/secretsmanager, whose
  # key policy already lets this account's principals use it through Secrets Manager: no KMS
  # statement is needed then. Decided from inputs only, so it is known at plan time.
  use_cmk         = var.create && (var.kms_key_arn != null || var.create_kms_key)
  create_kms_key  = local.use_cmk && var.kms_key_arn == null
  create_rotation = var.create && var.enable_rotation
  in_vpc          = length(var.lambda_subnet_ids) > 0

  # The staging label that pins the version Terraform wrote (see aws_secretsmanager_secret_version).
  initial_version_stage = "SECRET_KEYRING_TERRAFORM"

  kms_key_arn = var.kms_key_arn != null ? var.kms_key_arn : try(aws_kms_key.this[0].arn, null)
  secret_arn  = try(aws_secretsmanager_secret.this[0].arn, null)

  # Keys must only be usable through Secrets Manager, never by calling KMS directly.
  kms_via_secretsmanager = "secretsmanager.${local.region}.amazonaws.com"

  # Alerts on a failed rotation go to one SNS topic, created here or passed in. The topic's
  # policy names the rule and the alarm by ARN; those ARNs are built from their names, as AWS
  # forms them, because the resources themselves refer to the topic.
  partition          = split(":", data.aws_caller_identity.current.arn)[1]
  create_alarm_topic = local.create_rotation && var.create_alarm_topic
  notify             = local.create_rotation && (var.create_alarm_topic || var.alarm_topic_arn != null)
  alarm_topic_name   = "${local.lambda_function_name}-alarms"
  alarm_topic_arn    = var.alarm_topic_arn != null ? var.alarm_topic_arn : "arn:${local.partition}:sns:${local.region}:${local.account_id}:${local.alarm_topic_name}"
  # The same ARN as a reference, so that the rule's target and the alarm wait for the topic.
  alarm_target_arn    = try(aws_sns_topic.alarms[0].arn, var.alarm_topic_arn)
  rotation_failed     = "${local.name_for_rule}-rotation-failed"
  rotation_failed_arn = "arn:${local.partition}:events:${local.region}:${local.account_id}:rule/${local.rotation_failed}"
  errors_alarm        = "${local.lambda_function_name}-errors"
  errors_alarm_arn    = "arn:${local.partition}:cloudwatch:${local.region}:${local.account_id}:alarm:${local.errors_alarm}"
}

################################################################################
# KMS key
################################################################################

resource "aws_kms_key" "this" {
  count = local.create_kms_key ? 1 : 0

  description             = "Encrypts the Django secret keyring ${local.name}"
  deletion_window_in_days = var.kms_key_deletion_window_in_days
  enable_key_rotation     = true
  tags                    = var.tags
}

resource "aws_kms_alias" "this" {
  count = local.create_kms_key ? 1 : 0

  name          = "alias/django-secret-keyring/${local.name_for_alias}"
  target_key_id = aws_kms_key.this[0].key_id
}

################################################################################
# Secret and its first keyring
################################################################################

resource "aws_secretsmanager_secret" "this" {
  count = var.create ? 1 : 0

  name                    = local.name
  description             = var.description
  kms_key_id              = local.kms_key_arn
  recovery_window_in_days = var.recovery_window_in_days
  tags                    = var.tags
}

# Ephemeral: generated during plan/apply, handed to the write-only argument below, never stored
# in the plan or the state. Letters, digits, '-' and '_' are the library's own key alphabet.
ephemeral "random_password" "current" {
  count = var.create && var.write_initial_keyring ? 1 : 0

  length           = var.key_length
  special          = true
  override_special = "-_"
}

ephemeral "random_password" "next" {
  count = var.create && var.write_initial_keyring ? 1 : 0

  length           = var.key_length
  special          = true
  override_special = "-_"
}

resource "aws_secretsmanager_secret_version" "initial" {
  count = var.create && var.write_initial_keyring ? 1 : 0

  secret_id = aws_secretsmanager_secret.this[0].id

  # A label of its own keeps this version from ever being deprecated. Without it, two rotations
  # (or put-secret-value calls) leave it unlabelled; Secrets Manager treats it as deprecated and
  # deletes it at the version quota, and AWS provider 6.26+ (which lists the labelled versions
  # to read a write-only version back) reports it deleted at once: the next apply would then
  # write a brand-new keyring over the rotated one and log every user out. Rotation moves only
  # AWSCURRENT, AWSPENDING and AWSPREVIOUS, so this label stays here for the secret's life.
  version_stages = ["AWSCURRENT", local.initial_version_stage]

  # Keyring JSON: `next` is published now, so the first rotation never surprises a process.
  secret_string_wo = jsonencode({
    current  = ephemeral.random_password.current[0].result
    next     = ephemeral.random_password.next[0].result
    previous = []
  })
  secret_string_wo_version = var.secret_string_wo_version

  lifecycle {
    # Rotation owns the value from here on: it moves AWSCURRENT to each new version and this
    # first version keeps only its own label. Never move AWSCURRENT back.
    ignore_changes = [version_stages]
  }
}

# Optional resource policy on the secret, e.g. a Deny for every principal outside the
# organisation. block_public_policy makes Secrets Manager refuse a policy that grants broad
# (public or cross-account wildcard) access.
resource "aws_secretsmanager_secret_policy" "this" {
  count = var.create && var.secret_policy_json != null ? 1 : 0

  secret_arn          = aws_secretsmanager_secret.this[0].arn
  policy              = var.secret_policy_json
  block_public_policy = var.block_public_policy
}

################################################################################
# Rotation Lambda
################################################################################

data "aws_iam_policy_document" "rotation_assume_role" {
  count = local.create_rotation ? 1 : 0

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

data "aws_iam_policy_document" "rotation" {
  count = local.create_rotation ? 1 : 0

  # Exactly the four calls of the rotation protocol, on this one secret.
  statement {
    sid    = "RotateThisSecret"
    effect = "Allow"
    actions = [
      "secretsmanager:DescribeSecret",
      "secretsmanager:GetSecretValue",
      "secretsmanager:PutSecretValue",
      "secretsmanager:UpdateSecretVersionStage",
    ]
    resources = [local.secret_arn]
  }

  dynamic "statement" {
    for_each = local.use_cmk ? [local.kms_key_arn] : []

    content {
      sid    = "UseThisKeyThroughSecretsManager"
      effect = "Allow"
      actions = [
        "kms:Decrypt",
        "kms:GenerateDataKey",
      ]
      resources = [statement.value]

      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = [local.kms_via_secretsmanager]
      }
    }
  }

  statement {
    sid    = "WriteOwnLogs"
    effect = "Allow"
    actions = [
      "logs:CreateLogStream",
      "logs:PutLogEvents",
    ]
    resources = ["${aws_cloudwatch_log_group.rotation[0].arn}:*"]
  }

  # ENI management for a Lambda in a VPC: the EC2 actions of the AWS managed policy
  # AWSLambdaVPCAccessExecutionRole. EC2 does not support resource-level permissions for these
  # calls, hence "*"; they grant nothing on the secret.
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

resource "aws_iam_role" "rotation" {
  count = local.create_rotation ? 1 : 0

  name                 = local.lambda_function_name
  description          = "Rotation Lambda of the Django secret keyring ${local.name}"
  assume_role_policy   = data.aws_iam_policy_document.rotation_assume_role[0].json
  permissions_boundary = var.lambda_role_permissions_boundary_arn
  tags                 = var.tags
}

resource "aws_iam_role_policy" "rotation" {
  count = local.create_rotation ? 1 : 0

  name   = "rotate-${local.name_for_policy}"
  role   = aws_iam_role.rotation[0].id
  policy = data.aws_iam_policy_document.rotation[0].json
}

# Created here, not by Lambda on first run, so the role needs no logs:CreateLogGroup and the
# retention is set.
resource "aws_cloudwatch_log_group" "rotation" {
  count = local.create_rotation ? 1 : 0

  name              = "/aws/lambda/${local.lambda_function_name}"
  retention_in_days = var.lambda_log_retention_in_days
  tags              = var.tags
}

resource "aws_lambda_function" "rotation" {
  count = local.create_rotation ? 1 : 0

  function_name    = local.lambda_function_name
  description      = "Rotates the Django secret keyring ${local.name} (django-secret-keyring)"
  role             = aws_iam_role.rotation[0].arn
  runtime          = var.lambda_runtime
  handler          = "secret_keyring.rotation.aws.lambda_handler"
  filename         = var.lambda_zip_path
  source_code_hash = filebase64sha256(var.lambda_zip_path)
  architectures    = [var.lambda_architecture]
  timeout          = var.lambda_timeout
  memory_size      = var.lambda_memory_size

  environment {
    variables = merge(
      var.lambda_environment_variables,
      { SECRET_KEYRING_MAX_FALLBACKS = tostring(var.rotation_max_fallbacks) },
      var.rotation_field == null ? {} : { SECRET_KEYRING_FIELD = var.rotation_field },
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
    aws_iam_role_policy.rotation,
    aws_cloudwatch_log_group.rotation,
  ]
}

# Only Secrets Manager, only for this secret, only from this account (confused-deputy guard).
resource "aws_lambda_permission" "secretsmanager" {
  count = local.create_rotation ? 1 : 0

  statement_id   = "AllowSecretsManagerToRotate"
  action         = "lambda:InvokeFunction"
  function_name  = aws_lambda_function.rotation[0].function_name
  principal      = "secretsmanager.amazonaws.com"
  source_account = local.account_id
  source_arn     = local.secret_arn
}

resource "aws_secretsmanager_secret_rotation" "this" {
  count = local.create_rotation ? 1 : 0

  secret_id           = aws_secretsmanager_secret.this[0].id
  rotation_lambda_arn = aws_lambda_function.rotation[0].arn
  rotate_immediately  = var.rotate_immediately

  rotation_rules {
    # The provider wants exactly one of the two.
    automatically_after_days = var.rotation_schedule_expression == null ? var.rotation_automatically_after_days : null
    schedule_expression      = var.rotation_schedule_expression
    duration                 = var.rotation_window
  }

  # Secrets Manager invokes the Lambda as soon as rotation is configured (and on every
  # schedule): the permission and the first keyring must exist by then.
  depends_on = [
    aws_lambda_permission.secretsmanager,
    aws_secretsmanager_secret_version.initial,
  ]
}

################################################################################
# Application read access
################################################################################

data "aws_iam_policy_document" "app_read" {
  count = var.create ? 1 : 0

  statement {
    sid    = "ReadThisSecret"
    effect = "Allow"
    actions = [
      "secretsmanager:DescribeSecret",
      "secretsmanager:GetSecretValue",
    ]
    resources = [local.secret_arn]
  }

  dynamic "statement" {
    for_each = local.use_cmk ? [local.kms_key_arn] : []

    content {
      sid       = "DecryptThisSecretThroughSecretsManager"
      effect    = "Allow"
      actions   = ["kms:Decrypt"]
      resources = [statement.value]

      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = [local.kms_via_secretsmanager]
      }
    }
  }
}

# Keyed by the map's static keys: a role created in the same apply has a name known only after
# apply, which for_each cannot use as a key.
resource "aws_iam_role_policy" "app_read" {
  for_each = var.create ? var.app_roles : {}

  name   = "read-${local.name_for_policy}"
  role   = each.value
  policy = data.aws_iam_policy_document.app_read[0].json
}

################################################################################
# Alerts on a failed rotation
################################################################################

# Once Secrets Manager's own retries are over, the next attempt is the next scheduled rotation,
# so a failure is otherwise silent for a whole period. Two signals, to one topic: Secrets
# Manager's own RotationFailed event (whatever failed: the Lambda, its permissions, a step's
# checks), and an alarm on the rotation Lambda's errors.

resource "aws_sns_topic" "alarms" {
  count = local.create_alarm_topic ? 1 : 0

  name              = local.alarm_topic_name
  kms_master_key_id = var.alarm_topic_kms_key_id
  policy            = data.aws_iam_policy_document.alarm_topic[0].json
  tags              = var.tags
}

# Least privilege for the topic: EventBridge may publish for this rule only and CloudWatch for
# this alarm only (confused-deputy guard); the account's own principals manage it through IAM.
# For a topic passed in, the alarm_topic_policy_json output holds the statements to add to it.
data "aws_iam_policy_document" "alarm_topic" {
  count = local.notify ? 1 : 0

  statement {
    sid       = "RotationFailedRulePublishes"
    effect    = "Allow"
    actions   = ["sns:Publish"]
    resources = [local.alarm_topic_arn]

    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }

    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [local.rotation_failed_arn]
    }
  }

  statement {
    sid       = "RotationErrorsAlarmPublishes"
    effect    = "Allow"
    actions   = ["sns:Publish"]
    resources = [local.alarm_topic_arn]

    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com"]
    }

    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [local.errors_alarm_arn]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

# The event Secrets Manager records (through CloudTrail, detail-type "AWS Service Event via
# CloudTrail") when a rotation of this secret fails; the secret is named in
# additionalEventData.SecretId.
resource "aws_cloudwatch_event_rule" "rotation_failed" {
  count = local.notify ? 1 : 0

  name        = local.rotation_failed
  description = "Secrets Manager could not rotate the Django secret keyring ${local.name}"
  event_pattern = jsonencode({
    source        = ["aws.secretsmanager"]
    "detail-type" = ["AWS Service Event via CloudTrail"]
    detail = {
      eventSource         = ["secretsmanager.amazonaws.com"]
      eventName           = ["RotationFailed"]
      additionalEventData = { SecretId = [local.secret_arn] }
    }
  })
  tags = var.tags
}

resource "aws_cloudwatch_event_target" "rotation_failed" {
  count = local.notify ? 1 : 0

  rule = aws_cloudwatch_event_rule.rotation_failed[0].name
  arn  = local.alarm_target_arn
}

resource "aws_cloudwatch_metric_alarm" "rotation_errors" {
  count = local.create_rotation ? 1 : 0

  alarm_name          = local.errors_alarm
  alarm_description   = "The rotation Lambda of the Django secret keyring ${local.name} failed: see docs/operations.md, \"A rotation failed\"."
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  dimensions          = { FunctionName = aws_lambda_function.rotation[0].function_name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  threshold           = 1
  # No invocation, no datapoint: that is the normal state between rotations.
  treat_missing_data = "notBreaching"
  alarm_actions      = local.notify ? [local.alarm_target_arn] : []
  tags               = var.tags
}
