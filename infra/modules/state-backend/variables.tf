variable "bucket_name" {
  description = "The state bucket (the seeds: mht-terraform-state-staging / -production); one per environment."
  type        = string
}

variable "lock_table_name" {
  description = "The DynamoDB lock table (the seeds: mht-terraform-locks-staging / -production)."
  type        = string
}

variable "noncurrent_version_expiration_days" {
  description = "Days old state versions are kept (the seeds: 90 staging, 365 production)."
  type        = number
  default     = 90
}

variable "kms_key_arn" {
  description = "Encrypt the state with this KMS key (null: S3-managed AES256)."
  type        = string
  default     = null
}

variable "create_lock_table" {
  description = "Create the DynamoDB lock table (Terraform 1.10+ can lock in S3 itself with use_lockfile)."
  type        = bool
  default     = true
}

variable "force_destroy" {
  description = "Let terraform destroy the bucket with state in it (tests only)."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
