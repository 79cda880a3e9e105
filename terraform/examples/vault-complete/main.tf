# Address, token and namespace come from VAULT_ADDR, VAULT_TOKEN and VAULT_NAMESPACE
# (OpenBao works the same way).
provider "vault" {}

resource "vault_auth_backend" "approle" {
  type = "approle"
  path = "approle"
}

module "django_secret_key" {
  source = "../../modules/vault-secret"

  mount        = "django"
  create_mount = true
  name         = "${var.app_name}/${var.environment}"
  max_versions = 10

  approle_roles = {
    # The application: read-only.
    "${var.app_name}-web" = {
      policies = ["app"]
      backend  = vault_auth_backend.approle.path
    }
    # The scheduled rotation job: reads and writes the keyring with check-and-set.
    "${var.app_name}-rotator" = {
      policies = ["rotator"]
      backend  = vault_auth_backend.approle.path
    }
  }

  kubernetes_roles = {
    for name, role in {
      "${var.app_name}-web" = {
        policies                         = ["app"]
        backend                          = coalesce(var.kubernetes_auth_backend, "kubernetes")
        bound_service_account_names      = [var.app_name]
        bound_service_account_namespaces = [var.kubernetes_namespace]
      }
      # The rotation CronJob (examples/kubernetes): its own service account, rotator policy,
      # and a dedicated audience: only a token minted for Vault (the CronJob projects one) logs
      # in as the rotator, not the account's default token nor one meant for another service.
      "${var.app_name}-rotator" = {
        policies                         = ["rotator"]
        backend                          = coalesce(var.kubernetes_auth_backend, "kubernetes")
        bound_service_account_names      = ["${var.app_name}-rotator"]
        bound_service_account_namespaces = [var.kubernetes_namespace]
        audience                         = "vault"
        token_ttl                        = 300
        token_max_ttl                    = 900
      }
    } : name => role if var.kubernetes_auth_backend != null
  }
}
