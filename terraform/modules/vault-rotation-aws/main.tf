data "aws_caller_identity" "current" {}

locals {
  # mount and name are null only with create = false, when no resource reads these locals.
  name_slug = lower(replace(var.name == null ? "" : var.name, "/[^A-Za-z0-9-]/", "-"))
  # Lambda function, IAM role and schedule names allow at most 64 characters.
  function_name = coalesce(var.function_name, substr("vault-rotate-${local.name_slug}", 0, 64))
  role_name     = coalesce(var.vault_role_name, substr("${local.name_slug}-rotator", 0, 64))
  # The scheduler's IAM role must differ from the Lambda's (named like the function): a function
  # name too long for the "-schedule" suffix is cut and given a hash of the whole name instead.
  scheduler_role_name = (length(local.function_name) <= 55
    ? "${local.function_name}-schedule"
    : "${substr(local.function_name, 0, 50)}-${substr(sha256(local.function_name), 0, 8)}-sch"
  )
  in_vpc = length(var.lambda_subnet_ids) > 0

  # The handler logs in with the Lambda's own IAM role (auth=aws) and rotates this one secret.
  source_options = concat(
    ["auth=aws", "role=${local.role_name}"],
    var.vault_auth_backend == "aws" ? [] : ["auth_mount=${var.vault_auth_backend}"],
    var.vault_namespace == null ? [] : ["namespace=${var.vault_namespace}"],
    var.vault_aws_header_value == null ? [] : ["aws_header_value=${var.vault_aws_header_value}"],
  )
  source_url = var.create ? "vault://${var.mount}/${var.name}?${join("&", local.source_options)}" : null
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
# permission. It may write its own logs, and manage network interfaces in a VPC; nothing else.
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

  name   = "logs-${local.function_name}"
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
# and writes nothing, so retries never rotate twice.
resource "aws_lambda_function_event_invoke_config" "this" {
  count = var.create ? 1 : 0

  function_name                = aws_lambda_function.this[0].function_name
  maximum_retry_attempts       = var.lambda_maximum_retry_attempts
  maximum_event_age_in_seconds = var.schedule_maximum_event_age_in_seconds
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

  name                         = local.function_name
  group_name                   = var.schedule_group_name
  description                  = "Rotate the Django secret keyring ${var.mount}/${var.name}"
  schedule_expression          = var.schedule_expression
  schedule_expression_timezone = var.schedule_timezone
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
  }
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
  token_policies           = [var.rotator_policy_name]
  token_ttl                = var.vault_token_ttl
  token_max_ttl            = var.vault_token_ttl
}
