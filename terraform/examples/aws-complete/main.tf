provider "aws" {
  region = var.region
}

# The application's own role, here an ECS task role. Any role works: EC2 instance profile,
# EKS pod identity, Lambda execution role.
data "aws_iam_policy_document" "app_assume_role" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "app" {
  name               = "${var.app_name}-${var.environment}-app"
  assume_role_policy = data.aws_iam_policy_document.app_assume_role.json
}

module "django_secret_key" {
  source = "../../modules/aws-secret"

  name = "${var.environment}/${var.app_name}/django"

  # Built by `secret-keyring lambda-zip build/rotation.zip`.
  lambda_zip_path              = var.lambda_zip_path
  rotation_schedule_expression = "rate(30 days)"

  # Alerts on a failed rotation (Secrets Manager's RotationFailed event, the Lambda's errors)
  # go to a new SNS topic: subscribe to it (the alarm_topic_arn output).
  create_alarm_topic = true

  # Read-only access to this one secret for the application role.
  app_roles = { app = aws_iam_role.app.name }

  tags = {
    Application = var.app_name
    Environment = var.environment
  }
}
