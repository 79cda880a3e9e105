# No output carries key material: the keyring only ever travels through the write-only
# data_json_wo. Outputs that would must be marked sensitive; a test checks it.

output "source_url" {
  description = "Value for DJANGO_SECRET_KEY_SOURCE with token auth (VAULT_ADDR and VAULT_TOKEN from the environment)."
  value       = var.create ? join("?", compact([local.source_url, join("&", local.namespace_option)])) : null
}

output "approle_source_urls" {
  description = "Source URL for each AppRole role (role ID and secret ID come from VAULT_ROLE_ID / VAULT_SECRET_ID)."
  value = {
    for name, role in local.approle_roles :
    name => "${local.source_url}?${join("&", concat(["auth=approle"], role.backend == "approle" ? [] : ["auth_mount=${role.backend}"], local.namespace_option))}"
  }
}

output "kubernetes_source_urls" {
  description = "Source URL for each Kubernetes auth role."
  value = {
    for name, role in local.kubernetes_roles :
    name => "${local.source_url}?${join("&", concat(["auth=kubernetes", "role=${name}"], role.backend == "kubernetes" ? [] : ["auth_mount=${role.backend}"], local.namespace_option))}"
  }
}

output "jwt_source_urls" {
  description = "Source URL for each JWT auth role (the token comes from VAULT_JWT or VAULT_JWT_FILE)."
  value = {
    for name, role in local.jwt_roles :
    name => "${local.source_url}?${join("&", concat(["auth=jwt", "role=${name}"], role.backend == "jwt" ? [] : ["auth_mount=${role.backend}"], local.namespace_option))}"
  }
}

output "mount" {
  description = "Path of the KV version 2 mount holding the secret."
  value       = var.create ? local.mount : null
}

output "data_path" {
  description = "API path of the secret's data (what the policies grant)."
  value       = var.create ? local.data_path : null
}

output "metadata_path" {
  description = "API path of the secret's metadata."
  value       = var.create ? local.metadata_path : null
}

output "app_policy_name" {
  description = "Name of the read-only policy: read on the data and metadata paths of this secret only."
  value       = local.policy_names.app
}

output "rotator_policy_name" {
  description = "Name of the rotation policy: create, read and update on the data path, read on the metadata path."
  value       = local.policy_names.rotator
}

output "approle_role_names" {
  description = "Names of the AppRole roles created."
  value       = [for role in vault_approle_auth_backend_role.this : role.role_name]
}

output "approle_role_ids" {
  description = "Role ID of each AppRole role. Not a secret on its own, but half of a login: kept out of logs."
  value       = { for name, role in vault_approle_auth_backend_role.this : name => role.role_id }
  sensitive   = true
}

output "kubernetes_role_names" {
  description = "Names of the Kubernetes auth roles created."
  value       = [for role in vault_kubernetes_auth_backend_role.this : role.role_name]
}

output "jwt_role_names" {
  description = "Names of the JWT auth roles created."
  value       = [for role in vault_jwt_auth_backend_role.this : role.role_name]
}
