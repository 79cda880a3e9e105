variable "create" {
  description = "Set to false to create nothing."
  type        = bool
  default     = true
}

################################################################################
# The secret
################################################################################

variable "mount" {
  description = "KV version 2 mount holding the keyring, as given to the vault-secret module (its `mount` output). Required unless create is false."
  type        = string
  default     = null

  validation {
    # Null only with create = false, when nothing needs it.
    condition     = var.mount == null ? !var.create : can(regex("^[A-Za-z0-9_.-]+$", var.mount))
    error_message = "Set mount to a single path segment of letters, digits, '_', '.' or '-' (no slashes)."
  }
}

variable "name" {
  description = "Path of the keyring inside the mount, e.g. \"myapp/django\". Required unless create is false."
  type        = string
  default     = null

  validation {
    condition     = var.name == null ? !var.create : can(regex("^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$", var.name))
    error_message = "Set name to a relative path of letters, digits, '_', '.' and '-' segments, without leading or trailing '/'."
  }
}

variable "rotator_policy_name" {
  description = "Vault policy the Lambda's token gets: the vault-secret module's `rotator_policy_name` output (create, read and update on this secret's data path, read on its metadata). Required unless create is false."
  type        = string
  default     = null

  validation {
    condition     = var.rotator_policy_name == null ? !var.create : length(var.rotator_policy_name) > 0 && !contains(["root", "default"], var.rotator_policy_name)
    error_message = "Set rotator_policy_name to the secret's rotator policy, not root or default."
  }
}

variable "max_fallbacks" {
  description = "Previous keys a rotated keyring keeps (SECRET_KEYRING_MAX_FALLBACKS)."
  type        = number
  default     = 3

  validation {
    # The library allows 0 to 18, but rotating keyring JSON with 0 would drop the key every
    # process still signs with: the handler refuses it, so the module refuses it at plan time.
    condition     = var.max_fallbacks >= 1 && var.max_fallbacks <= 18 && floor(var.max_fallbacks) == var.max_fallbacks
    error_message = "max_fallbacks must be a whole number from 1 to 18: rotating keeps the old current key as a fallback."
  }
}

variable "min_interval_seconds" {
  description = "A run within this many seconds of the latest version's created_time writes nothing (SECRET_KEYRING_MIN_INTERVAL). Keep it above twice the applications' cache TTL: a retried invocation whose first write landed must not promote a `next` that stale caches never saw."
  type        = number
  default     = 900

  validation {
    condition     = var.min_interval_seconds >= 0
    error_message = "min_interval_seconds must be 0 or more."
  }
}

################################################################################
# Vault
################################################################################

variable "vault_address" {
  description = "Address of Vault/OpenBao as the Lambda reaches it (VAULT_ADDR), e.g. \"https://vault.example.com:8200\". Required unless create is false."
  type        = string
  default     = null

  validation {
    condition     = var.vault_address == null ? !var.create : can(regex("^https://", var.vault_address))
    error_message = "Set vault_address to an https:// URL: the Lambda sends its signed login request there."
  }
}

variable "vault_auth_backend" {
  description = "Path of the Vault `aws` auth method, enabled and configured beforehand (`vault auth enable aws`)."
  type        = string
  default     = "aws"
}

variable "vault_role_name" {
  description = "Name of the Vault aws auth role created for the Lambda. Null derives it from name."
  type        = string
  default     = null

  validation {
    condition     = var.vault_role_name == null || can(regex("^[A-Za-z0-9_.-]{1,64}$", var.vault_role_name))
    error_message = "vault_role_name may hold letters, digits, '_', '.' and '-' (at most 64)."
  }
}

variable "vault_namespace" {
  description = "Vault Enterprise / OpenBao namespace of the secret and the auth method. Null: none."
  type        = string
  default     = null
}

variable "vault_aws_header_value" {
  description = "Value of X-Vault-AWS-IAM-Server-ID, when the aws auth method is configured with iam_server_id_header_value. Not a secret: it only names the server."
  type        = string
  default     = null
}

variable "vault_token_ttl" {
  description = "Lifetime in seconds of the token the Lambda logs in for (one run)."
  type        = number
  default     = 300

  validation {
    condition     = var.vault_token_ttl >= 60 && var.vault_token_ttl <= 3600 && floor(var.vault_token_ttl) == var.vault_token_ttl
    error_message = "vault_token_ttl must be a whole number from 60 to 3600 seconds."
  }
}

################################################################################
# Schedule
################################################################################

variable "schedule_expression" {
  description = "When to rotate: an EventBridge Scheduler rate() or cron() expression. Each rotation promotes `next`; every process must have refreshed in between."
  type        = string
  default     = "rate(30 days)"

  validation {
    condition     = can(regex("^(rate|cron)\\(.+\\)$", var.schedule_expression))
    error_message = "schedule_expression must be rate(...) or cron(...)."
  }
}

variable "schedule_timezone" {
  description = "Time zone a cron() schedule_expression is read in."
  type        = string
  default     = "UTC"
}

variable "schedule_group_name" {
  description = "EventBridge Scheduler schedule group."
  type        = string
  default     = "default"
}

