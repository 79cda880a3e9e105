################################################################################
# Secret
################################################################################

variable "create" {
  description = "Set to false to create nothing."
  type        = bool
  default     = true
}

variable "mount" {
  description = "Path of the KV version 2 secrets engine, e.g. \"secret\". One path segment: the source URL vault://MOUNT/NAME takes the mount from its first segment."
  type        = string
  default     = "secret"

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]+$", var.mount))
    error_message = "mount must be a single path segment of letters, digits, '_', '.' or '-' (no slashes)."
  }
}

variable "create_mount" {
  description = "Enable a KV version 2 secrets engine at `mount`. Leave false to use an existing one (such as the dev server's secret/)."
  type        = bool
  default     = false
}

variable "mount_description" {
  description = "Description of the KV mount when create_mount is true."
  type        = string
  default     = "Django secret keyrings (django-secret-keyring)"
}

variable "name" {
  description = "Path of the secret inside the mount, e.g. \"myapp/django\"."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$", var.name))
    error_message = "name must be a relative path of letters, digits, '_', '.' and '-' segments, without leading or trailing '/'."
  }
}

variable "namespace" {
  description = "Vault Enterprise / OpenBao namespace to create everything in. Null uses the provider's namespace."
  type        = string
  default     = null
}

variable "max_versions" {
  description = "Number of versions KV keeps for this secret. Plain (non-keyring) payloads use earlier live versions as fallback keys, so keep at least max_fallbacks + 1."
  type        = number
  default     = 10

  validation {
    condition     = var.max_versions >= 1 && floor(var.max_versions) == var.max_versions
    error_message = "max_versions must be a whole number, 1 or more."
  }
}

variable "custom_metadata" {
  description = "Extra custom metadata (string map) stored with the secret."
  type        = map(string)
  default     = {}
}

variable "delete_all_versions_on_destroy" {
  description = "On destroy, delete the metadata and with it every version, instead of only soft-deleting the latest version. Safe to change after creation."
  type        = bool
  default     = false
}

################################################################################
# First keyring
################################################################################

variable "write_initial_keyring" {
  description = "Write the first keyring, create-only (check-and-set 0, sent in the request's options where KV v2 reads it: an apply against a path that already holds a version fails instead of overwriting it). Set to false for a secret initialised another way (`secret-keyring init`, a migration), or to stop managing the value (see the README)."
  type        = bool
  default     = true
}

variable "data_json_wo_version" {
  description = "Version of the first keyring, written once through the write-only data_json_wo so no key lands in state. Rotation owns the value afterwards. The write is create-only, so raising this number fails the apply while the secret exists: re-key after a leak as the operations runbook says."
  type        = number
  default     = 1

  validation {
    condition     = var.data_json_wo_version >= 1 && floor(var.data_json_wo_version) == var.data_json_wo_version
    error_message = "data_json_wo_version must be a whole number, 1 or more."
  }
}

variable "key_length" {
  description = "Length of each generated key. Keys use letters, digits, '-' and '_' (6 bits a character), so 50 characters hold 300 bits."
  type        = number
  default     = 50

  validation {
    condition     = var.key_length >= 50 && var.key_length <= 256 && floor(var.key_length) == var.key_length
    error_message = "key_length must be a whole number from 50 (Django's minimum) to 256."
  }
}

################################################################################
# Policies and roles
################################################################################

variable "policy_name_prefix" {
  description = "Prefix of the two policy names (<prefix>-read and <prefix>-rotate). Null derives it from mount and name."
  type        = string
  default     = null

  validation {
    condition     = var.policy_name_prefix == null || can(regex("^[a-z0-9_.-]{1,100}$", var.policy_name_prefix))
    error_message = "policy_name_prefix may hold lower-case letters, digits, '_', '.' and '-'."
  }
}

