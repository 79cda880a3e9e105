# AWS credentials and region from the environment; Vault address, token and namespace from
# VAULT_ADDR, VAULT_TOKEN and VAULT_NAMESPACE (OpenBao works the same way).
provider "aws" {}

provider "vault" {}

# Vault's aws auth method. Vault verifies the Lambda's signed sts:GetCallerIdentity itself and
# needs AWS credentials of its own (an instance or pod role, or vault_aws_auth_backend_client)
# allowing iam:GetRole, to resolve the bound role's unique ID.
resource "vault_auth_backend" "aws" {
  type = "aws"
  path = "aws"
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
  vault_auth_backend  = vault_auth_backend.aws.path
  lambda_zip_path     = "${path.root}/build/vault-rotation.zip"

  # Every 30 days at 04:00 UTC; a run within 15 minutes of the last rotation writes nothing.
  schedule_expression  = "cron(0 4 1 * ? *)"
  min_interval_seconds = 900

  tags = {
    Application = var.app_name
    Environment = var.environment
  }
}