variable "schedule_enabled" {
  description = "Set to false to keep everything but pause the schedule."
  type        = bool
  default     = true
}

variable "schedule_maximum_retry_attempts" {
  description = "Times EventBridge Scheduler retries an invocation it could not deliver."
  type        = number
  default     = 3

  validation {
    condition     = var.schedule_maximum_retry_attempts >= 0 && var.schedule_maximum_retry_attempts <= 185 && floor(var.schedule_maximum_retry_attempts) == var.schedule_maximum_retry_attempts
    error_message = "schedule_maximum_retry_attempts must be a whole number from 0 to 185."
  }
}

variable "schedule_maximum_event_age_in_seconds" {
  description = "How long, in seconds, a scheduled run may still be delivered or retried."
  type        = number
  default     = 3600

  validation {
    # Both the schedule's retry policy (60 to 86400) and Lambda's asynchronous invoke config
    # (60 to 21600) take this value: the narrower range holds.
    condition     = var.schedule_maximum_event_age_in_seconds >= 60 && var.schedule_maximum_event_age_in_seconds <= 21600 && floor(var.schedule_maximum_event_age_in_seconds) == var.schedule_maximum_event_age_in_seconds
    error_message = "schedule_maximum_event_age_in_seconds must be a whole number from 60 to 21600 (Lambda's limit for asynchronous events)."
  }
}

################################################################################
# Lambda
################################################################################

variable "lambda_zip_path" {
  description = "Path to the package built by `secret-keyring lambda-zip PATH --backend vault` (this library with hvac and its dependencies). Required unless create is false."
  type        = string
  default     = null

  validation {
    condition     = var.lambda_zip_path == null ? !var.create : can(regex("\\.zip$", var.lambda_zip_path))
    error_message = "Set lambda_zip_path to a .zip file (build it with `secret-keyring lambda-zip vault-rotation.zip --backend vault`)."
  }
}

variable "function_name" {
  description = "Name of the Lambda function, its IAM role, log group and schedule. Null derives it from name."
  type        = string
  default     = null

  validation {
    condition     = var.function_name == null || can(regex("^[A-Za-z0-9_-]{1,55}$", var.function_name))
    error_message = "function_name may hold letters, digits, '_' and '-' (at most 55, leaving room for the scheduler role's suffix)."
  }
}

variable "lambda_runtime" {
  description = "Python runtime of the Lambda."
  type        = string
  default     = "python3.13"

  validation {
    condition     = can(regex("^python3\\.[0-9]+$", var.lambda_runtime))
    error_message = "lambda_runtime must be a Python runtime such as python3.13."
  }
}

variable "lambda_architecture" {
  description = "Instruction set of the Lambda. The package is pure Python (compiled modules are left out), so both work."
  type        = string
  default     = "arm64"

  validation {
    condition     = contains(["arm64", "x86_64"], var.lambda_architecture)
    error_message = "lambda_architecture must be arm64 or x86_64."
  }
}

variable "lambda_timeout" {
  description = "Timeout of one run, in seconds: a login and three requests to Vault."
  type        = number
  default     = 60

  validation {
    condition     = var.lambda_timeout >= 3 && var.lambda_timeout <= 900 && floor(var.lambda_timeout) == var.lambda_timeout
    error_message = "lambda_timeout must be a whole number from 3 to 900 seconds."
  }
}

variable "lambda_memory_size" {
  description = "Memory of the Lambda in MB."
  type        = number
  default     = 256
}

variable "lambda_reserved_concurrent_executions" {
  description = "Reserved concurrency. 1 forbids overlapping runs (as a CronJob's concurrencyPolicy: Forbid); null leaves the account's unreserved pool alone (check-and-set still lets only one overlapping run write)."
  type        = number
  default     = null
}

variable "lambda_maximum_retry_attempts" {
  description = "Times Lambda retries a failed asynchronous run (0 to 2)."
  type        = number
  default     = 2

  validation {
    condition     = var.lambda_maximum_retry_attempts >= 0 && var.lambda_maximum_retry_attempts <= 2 && floor(var.lambda_maximum_retry_attempts) == var.lambda_maximum_retry_attempts
    error_message = "lambda_maximum_retry_attempts must be a whole number from 0 to 2."
  }
}

variable "lambda_environment_variables" {
  description = "Extra environment variables for the Lambda, e.g. VAULT_CACERT for a CA file shipped in a layer. The module's own variables win."
  type        = map(string)
  default     = {}
}

variable "lambda_subnet_ids" {
  description = "Subnets to run the Lambda in, when Vault is reachable only from a VPC. Empty: no VPC."
  type        = list(string)
  default     = []
}

variable "lambda_security_group_ids" {
  description = "Security groups of the Lambda in the VPC; they must allow HTTPS out to Vault and to STS."
  type        = list(string)
  default     = []
}

variable "lambda_log_retention_in_days" {
  description = "Retention of the Lambda's CloudWatch log group."
  type        = number
  default     = 90
}

variable "lambda_role_permissions_boundary_arn" {
  description = "Permissions boundary for the two IAM roles the module creates."
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags for every AWS resource."
  type        = map(string)
  default     = {}
}
