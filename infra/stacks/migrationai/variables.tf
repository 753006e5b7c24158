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
