# Creates one environment's Terraform state bucket and lock table, before that environment's
# root can use them (its own state stays local: there is nowhere else yet).
#   terraform apply -var environment=staging -state=staging.tfstate
terraform {
  required_version = ">= 1.7"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.100"
    }
  }
}

variable "environment" {
  description = "staging or production: each has its own state bucket and lock table."
  type        = string

  validation {
    condition     = contains(["staging", "production"], var.environment)
    error_message = "environment must be staging or production."
  }
}

variable "state_prefix" {
  description = "The seeds' names: {prefix}-terraform-state-{env} and {prefix}-terraform-locks-{env}."
  type        = string
  default     = "mht"
}

variable "aws_region" {
  description = "Where the state lives (the environment's backend.tf says the same)."
  type        = string
  default     = "us-west-2"
}

variable "force_destroy" {
  description = "Let destroy delete the bucket with state in it (tests only)."
  type        = bool
  default     = false
}

provider "aws" {
  region = var.aws_region
  default_tags {
    tags = { Environment = var.environment, ManagedBy = "terraform" }
  }
}

module "state_backend" {
  source = "../modules/state-backend"

  bucket_name     = "${var.state_prefix}-terraform-state-${var.environment}"
  lock_table_name = "${var.state_prefix}-terraform-locks-${var.environment}"
  # The seeds: old state versions kept 90 days in staging, 365 in production.
  noncurrent_version_expiration_days = var.environment == "production" ? 365 : 90
  force_destroy                      = var.force_destroy
}

output "backend_config" {
  description = "What the environment's backend.tf names."
  value = {
    bucket         = module.state_backend.bucket_name
    dynamodb_table = module.state_backend.lock_table_name
    region         = var.aws_region
  }
}
