output "django_secret_key_source" {
  description = "DJANGO_SECRET_KEY_SOURCE for the web application logging in with AppRole."
  value       = module.django_secret_key.approle_source_urls["${var.app_name}-web"]
}

output "kubernetes_source_urls" {
  description = "DJANGO_SECRET_KEY_SOURCE for pods logging in with their service account, per role."
  value       = module.django_secret_key.kubernetes_source_urls
}

output "approle_role_ids" {
  description = "Role IDs of the AppRole roles (give the web role's to the application as VAULT_ROLE_ID)."
  value       = module.django_secret_key.approle_role_ids
  sensitive   = true
}

output "policy_names" {
  description = "The read-only and the rotation policy."
  value = {
    app     = module.django_secret_key.app_policy_name
    rotator = module.django_secret_key.rotator_policy_name
  }
}
