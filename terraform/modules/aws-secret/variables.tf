################################################################################
# Secret
################################################################################

variable "create" {
  description = "Set to false to create nothing (for example in an environment that reuses another environment's secret)."
  type        = bool
  default     = true
}

variable "name" {
  description = "Name of the Secrets Manager secret, e.g. \"prod/myapp/django\". Also used to name the KMS alias, the rotation Lambda, its IAM role and the inline policies. Required unless create is false."
  type        = string
  default     = null

  validation {
    condition     = var.name == null ? !var.create : can(regex("^[A-Za-z0-9/_+=.@-]{1,512}$", var.name))
    error_message = "Set name to the secret's name: letters, digits and / _ + = . @ - (1 to 512 characters)."
  }
}

variable "description" {
  description = "Description of the secret."
  type        = string
  default     = "Django SECRET_KEY keyring (current, next, previous), managed by django-secret-keyring."
}

variable "recovery_window_in_days" {
  description = "Days Secrets Manager keeps the secret after deletion, during which it can be restored. 0 deletes at once (not recommended: every session and signed value dies with the keys)."
  type        = number
  default     = 30

  validation {
    condition     = var.recovery_window_in_days == 0 || (var.recovery_window_in_days >= 7 && var.recovery_window_in_days <= 30)
    error_message = "recovery_window_in_days must be 0 or between 7 and 30."
  }
}

variable "secret_policy_json" {
  description = "Resource policy (JSON) to attach to the secret, e.g. a Deny for principals outside your organisation. Null attaches none; the IAM policies of the Lambda and of app_roles grant access either way."
  type        = string
  default     = null

  validation {
    condition     = var.secret_policy_json == null || can(jsondecode(var.secret_policy_json))
    error_message = "secret_policy_json must be a JSON policy document, e.g. data.aws_iam_policy_document.x.json."
  }
}

variable "block_public_policy" {
  description = "Make Secrets Manager refuse a secret_policy_json that grants broad access (a wildcard principal). Applies only with secret_policy_json."
  type        = bool
  default     = true
}

variable "tags" {
  description = "Tags for every taggable resource the module creates."
  type        = map(string)
  default     = {}
}

################################################################################
# First keyring
################################################################################

variable "write_initial_keyring" {
  description = "Write the first keyring. Set to false when the secret is initialised another way (`secret-keyring init`), or to stop managing the first version once rotation has long taken over (see the README)."
  type        = bool
  default     = true
}

