terraform {
  # 1.11: write-only arguments (data_json_wo) and ephemeral resources.
  required_version = ">= 1.11"

  required_providers {
    vault = {
      source = "hashicorp/vault"
      # 5.0: data_json_wo / data_json_wo_version on vault_kv_secret_v2.
      version = ">= 5.0"
    }
    random = {
      source = "hashicorp/random"
      # 3.7: ephemeral "random_password", so the first keyring never lands in state.
      version = ">= 3.7"
    }
  }
}
