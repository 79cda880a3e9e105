output "rotation_source_url" {
  description = "The vault:// URL the Lambda rotates, logging in with its IAM role (auth=aws)."
  value       = module.django_secret_key_rotation.source_url
}

output "lambda_function_name" {
  description = "Invoke it to rotate now: aws lambda invoke --function-name NAME out.json."
  value       = module.django_secret_key_rotation.lambda_function_name
}

output "schedule_arn" {
  description = "The EventBridge Scheduler schedule that invokes the Lambda."
  value       = module.django_secret_key_rotation.schedule_arn
}

output "policy_names" {
  description = "The read-only and the rotation policy."
  value = {
    app     = module.django_secret_key.app_policy_name
    rotator = module.django_secret_key.rotator_policy_name
  }
}

output "alarm_topic_arn" {
  description = "Subscribe to it to hear of a failed rotation: aws sns subscribe --topic-arn ARN --protocol email --notification-endpoint you@example.com."
  value       = module.django_secret_key_rotation.alarm_topic_arn
}

output "dead_letter_queue_url" {
  description = "Where a failed rotation's event waits: see docs/operations.md, \"When a rotation alarm fires\"."
  value       = module.django_secret_key_rotation.dead_letter_queue_url
}
