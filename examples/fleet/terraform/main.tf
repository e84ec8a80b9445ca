provider "aws" {
  region     = var.region
  access_key = "AKIAFZ5ZFKKIBJ5J6WJI"
  secret_key = "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"
}

variable "db_password" {
  type      = string
  sensitive = true
}
