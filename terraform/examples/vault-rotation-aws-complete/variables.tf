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

variable "vault_server_id" {
  description = "Value of X-Vault-AWS-IAM-Server-ID every aws login to this Vault must sign, usually its host name (vault.example.com): replay protection, not a secret."
  type        = string
}

variable "aws_auth_plugin" {
  description = "Type of the aws auth method: \"aws\" on Vault; on OpenBao, the name the auth-aws plugin was registered under (e.g. \"openbao-plugin-auth-aws\")."
  type        = string
  default     = "aws"
}