variable "approle_roles" {
  description = "AppRole roles to create, keyed by role name. `policies` lists this module's policies to attach: \"app\" (read the keyring) and/or \"rotator\" (rotate it). The application reads its role ID and secret ID from VAULT_ROLE_ID / VAULT_SECRET_ID (or the *_FILE variants). Everything expires by default: a secret ID after 30 days (secret_id_ttl, seconds) or 1000 logins (secret_id_num_uses; each process logs in at start and when its token reaches token_max_ttl), tokens after 1 hour, renewable to 4; secret_id_bound_cidrs and token_bound_cidrs restrict where they are used."
  type = map(object({
    policies              = list(string)
    backend               = optional(string, "approle")
    token_ttl             = optional(number, 3600)
    token_max_ttl         = optional(number, 14400)
    secret_id_ttl         = optional(number, 2592000)
    secret_id_num_uses    = optional(number, 1000)
    token_bound_cidrs     = optional(list(string), [])
    secret_id_bound_cidrs = optional(list(string), [])
  }))
  default = {}

  validation {
    condition = alltrue([
      for role in values(var.approle_roles) :
      role.secret_id_ttl > 0 && role.token_ttl > 0 && role.token_max_ttl >= role.token_ttl && role.secret_id_num_uses >= 0
    ])
    error_message = "AppRole credentials must expire: secret_id_ttl and token_ttl above 0 (0 means never in Vault), token_max_ttl at least token_ttl."
  }

  validation {
    condition = alltrue([
      for name, role in var.approle_roles :
      can(regex("^[A-Za-z0-9_.-]+$", name)) && length(role.policies) > 0 && length(setsubtract(role.policies, ["app", "rotator"])) == 0
    ])
    error_message = "Each AppRole role needs a name of letters, digits, '_', '.', '-' and policies chosen from \"app\" and \"rotator\"."
  }
}

variable "kubernetes_roles" {
  description = "Kubernetes auth roles to create, keyed by role name, bound to service accounts and namespaces. `policies` as for approle_roles. The auth method at `backend` must already be enabled and configured."
  type = map(object({
    policies                         = list(string)
    bound_service_account_names      = list(string)
    bound_service_account_namespaces = list(string)
    backend                          = optional(string, "kubernetes")
    audience                         = optional(string)
    token_ttl                        = optional(number, 3600)
    token_max_ttl                    = optional(number, 14400)
  }))
  default = {}

  validation {
    condition = alltrue([
      for name, role in var.kubernetes_roles :
      can(regex("^[A-Za-z0-9_.-]+$", name)) && length(role.policies) > 0 && length(setsubtract(role.policies, ["app", "rotator"])) == 0
    ])
    error_message = "Each Kubernetes role needs a name of letters, digits, '_', '.', '-' and policies chosen from \"app\" and \"rotator\"."
  }

  validation {
    condition = alltrue([
      for role in values(var.kubernetes_roles) :
      length(role.bound_service_account_names) > 0 && length(role.bound_service_account_namespaces) > 0 && !(contains(role.bound_service_account_names, "*") && contains(role.bound_service_account_namespaces, "*"))
    ])
    error_message = "Bind each Kubernetes role to service accounts and namespaces; they cannot both be \"*\"."
  }
}

variable "jwt_roles" {
  description = "JWT auth roles to create, keyed by role name (CI systems, workload identity). `policies` as for approle_roles. The auth method at `backend` must already be enabled and configured."
  type = map(object({
    policies        = list(string)
    bound_audiences = list(string)
    bound_subject   = optional(string)
    bound_claims    = optional(map(string), {})
    user_claim      = optional(string, "sub")
    backend         = optional(string, "jwt")
    token_ttl       = optional(number, 900)
    token_max_ttl   = optional(number, 3600)
  }))
  default = {}

  validation {
    condition = alltrue([
      for name, role in var.jwt_roles :
      can(regex("^[A-Za-z0-9_.-]+$", name)) && length(role.policies) > 0 && length(setsubtract(role.policies, ["app", "rotator"])) == 0
    ])
    error_message = "Each JWT role needs a name of letters, digits, '_', '.', '-' and policies chosen from \"app\" and \"rotator\"."
  }

  validation {
    condition = alltrue([
      for role in values(var.jwt_roles) :
      length(role.bound_audiences) > 0 && (role.bound_subject != null || length(role.bound_claims) > 0)
    ])
    error_message = "Bind each JWT role to an audience and to a subject or claims, or any token from the issuer could read the keyring."
  }
}
