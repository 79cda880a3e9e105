variable "region" {
  description = "AWS region to deploy into."
  type        = string
  default     = "eu-west-1"
}

variable "environment" {
  description = "Environment name, used in the secret name (e.g. prod, staging)."
  type        = string
  default     = "prod"
}

variable "app_name" {
  description = "Application name, used in the secret name and the application role name."
  type        = string
  default     = "myapp"
}

variable "lambda_zip_path" {
  description = "Path to the rotation Lambda package built by `secret-keyring lambda-zip build/rotation.zip`."
  type        = string
  default     = "build/rotation.zip"
}
