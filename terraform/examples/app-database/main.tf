# Read a database password that `vaultshift apply` moved out of an application's config file
# (apps/shop/database#password in the vault), and hand it to what needs it without writing it to
# state: the ephemeral resource (Terraform >= 1.10) for write-only and provider arguments, the data
# source where a value must be kept (it lands in state, marked sensitive).
terraform {
  required_version = ">= 1.10"
  required_providers {
    vaultshift = { source = "vaultshift/vaultshift" }
  }
}

variable "vaultshift_config" {
  description = "The vaultshift.yml that says where migrated secrets live (backends and routes)."
  type        = string
  default     = "vaultshift.yml"
}

provider "vaultshift" {
  config = var.vaultshift_config # address and token: VAULT_ADDR / VAULT_TOKEN, as every Vault tool
}

# Never in state or plan: for provider blocks and write-only arguments.
ephemeral "vaultshift_secret" "db" {
  path = "apps/shop/database"
  key  = "password"
}

# Kept in state (sensitive): for resources that must store the value.
data "vaultshift_secret" "db" {
  path = "apps/shop/database"
}

output "database_keys" {
  description = "Which keys the migrated secret holds (not their values)."
  value       = nonsensitive(keys(data.vaultshift_secret.db.values))
}

output "database_password" {
  value     = data.vaultshift_secret.db.values["password"]
  sensitive = true
}
