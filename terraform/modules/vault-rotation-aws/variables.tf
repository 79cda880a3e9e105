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
  description = "Name of the Vault aws auth role created for the Lambda. Null derives it from mount and name, with a hash of both."
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
  description = "Value of X-Vault-AWS-IAM-Server-ID the Lambda signs into its login: set it, and the same value as the aws auth method's iam_server_id_header_value, so that a signed login captured elsewhere cannot be replayed against this Vault. Not a secret: it only names the server."
  type        = string
  default     = null

  validation {
    condition     = var.vault_aws_header_value == null || can(regex("^[!-~]+$", var.vault_aws_header_value))
    error_message = "vault_aws_header_value must be printable ASCII without spaces (an HTTP header value), e.g. the Vault host name."
  }
}

variable "vault_aws_region" {
  description = "AWS region whose STS endpoint the Lambda signs its login for (aws_region= in the source URL). Null: us-east-1, the global endpoint. Set it, with the aws auth method's sts_endpoint and sts_region, when Vault verifies logins against a regional STS endpoint."
  type        = string
  default     = null

  validation {
    # The pattern the library's URL parser holds aws_region= to.
    condition     = var.vault_aws_region == null || can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]+$", var.vault_aws_region))
    error_message = "vault_aws_region must be an AWS region name such as eu-west-1."
  }
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
  description = "When to rotate: an EventBridge Scheduler cron() expression (six fields, read in schedule_timezone), or a rate() one with schedule_start_date. The default is 04:00 on the first of every month. Each rotation promotes `next`; every process must have refreshed in between."
  type        = string
  default     = "cron(0 4 1 * ? *)"

  validation {
    condition     = can(regex("^cron\\(\\S+( \\S+){5}\\)$", var.schedule_expression)) || can(regex("^rate\\([1-9][0-9]* (minute|minutes|hour|hours|day|days)\\)$", var.schedule_expression))
    error_message = "schedule_expression must be cron(minutes hours day-of-month month day-of-week year), e.g. cron(0 4 1 * ? *), or rate(N minutes|hours|days)."
  }

  validation {
    # EventBridge Scheduler starts a rate() schedule without a start date at once: the first
    # apply would rotate a keyring older than min_interval_seconds immediately.
    condition     = !startswith(var.schedule_expression, "rate(") || var.schedule_start_date != null
    error_message = "A rate() schedule_expression starts the moment the schedule is created (the first apply would rotate at once): set schedule_start_date too, or use a cron() expression."
  }
}

variable "schedule_start_date" {
  description = "UTC time after which the schedule may first run, e.g. \"2030-01-01T04:00:00Z\". Required with a rate() schedule_expression, which otherwise runs as soon as it is created; optional with cron()."
  type        = string
  default     = null

  validation {
    condition     = var.schedule_start_date == null || can(regex("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$", var.schedule_start_date))
    error_message = "schedule_start_date must be a UTC time in RFC 3339 form, e.g. 2030-01-01T04:00:00Z."
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
  description = "Name of the Lambda function, its IAM role, log group, schedule, dead-letter queue and alarms. Null derives it from mount and name, with a hash of both."
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
  description = "Security groups of the Lambda when lambda_subnet_ids is set; they must allow HTTPS out to Vault."
  type        = list(string)
  default     = []

  validation {
    condition     = (length(var.lambda_subnet_ids) == 0) == (length(var.lambda_security_group_ids) == 0)
    error_message = "Set lambda_subnet_ids and lambda_security_group_ids together, or neither."
  }
}

variable "lambda_log_retention_in_days" {
  description = "Retention of the Lambda's CloudWatch log group, in days: one of the values CloudWatch Logs accepts, or 0 to keep the logs forever. The handler logs fingerprints, never keys."
  type        = number
  default     = 90

  validation {
    condition     = contains([0, 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.lambda_log_retention_in_days)
    error_message = "lambda_log_retention_in_days must be 0 (never expire) or one of 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653."
  }
}

variable "lambda_role_permissions_boundary_arn" {
  description = "Permissions boundary for the two IAM roles the module creates."
  type        = string
  default     = null
}

################################################################################
# Alarms
################################################################################

variable "create_alarms" {
  description = "Create the CloudWatch alarms of a failed rotation: the Lambda's errors, events in the dead-letter queue, the scheduler's target errors and dropped invocations."
  type        = bool
  default     = true
}

variable "create_alarm_topic" {
  description = "Create an SNS topic the alarms notify (subscribe to it: output alarm_topic_arn). Leave false to pass your own in alarm_topic_arn, or to have the alarms change state without notifying anyone."
  type        = bool
  default     = false
}

variable "alarm_topic_arn" {
  description = "ARN of an existing SNS topic the alarms notify (its policy must let CloudWatch publish, as a topic's default policy does for alarms of the same account). Null: none, or the module's own with create_alarm_topic."
  type        = string
  default     = null

  validation {
    condition     = var.alarm_topic_arn == null ? true : !var.create_alarm_topic && can(regex("^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]{1,256}$", var.alarm_topic_arn))
    error_message = "alarm_topic_arn must be an SNS topic ARN (arn:aws:sns:REGION:ACCOUNT:NAME), and not set together with create_alarm_topic = true: pick one topic."
  }
}

variable "tags" {
  description = "Tags for every AWS resource."
  type        = map(string)
  default     = {}
}
