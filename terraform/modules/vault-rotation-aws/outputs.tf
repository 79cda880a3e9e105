output "source_url" {
  description = "The vault:// URL the Lambda rotates (SECRET_KEYRING_SOURCE): auth=aws with the role below."
  value       = local.source_url
}

output "lambda_function_name" {
  description = "Name of the rotation Lambda: `aws lambda invoke --function-name NAME out.json` rotates now (within min_interval_seconds it reports skipped)."
  value       = try(aws_lambda_function.this[0].function_name, null)
}

output "lambda_function_arn" {
  description = "ARN of the rotation Lambda."
  value       = try(aws_lambda_function.this[0].arn, null)
}

output "lambda_role_arn" {
  description = "ARN of the Lambda's IAM role: the one principal bound to the Vault role."
  value       = try(aws_iam_role.lambda[0].arn, null)
}

output "schedule_arn" {
  description = "ARN of the EventBridge Scheduler schedule."
  value       = try(aws_scheduler_schedule.this[0].arn, null)
}

output "vault_role_name" {
  description = "Name of the Vault aws auth role the Lambda logs in as."
  value       = try(vault_aws_auth_backend_role.this[0].role, null)
}

output "dead_letter_queue_url" {
  description = "URL of the dead-letter queue: a message there is a scheduled rotation that failed after every retry (read it with `aws sqs receive-message --queue-url URL`)."
  value       = try(aws_sqs_queue.dead_letter[0].url, null)
}

output "dead_letter_queue_arn" {
  description = "ARN of the dead-letter queue (the scheduler's dead-letter queue and the Lambda's on-failure destination)."
  value       = try(aws_sqs_queue.dead_letter[0].arn, null)
}

output "alarm_topic_arn" {
  description = "SNS topic the alarms notify: the module's own (create_alarm_topic) or alarm_topic_arn; null when none."
  value       = local.create_alarms ? local.alarm_topic_arn : null
}

output "alarm_names" {
  description = "Names of the CloudWatch alarms of a failed rotation, by what they watch; empty when create_alarms is false."
  value       = local.create_alarms ? local.alarm_names : {}
}
