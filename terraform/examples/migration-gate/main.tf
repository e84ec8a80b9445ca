# A policy gate over a vaultshift migration, written in Terraform: `terraform apply` fails while
# any planned secret is still in plaintext, and warns while secrets are past the age limit or too
# few are under rotation. The numbers come from the `vaultshift_migration` data source: the plan,
# the journal `vaultshift apply` keeps, and the backends' own dates (never a value).
terraform {
  required_version = ">= 1.5" # check blocks
  required_providers {
    vaultshift = { source = "vaultshift/vaultshift" }
  }
}

variable "plan" {
  description = "The migration plan (vaultshift plan -o FILE)."
  type        = string
  default     = "plan.json"
}

variable "state_dir" {
  description = "Where vaultshift apply keeps its journal."
  type        = string
  default     = ".vaultshift"
}

variable "minimum_rotation_coverage" {
  description = "The share of stored secrets that should be under rotation (0 to 1)."
  type        = number
  default     = 0
}

# Backends for the ages: ./vaultshift.yml when present, else VAULT_ADDR / VAULT_TOKEN.
provider "vaultshift" {}

data "vaultshift_migration" "progress" {
  plan      = var.plan
  state_dir = var.state_dir
}

locals {
  progress = data.vaultshift_migration.progress
}

# Advisory: a warning on every plan and apply, never a failure.
check "secret_age" {
  assert {
    condition     = local.progress.too_old == 0
    error_message = "${local.progress.too_old} secrets are older than ${local.progress.max_age_days} days; rotate them."
  }
}

check "rotation_coverage" {
  assert {
    condition     = local.progress.rotation_coverage >= var.minimum_rotation_coverage
    error_message = "${local.progress.rotating} of ${local.progress.stored} stored secrets are under rotation."
  }
}

# The gate: no output, and a failed apply, while plaintext remains.
output "migration" {
  description = "Where the migration stands."
  value = {
    hardcoded         = local.progress.hardcoded
    stored            = local.progress.stored
    files             = local.progress.files
    files_migrated    = local.progress.files_migrated
    adoption          = local.progress.adoption
    host_adoption     = local.progress.host_adoption
    rotation_coverage = local.progress.rotation_coverage
    age_known         = local.progress.age_known
    age_unknown       = local.progress.age_unknown
    too_old           = local.progress.too_old
  }
  precondition {
    condition     = local.progress.hardcoded == 0
    error_message = "${local.progress.hardcoded} planned occurrences are still in plaintext (by host group: ${jsonencode(local.progress.hardcoded_by_group)}); run vaultshift apply."
  }
}

output "hardcoded_by_group" {
  value = local.progress.hardcoded_by_group
}
