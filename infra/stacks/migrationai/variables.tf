variable "aws_region" {
  description = "The seed's region."
  type        = string
  default     = "us-west-2"
}

variable "environment" {
  description = "The environment's short name, the first part of every queue name (prod-migrationai-contacts)."
  type        = string
  default     = "prod"
}

variable "image_tag" {
  description = "The image tag the functions, servers and front ends start from (the pipeline moves them on)."
  type        = string
  default     = "bootstrap"
}

variable "github_repository" {
  description = "The repository the pipeline builds (owner/name)."
  type        = string
  default     = "amygdalas/migrationai"
}

variable "admin_cidr_blocks" {
  description = "Where SSH, HTTP and HTTPS to the backend group may come from. The seed opens them to 0.0.0.0/0; the instances have no public address and are reached through Session Manager, so an empty list (no SSH rule at all) is the safer choice."
  type        = list(string)
  default     = ["0.0.0.0/0"]
}

# ---- What a throwaway copy (CI on moto_server) switches off; infra/README.md says why ----

variable "create_functions" {
  description = "The 13 Lambda functions and their SQS triggers."
  type        = bool
  default     = true
}

variable "create_app_servers" {
  description = "The two EC2 app servers."
  type        = bool
  default     = true
}

variable "create_front_ends" {
  description = "The two App Runner services."
  type        = bool
  default     = true
}

variable "create_cache" {
  description = "The MemoryDB Redis cluster."
  type        = bool
  default     = true
}

variable "create_pipeline" {
  description = "The CodePipeline that builds and deploys every image. It deploys the functions, the front ends and the app servers, so it needs all three."
  type        = bool
  default     = true
  validation {
    condition     = !var.create_pipeline || (var.create_functions && var.create_front_ends && var.create_app_servers)
    error_message = "create_pipeline deploys to the functions, the front ends and the app servers: switch those on too, or set create_pipeline = false."
  }
}

variable "enable_sqs_redrive_allow_policy" {
  description = "Each dead-letter queue accepts messages only from its own queue."
  type        = bool
  default     = true
}

variable "enable_s3_intelligent_tiering" {
  description = "The bucket's Intelligent-Tiering archive configuration."
  type        = bool
  default     = true
}

variable "s3_require_tls" {
  description = "The bucket policy that refuses requests without TLS."
  type        = bool
  default     = true
}

variable "force_destroy" {
  description = "Destroy deletes the bucket's objects and the repositories' images too (throwaway copies only)."
  type        = bool
  default     = false
}
