# A module that reads one migrated secret by its vaultshift path, whichever backend holds it
# (OpenBao / Vault or AWS Secrets Manager, as the caller's vaultshift.yml routes it).
terraform {
  required_providers {
    vaultshift = { source = "vaultshift/vaultshift" }
  }
}

variable "path" {
  description = "The secret's vaultshift path, e.g. apps/shop/database."
  type        = string
}

variable "key" {
  description = "One key of the secret; null for all of them (the values output)."
  type        = string
  default     = null
}

variable "backend" {
  description = "A backend of vaultshift.yml; null for the provider's (or the configuration's default)."
  type        = string
  default     = null
}

data "vaultshift_secret" "this" {
  path    = var.path
  key     = var.key
  backend = var.backend
}

output "value" {
  description = "The key's value (when key is set)."
  value       = data.vaultshift_secret.this.value
  sensitive   = true
}

output "values" {
  description = "Every key's value."
  value       = data.vaultshift_secret.this.values
  sensitive   = true
}

output "version" {
  description = "The secret's version that was read."
  value       = data.vaultshift_secret.this.version
}
