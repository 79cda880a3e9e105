variable "environment" {
  description = "Environment name, used in the secret path (e.g. prod, staging)."
  type        = string
  default     = "prod"
}

variable "app_name" {
  description = "Application name, used in the secret path and the role names."
  type        = string
  default     = "myapp"
}

variable "kubernetes_auth_backend" {
  description = "Path of an enabled and configured Kubernetes auth method (e.g. \"kubernetes\"). Null skips the Kubernetes role."
  type        = string
  default     = null
}

variable "kubernetes_namespace" {
  description = "Kubernetes namespace of the application's and the rotation CronJob's service accounts (examples/kubernetes deploys both in \"myapp\")."
  type        = string
  default     = "myapp"
}
