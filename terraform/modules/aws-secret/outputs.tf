# No output carries key material: the keyring only ever travels through the write-only
# secret_string_wo. Outputs that would (none today) must be marked sensitive; a test checks it.

output "secret_arn" {
  description = "ARN of the secret."
  value       = local.secret_arn
}

output "secret_name" {
  description = "Name of the secret."
  value       = try(aws_secretsmanager_secret.this[0].name, null)
}

output "source_url" {
  description = "Value for DJANGO_SECRET_KEY_SOURCE (or the argument of secret_keys()) in the application."
  value       = var.create ? "aws-secretsmanager://${local.secret_arn}?region=${local.region}" : null
}

output "kms_key_arn" {
  description = "ARN of the customer-managed KMS key encrypting the secret, or null for the AWS-managed key."
  value       = local.use_cmk ? local.kms_key_arn : null
}

output "app_read_policy_json" {
  description = "IAM policy document (JSON) that lets an application read this secret and nothing else: secretsmanager:GetSecretValue and DescribeSecret on this ARN, kms:Decrypt on this key through Secrets Manager."
  value       = try(data.aws_iam_policy_document.app_read[0].json, null)
}

output "rotation_lambda_arn" {
  description = "ARN of the rotation Lambda."
  value       = try(aws_lambda_function.rotation[0].arn, null)
}

output "rotation_lambda_role_arn" {
  description = "ARN of the rotation Lambda's IAM role."
  value       = try(aws_iam_role.rotation[0].arn, null)
}

output "alarm_topic_arn" {
  description = "ARN of the SNS topic the rotation alerts go to (created or passed in), or null when none is set."
  value       = local.notify ? local.alarm_target_arn : null
}

output "alarm_topic_policy_json" {
  description = "Topic policy (JSON) letting only this module's RotationFailed rule and errors alarm publish: the created topic's policy, or the statements to add to the policy of a topic passed in alarm_topic_arn."
  value       = try(data.aws_iam_policy_document.alarm_topic[0].json, null)
}

output "rotation_failed_rule_arn" {
  description = "ARN of the EventBridge rule matching Secrets Manager's RotationFailed event for this secret."
  value       = try(aws_cloudwatch_event_rule.rotation_failed[0].arn, null)
}

output "rotation_errors_alarm_arn" {
  description = "ARN of the CloudWatch alarm on the rotation Lambda's errors."
  value       = try(aws_cloudwatch_metric_alarm.rotation_errors[0].arn, null)
}
