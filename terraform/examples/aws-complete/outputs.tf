output "django_secret_key_source" {
  description = "Set DJANGO_SECRET_KEY_SOURCE to this value in the application's environment."
  value       = module.django_secret_key.source_url
}

output "secret_arn" {
  description = "ARN of the keyring secret."
  value       = module.django_secret_key.secret_arn
}

output "app_role_arn" {
  description = "ARN of the application role that may read the keyring."
  value       = aws_iam_role.app.arn
}

output "rotation_lambda_arn" {
  description = "ARN of the rotation Lambda."
  value       = module.django_secret_key.rotation_lambda_arn
}

output "alarm_topic_arn" {
  description = "SNS topic of the alerts on a failed rotation: subscribe to it (email, chat, paging)."
  value       = module.django_secret_key.alarm_topic_arn
}
