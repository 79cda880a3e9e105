# AWS credentials and region from the environment; Vault address, token and namespace from
# VAULT_ADDR, VAULT_TOKEN and VAULT_NAMESPACE (OpenBao works the same way).
provider "aws" {}

provider "vault" {}

# Vault's aws auth method. Vault verifies the Lambda's signed sts:GetCallerIdentity itself and
# needs AWS credentials of its own (an instance or pod role, or access_key/role_arn below)
# allowing iam:GetRole, to resolve the bound role's unique ID. OpenBao has no built-in aws
# method: register the auth-aws plugin first and set aws_auth_plugin to its registered name.
resource "vault_auth_backend" "aws" {
  type = var.aws_auth_plugin
  path = "aws"
}

# Logins must name this server in X-Vault-AWS-IAM-Server-ID, which the Lambda signs into its
# request: a login signed for another Vault cannot be replayed here.
resource "vault_aws_auth_backend_client" "aws" {
  backend                    = vault_auth_backend.aws.path
  iam_server_id_header_value = var.vault_server_id
}

module "django_secret_key" {
  source = "../../modules/vault-secret"

  mount        = "django"
  create_mount = true
  name         = "${var.app_name}/${var.environment}"
}

# Built beforehand with:
#   secret-keyring lambda-zip build/vault-rotation.zip --backend vault
module "django_secret_key_rotation" {
  source = "../../modules/vault-rotation-aws"

  mount               = module.django_secret_key.mount
  name                = "${var.app_name}/${var.environment}"
  rotator_policy_name = module.django_secret_key.rotator_policy_name
  vault_address       = var.vault_address
  # The client config first: a login before the header value is required is not protected.
  vault_auth_backend     = vault_aws_auth_backend_client.aws.backend
  vault_aws_header_value = var.vault_server_id
  lambda_zip_path        = "${path.root}/build/vault-rotation.zip"

  # On the first of every month at 04:00 UTC (not at apply time); a run within 15 minutes of
  # the last rotation writes nothing.
  schedule_expression  = "cron(0 4 1 * ? *)"
  min_interval_seconds = 900

  # A failed rotation notifies this topic: subscribe to it (output alarm_topic_arn).
  create_alarm_topic = true

  tags = {
    Application = var.app_name
    Environment = var.environment
  }
}