variable "secret_string_wo_version" {
  description = "Version of the first keyring, written once through the write-only secret_string_wo so no key lands in state. Rotation owns the value afterwards. Raising this number writes a brand-new keyring and drops every old key: an emergency re-key that logs out every user and invalidates every signed value."
  type        = number
  default     = 1

  validation {
    condition     = var.secret_string_wo_version >= 1 && floor(var.secret_string_wo_version) == var.secret_string_wo_version
    error_message = "secret_string_wo_version must be a whole number, 1 or more."
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
# Encryption
################################################################################

variable "create_kms_key" {
  description = "Create a customer-managed KMS key (with yearly key rotation) to encrypt the secret. Ignored when kms_key_arn is set. When false and kms_key_arn is null, the AWS-managed key aws/secretsmanager is used."
  type        = bool
  default     = true
}

variable "kms_key_arn" {
  description = "ARN of an existing customer-managed KMS key to encrypt the secret (bring your own key). Must be a key ARN, not an alias, because IAM statements are scoped to it."
  type        = string
  default     = null

  validation {
    condition     = var.kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[A-Za-z0-9-]+$", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN (arn:aws:kms:REGION:ACCOUNT:key/ID), not an alias."
  }
}

variable "kms_key_deletion_window_in_days" {
  description = "Waiting period before a KMS key created by this module is deleted."
  type        = number
  default     = 30

  validation {
    condition     = var.kms_key_deletion_window_in_days >= 7 && var.kms_key_deletion_window_in_days <= 30
    error_message = "kms_key_deletion_window_in_days must be between 7 and 30."
  }
}

################################################################################
# Rotation
################################################################################

variable "enable_rotation" {
  description = "Deploy the rotation Lambda and turn on Secrets Manager rotation."
  type        = bool
  default     = true
}

variable "lambda_zip_path" {
  description = "Path to the rotation Lambda package built by `secret-keyring lambda-zip PATH`. Required when enable_rotation is true."
  type        = string
  default     = null

  validation {
    # With create = false nothing is deployed, so nothing else needs to be set.
    condition     = !var.create || !var.enable_rotation || var.lambda_zip_path != null
    error_message = "Set lambda_zip_path (build it with `secret-keyring lambda-zip rotation.zip`) or set enable_rotation = false."
  }

  validation {
    condition     = var.lambda_zip_path == null || can(regex("\\.zip$", var.lambda_zip_path))
    error_message = "lambda_zip_path must point at a .zip file."
  }
}

variable "rotation_automatically_after_days" {
  description = "Rotate every N days. Ignored when rotation_schedule_expression is set. Each rotation promotes `next` to `current`; `next` is published one full period before it signs anything."
  type        = number
  default     = 30

  validation {
    condition     = var.rotation_automatically_after_days == null || try(var.rotation_automatically_after_days >= 1 && var.rotation_automatically_after_days <= 1000, false)
    error_message = "rotation_automatically_after_days must be between 1 and 1000."
  }
}

variable "rotation_schedule_expression" {
  description = "Rotation schedule as rate() or cron(), e.g. \"rate(30 days)\" or \"cron(0 4 ? * SUN *)\". Takes precedence over rotation_automatically_after_days."
  type        = string
  default     = null

  validation {
    condition     = var.rotation_schedule_expression == null || can(regex("^(rate|cron)\\(.+\\)$", var.rotation_schedule_expression))
    error_message = "rotation_schedule_expression must look like rate(30 days) or cron(0 4 ? * SUN *)."
  }

  validation {
    condition     = var.rotation_schedule_expression != null || var.rotation_automatically_after_days != null
    error_message = "Set rotation_schedule_expression or rotation_automatically_after_days."
  }
}

variable "rotation_window" {
  description = "Length of the rotation window, \"1h\" to \"24h\" (Secrets Manager's rotation_rules.duration), opening at each time rotation_schedule_expression names. Secrets Manager ties a window to a schedule expression, so it needs rotation_schedule_expression. Null uses the service default: the window closes at the end of the UTC day for a schedule in days, after one hour for one in hours."
  type        = string
  default     = null

  validation {
    condition     = var.rotation_window == null || can(regex("^([1-9]|1[0-9]|2[0-4])h$", var.rotation_window))
    error_message = "rotation_window must be a whole number of hours from 1h to 24h, such as \"3h\"."
  }

  validation {
    condition     = var.rotation_window == null || var.rotation_schedule_expression != null
    error_message = "rotation_window needs rotation_schedule_expression (Secrets Manager ties the window to a schedule expression): set one, e.g. \"cron(0 4 ? * SUN *)\", or leave rotation_window unset with rotation_automatically_after_days."
  }
}

variable "rotate_immediately" {
  description = "Rotate as soon as rotation is configured. Off by default: the first keyring already carries a `next` key, and rotating at once would promote it before running processes have seen it."
  type        = bool
  default     = false
}

variable "lambda_function_name" {
  description = "Name of the rotation Lambda (and of its IAM role). Null derives it from the secret name."
  type        = string
  default     = null

  validation {
    condition     = var.lambda_function_name == null || can(regex("^[A-Za-z0-9_-]{1,64}$", var.lambda_function_name))
    error_message = "lambda_function_name may hold letters, digits, '-' and '_' (at most 64 characters)."
  }
}

variable "lambda_runtime" {
  description = "Python runtime of the rotation Lambda."
  type        = string
  default     = "python3.13"

  validation {
    condition     = can(regex("^python3\\.[0-9]+$", var.lambda_runtime))
    error_message = "lambda_runtime must be a Python runtime such as python3.13."
  }
}

variable "lambda_architecture" {
  description = "Instruction set of the rotation Lambda. The package is pure Python, so both work."
  type        = string
  default     = "arm64"

  validation {
    condition     = contains(["arm64", "x86_64"], var.lambda_architecture)
    error_message = "lambda_architecture must be arm64 or x86_64."
  }
}

variable "lambda_timeout" {
  description = "Timeout of one rotation step, in seconds."
  type        = number
  default     = 30

  validation {
    condition     = var.lambda_timeout >= 3 && var.lambda_timeout <= 900
    error_message = "lambda_timeout must be between 3 and 900 seconds."
  }
}

variable "lambda_memory_size" {
  description = "Memory of the rotation Lambda, in MB."
  type        = number
  default     = 256

  validation {
    condition     = var.lambda_memory_size >= 128 && var.lambda_memory_size <= 10240
    error_message = "lambda_memory_size must be between 128 and 10240 MB."
  }
}

variable "rotation_max_fallbacks" {
  description = "How many previous keys a rotated keyring keeps (SECRET_KEYRING_MAX_FALLBACKS of the handler). Signatures older than this many rotations stop verifying."
  type        = number
  default     = 3

  validation {
    condition     = var.rotation_max_fallbacks >= 1 && var.rotation_max_fallbacks <= 18 && floor(var.rotation_max_fallbacks) == var.rotation_max_fallbacks
    error_message = "rotation_max_fallbacks must be a whole number from 1 to 18."
  }
}

variable "rotation_field" {
  description = "Member of a JSON secret that holds the key or keyring (SECRET_KEYRING_FIELD of the handler); null when the whole value is the keyring, as this module writes it."
  type        = string
  default     = null
}

variable "lambda_environment_variables" {
  description = "Extra environment variables for the rotation Lambda (for example its logging level). Never put keys here."
  type        = map(string)
  default     = {}
}

variable "lambda_log_retention_in_days" {
  description = "Retention of the rotation Lambda's CloudWatch log group, in days: one of the values CloudWatch Logs accepts, or 0 to keep the logs forever. The handler logs fingerprints, never keys."
  type        = number
  default     = 30

  validation {
    condition     = contains([0, 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.lambda_log_retention_in_days)
    error_message = "lambda_log_retention_in_days must be 0 (never expire) or one of 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653."
  }
}

variable "lambda_subnet_ids" {
  description = "Subnets to run the rotation Lambda in (optional). A Lambda in a VPC reaches Secrets Manager only through a NAT gateway or a Secrets Manager interface VPC endpoint (com.amazonaws.REGION.secretsmanager) with private DNS; it never calls KMS itself."
  type        = list(string)
  default     = []
}

variable "lambda_security_group_ids" {
  description = "Security groups of the rotation Lambda when lambda_subnet_ids is set. They must allow HTTPS (443) out to the Secrets Manager endpoint."
  type        = list(string)
  default     = []

  validation {
    condition     = (length(var.lambda_subnet_ids) == 0) == (length(var.lambda_security_group_ids) == 0)
    error_message = "Set lambda_subnet_ids and lambda_security_group_ids together, or neither."
  }
}

variable "lambda_role_permissions_boundary_arn" {
  description = "Permissions boundary for the rotation Lambda's IAM role, where your organisation requires one."
  type        = string
  default     = null
}

################################################################################
# Alerts on a failed rotation
################################################################################

variable "create_alarm_topic" {
  description = "Create an SNS topic for the rotation alerts: Secrets Manager's RotationFailed event for this secret and the alarm on the rotation Lambda's errors. Its policy lets only that rule and that alarm publish. Subscribe to it yourself (email, chat, paging); the module adds no subscription. Leave false to pass a topic of your own in alarm_topic_arn."
  type        = bool
  default     = false
}

variable "alarm_topic_arn" {
  description = "ARN of an existing SNS topic for the rotation alerts. Its policy must let this module's rule and alarm publish: add the statements of the alarm_topic_policy_json output. With neither this nor create_alarm_topic, the errors alarm still changes state in CloudWatch but notifies no one, and the RotationFailed rule is not created."
  type        = string
  default     = null

  validation {
    condition     = var.alarm_topic_arn == null || can(regex("^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]{1,256}$", var.alarm_topic_arn))
    error_message = "alarm_topic_arn must be the ARN of a standard SNS topic (arn:aws:sns:REGION:ACCOUNT:NAME); CloudWatch alarms cannot notify a FIFO topic."
  }

  validation {
    condition     = !(var.create_alarm_topic && var.alarm_topic_arn != null)
    error_message = "Set create_alarm_topic = true or alarm_topic_arn, not both: the alerts go to one topic."
  }
}

variable "alarm_topic_kms_key_id" {
  description = "KMS key (ID, ARN or alias) encrypting a topic made with create_alarm_topic. Its key policy must let events.amazonaws.com and cloudwatch.amazonaws.com call kms:GenerateDataKey* and kms:Decrypt, which the AWS-managed alias/aws/sns does not. Null leaves the topic unencrypted: the alerts carry the secret's name and ARN, never a key."
  type        = string
  default     = null
}

################################################################################
# Application access
################################################################################

variable "app_roles" {
  description = "IAM roles (ECS task roles, EC2 instance roles, ...) that get the read-only policy from the app_read_policy_json output as an inline policy, as a map from a fixed label of your choice to the role name, e.g. { web = aws_iam_role.web.name }. The labels must be known at plan time; the role names may come from roles created in the same apply."
  type        = map(string)
  default     = {}
}
