variable "instances" {
  description = "The instances, by name (the seed: migrationai-backend and migrationai-tfp, t3a.large with 153 GB)."
  type = map(object({
    instance_type   = optional(string, "t3a.large")
    root_volume_gb  = optional(number, 153)
    subnet_index    = optional(number, 0)
    extra_user_data = optional(string, "")
  }))

  validation {
    condition     = alltrue([for i in values(var.instances) : i.root_volume_gb >= 8 && i.root_volume_gb <= 16384])
    error_message = "instances: root_volume_gb is 8 to 16384 (gp3's range, and above the image's size)."
  }
}

variable "subnet_ids" {
  description = "Private subnets; each instance goes to subnet_ids[subnet_index]. No instance gets a public address."
  type        = list(string)

  validation {
    condition     = length(var.subnet_ids) >= 1
    error_message = "subnet_ids: at least one private subnet."
  }
}

variable "security_group_ids" {
  description = "Security groups of the instances (the seed: the backend group)."
  type        = list(string)
}

variable "ami_id" {
  description = "The image; empty: the latest Amazon Linux 2023 (x86_64) from AWS's public SSM parameter."
  type        = string
  default     = ""
}

variable "ecr_repository_arns" {
  description = "Repositories the instances may pull images from."
  type        = list(string)
  default     = []
}

variable "name_prefix" {
  description = "Put before the role and instance profile names."
  type        = string
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
