data "aws_caller_identity" "current" {}

data "aws_region" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  region     = data.aws_region.current.region

  # The secret name may hold / + = . @ which Lambda, IAM and KMS alias names refuse.
  name_slug            = replace(var.name, "/[^0-9A-Za-z_-]/", "-")
  lambda_function_name = coalesce(var.lambda_function_name, "${substr(local.name_slug, 0, 55)}-rotation")

  # Without a customer-managed key the secret uses the AWS-managed key aws/secretsmanager, whose
  # key policy already lets this account's principals use it through Secrets Manager: no KMS
  # statement is needed then. Decided from inputs only, so it is known at plan time.
  use_cmk         = var.create && (var.kms_key_arn != null || var.create_kms_key)
  create_kms_key  = local.use_cmk && var.kms_key_arn == null
  create_rotation = var.create && var.enable_rotation
  in_vpc          = length(var.lambda_subnet_ids) > 0

  kms_key_arn = var.kms_key_arn != null ? var.kms_key_arn : try(aws_kms_key.this[0].arn, null)
  secret_arn  = try(aws_secretsmanager_secret.this[0].arn, null)

  # Keys must only be usable through Secrets Manager, never by calling KMS directly.
  kms_via_secretsmanager = "secretsmanager.${local.region}.amazonaws.com"
}

################################################################################
# KMS key
################################################################################

resource "aws_kms_key" "this" {
  count = local.create_kms_key ? 1 : 0

  description             = "Encrypts the Django secret keyring ${var.name}"
  deletion_window_in_days = var.kms_key_deletion_window_in_days
  enable_key_rotation     = true
  tags                    = var.tags
}

resource "aws_kms_alias" "this" {
  count = local.create_kms_key ? 1 : 0

  name          = "alias/django-secret-keyring/${local.name_slug}"
  target_key_id = aws_kms_key.this[0].key_id
}

################################################################################
# Secret and its first keyring
################################################################################

resource "aws_secretsmanager_secret" "this" {
  count = var.create ? 1 : 0

  name                    = var.name
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

  # Keyring JSON: `next` is published now, so the first rotation never surprises a process.
  secret_string_wo = jsonencode({
    current  = ephemeral.random_password.current[0].result
    next     = ephemeral.random_password.next[0].result
    previous = []
  })
  secret_string_wo_version = var.secret_string_wo_version

  lifecycle {
    # Rotation owns the value from here on: it moves AWSCURRENT to each new version and this
    # first version drifts to AWSPREVIOUS, then to no label at all. Never move it back.
    ignore_changes = [version_stages]
  }
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

  # ENI management for a Lambda in a VPC. EC2 does not support resource-level permissions for
  # these calls, hence "*"; they grant nothing on the secret.
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

resource "aws_iam_role" "rotation" {
  count = local.create_rotation ? 1 : 0

  name                 = local.lambda_function_name
  description          = "Rotation Lambda of the Django secret keyring ${var.name}"
  assume_role_policy   = data.aws_iam_policy_document.rotation_assume_role[0].json
  permissions_boundary = var.lambda_role_permissions_boundary_arn
  tags                 = var.tags
}

resource "aws_iam_role_policy" "rotation" {
  count = local.create_rotation ? 1 : 0

  name   = "rotate-${local.name_slug}"
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
  description      = "Rotates the Django secret keyring ${var.name} (django-secret-keyring)"
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

resource "aws_iam_role_policy" "app_read" {
  for_each = var.create ? toset(var.app_role_names) : toset([])

  name   = "read-${local.name_slug}"
  role   = each.value
  policy = data.aws_iam_policy_document.app_read[0].json
}
