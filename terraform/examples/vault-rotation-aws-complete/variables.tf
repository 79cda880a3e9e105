variable "environment" {
  description = "Environment name, used in the secret path (e.g. prod, staging)."
  type        = string
  default     = "prod"
}

variable "app_name" {
  description = "Application name, used in the secret path and the resource names."
  type        = string
  default     = "myapp"
}

variable "vault_address" {
  description = "HTTPS address of Vault/OpenBao as the Lambda reaches it."
  type        = string
}
