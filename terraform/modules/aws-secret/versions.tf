terraform {
  # 1.11: write-only arguments (secret_string_wo) and ephemeral resources.
  required_version = ">= 1.11"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # 6.0: the `region` attribute of data.aws_region; secret_string_wo itself came in 5.x.
      version = ">= 6.0"
    }
    random = {
      source = "hashicorp/random"
      # 3.7: ephemeral "random_password", so the first keyring never lands in state.
      version = ">= 3.7"
    }
  }
}
