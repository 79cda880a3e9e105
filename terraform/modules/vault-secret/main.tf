locals {
  # try(): with create = false the mount resource has no instance.
  mount = try(vault_mount.kv[0].path, var.mount)

  # KV v2 serves data and metadata under separate API paths; policies name them exactly.
  data_path     = "${local.mount}/data/${var.name}"
  metadata_path = "${local.mount}/metadata/${var.name}"

  policy_name_prefix = coalesce(var.policy_name_prefix, lower(join("-", concat(["django-secret-keyring", var.mount], split("/", var.name)))))
  policy_names = {
    app     = try(vault_policy.app[0].name, null)
    rotator = try(vault_policy.rotator[0].name, null)
  }

  source_url = "vault://${local.mount}/${var.name}"
  # The namespace is usually set with VAULT_NAMESPACE; repeat it in the URL when the module sets one.
  namespace_option = var.namespace == null ? [] : ["namespace=${var.namespace}"]

  write_initial_keyring = var.create && var.write_initial_keyring

  approle_roles    = var.create ? var.approle_roles : {}
  kubernetes_roles = var.create ? var.kubernetes_roles : {}
  jwt_roles        = var.create ? var.jwt_roles : {}
}

################################################################################
# KV mount
################################################################################

resource "vault_mount" "kv" {
  count = var.create && var.create_mount ? 1 : 0

  path        = var.mount
  type        = "kv"
  options     = { version = "2" }
  description = var.mount_description
  namespace   = var.namespace
}

################################################################################
# Secret and its first keyring
################################################################################

# Ephemeral: generated during plan/apply, handed to the write-only argument below, never stored
# in the plan or the state. Letters, digits, '-' and '_' are the library's own key alphabet.
ephemeral "random_password" "current" {
  count = local.write_initial_keyring ? 1 : 0

  length           = var.key_length
  special          = true
  override_special = "-_"
}

ephemeral "random_password" "next" {
  count = local.write_initial_keyring ? 1 : 0

  length           = var.key_length
  special          = true
  override_special = "-_"
}

# Only arguments that never change in place live here. A write-only value is not in state, so
# an in-place update triggered by any other argument could send a freshly generated keyring
# over the one rotation has been maintaining; metadata and the destroy behaviour therefore live
# in their own resource below. The value itself is never compared: rotation's later versions
# cause no drift.
resource "vault_kv_secret_v2" "this" {
  count = local.write_initial_keyring ? 1 : 0

  mount     = local.mount
  name      = var.name
  namespace = var.namespace

  # Create-only: check-and-set 0 succeeds only while the path holds no version. A path that
  # already holds a keyring (from `secret-keyring init`, or a migration) fails the apply loudly
  # instead of receiving a new keyring that would log everybody out. KV v2 reads check-and-set
  # from options only; the provider sends its own `cas` argument at the top level of the body,
  # where the engine ignores it ("Endpoint ignored these unrecognized parameters: [cas]") and
  # writes a new version. So the option, not `cas`, and the update that a raised
  # data_json_wo_version triggers sends it too.
  options = { cas = "0" }

  # Keyring JSON: `next` is published now, so the first rotation never surprises a process.
  data_json_wo = jsonencode({
    current  = ephemeral.random_password.current[0].result
    next     = ephemeral.random_password.next[0].result
    previous = []
  })
  data_json_wo_version = var.data_json_wo_version
}

resource "vault_generic_endpoint" "metadata" {
  count = var.create ? 1 : 0

  path      = local.metadata_path
  namespace = var.namespace
  data_json = jsonencode({
    max_versions    = var.max_versions
    custom_metadata = merge({ "managed-by" = "django-secret-keyring" }, var.custom_metadata)
  })

  # Deleting the metadata path destroys every version of the keyring: only when asked for. This
  # flag, unlike the KV resource's delete_all_versions, can change after creation: an in-place
  # update of this resource rewrites the settings above, which Terraform has, not the keyring.
  disable_delete = !var.delete_all_versions_on_destroy
  # Rotation adds versions; only the settings above are Terraform's.
  disable_read = true

  depends_on = [vault_kv_secret_v2.this]
}

################################################################################
# Policies
################################################################################

data "vault_policy_document" "app" {
  count = var.create ? 1 : 0

  rule {
    path         = local.data_path
    capabilities = ["read"]
    description  = "Read the keyring, including earlier versions (fallback keys of plain payloads)"
  }

  rule {
    path         = local.metadata_path
    capabilities = ["read"]
    description  = "Read the version list: current version and earlier live versions"
  }
}

data "vault_policy_document" "rotator" {
  count = var.create ? 1 : 0

  rule {
    path         = local.data_path
    capabilities = ["create", "read", "update"]
    description  = "Read the latest keyring and write the rotated one with check-and-set"
  }

  rule {
    path         = local.metadata_path
    capabilities = ["read"]
    description  = "Find the current version for check-and-set"
  }
}

resource "vault_policy" "app" {
  count = var.create ? 1 : 0

  name      = "${local.policy_name_prefix}-read"
  policy    = data.vault_policy_document.app[0].hcl
  namespace = var.namespace
}

resource "vault_policy" "rotator" {
  count = var.create ? 1 : 0

  name      = "${local.policy_name_prefix}-rotate"
  policy    = data.vault_policy_document.rotator[0].hcl
  namespace = var.namespace
}

################################################################################
# Auth roles (each optional)
################################################################################

resource "vault_approle_auth_backend_role" "this" {
  for_each = local.approle_roles

  backend               = each.value.backend
  role_name             = each.key
  namespace             = var.namespace
  token_policies        = [for policy in each.value.policies : local.policy_names[policy]]
  token_ttl             = each.value.token_ttl
  token_max_ttl         = each.value.token_max_ttl
  token_bound_cidrs     = each.value.token_bound_cidrs
  secret_id_ttl         = each.value.secret_id_ttl
  secret_id_num_uses    = each.value.secret_id_num_uses
  secret_id_bound_cidrs = each.value.secret_id_bound_cidrs
}

resource "vault_kubernetes_auth_backend_role" "this" {
  for_each = local.kubernetes_roles

  backend                          = each.value.backend
  role_name                        = each.key
  namespace                        = var.namespace
  bound_service_account_names      = each.value.bound_service_account_names
  bound_service_account_namespaces = each.value.bound_service_account_namespaces
  audience                         = each.value.audience
  token_policies                   = [for policy in each.value.policies : local.policy_names[policy]]
  token_ttl                        = each.value.token_ttl
  token_max_ttl                    = each.value.token_max_ttl
}

resource "vault_jwt_auth_backend_role" "this" {
  for_each = local.jwt_roles

  backend         = each.value.backend
  role_name       = each.key
  role_type       = "jwt"
  namespace       = var.namespace
  bound_audiences = each.value.bound_audiences
  bound_subject   = each.value.bound_subject
  bound_claims    = each.value.bound_claims
  user_claim      = each.value.user_claim
  token_policies  = [for policy in each.value.policies : local.policy_names[policy]]
  token_ttl       = each.value.token_ttl
  token_max_ttl   = each.value.token_max_ttl
}
