variable "repositories" {
  description = "The repositories, by a stable key (it names the resource, so renaming a repository does not move it): MHT's one `{ api = \"mht-api-staging\" }`, or MigrationAI's fifteen."
  type        = map(string)

  validation {
    condition     = length(var.repositories) > 0 && alltrue([for n in values(var.repositories) : can(regex("^[a-z0-9]+([._-][a-z0-9]+)*(/[a-z0-9]+([._-][a-z0-9]+)*)*$", n)) && length(n) <= 256])
    error_message = "repositories: at least one, each name lowercase letters, digits and . _ - separators, with / between path parts (ECR's rule), up to 256 characters."
  }
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
