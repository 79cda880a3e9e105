terraform {
  # 1.11, as the other modules of this project (a caller combines them in one configuration).
  required_version = ">= 1.11"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # 6.0: as aws-secret; aws_scheduler_schedule itself came in 4.x.
      version = ">= 6.0"
    }
    vault = {
      source = "hashicorp/vault"
      # 5.0: as vault-secret; vault_aws_auth_backend_role with token_* arguments long before.
      version = ">= 5.0"
    }
  }
}
