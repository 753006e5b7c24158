variable "repository_name" {
  description = "The repository ({instance}-{env}, or one shared name per account if you promote images between environments)."
  type        = string
}

variable "scan_on_push" {
  description = "Scan every pushed image for known vulnerabilities."
  type        = bool
  default     = true
}

variable "image_tag_mutability" {
  description = "IMMUTABLE: a tag names one image forever (deploys are reproducible); MUTABLE: tags can move."
  type        = string
  default     = "IMMUTABLE"

  validation {
    condition     = contains(["MUTABLE", "IMMUTABLE"], var.image_tag_mutability)
    error_message = "image_tag_mutability must be MUTABLE or IMMUTABLE."
  }
}

variable "keep_tagged_images" {
  description = "How many tagged images to keep (the seeds: 10)."
  type        = number
  default     = 10
}

variable "untagged_image_expiry_days" {
  description = "Days before untagged images are deleted (the seeds: 7)."
  type        = number
  default     = 7
}

variable "force_delete" {
  description = "Let terraform delete the repository with images in it."
  type        = bool
  default     = false
}

variable "create_lifecycle_policy" {
  description = "Add the keep-last-N / expire-untagged lifecycle policy."
  type        = bool
  default     = true
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
