variable "services" {
  description = "The services, by name (the seed: migrationai-frontend and migrationai-admin-frontend), each an ECR image on a port."
  type = map(object({
    image_uri   = string
    port        = optional(number, 8080)
    cpu         = optional(string, "1024")
    memory      = optional(string, "2048")
    environment = optional(map(string), {})
    health_path = optional(string, "/")
    auto_deploy = optional(bool, false)
  }))

  validation {
    condition     = alltrue([for s in values(var.services) : contains(["256", "512", "1024", "2048", "4096"], s.cpu) && contains(["512", "1024", "2048", "3072", "4096", "6144", "8192", "10240", "12288"], s.memory)])
    error_message = "services: cpu is 256 to 4096 (App Runner's units) and memory one of App Runner's sizes in MB."
  }
}

variable "name_prefix" {
  description = "Put before the access role's and the scaling configuration's names."
  type        = string
}

variable "min_size" {
  description = "Instances kept running per service."
  type        = number
  default     = 1
}

variable "max_size" {
  description = "At most this many instances per service."
  type        = number
  default     = 4

  validation {
    condition     = var.max_size >= 1 && var.max_size <= 25
    error_message = "max_size is 1 to 25."
  }
}

variable "max_concurrency" {
  description = "Concurrent requests an instance takes before App Runner adds one."
  type        = number
  default     = 100
}

variable "ecr_repository_arns" {
  description = "The repositories the services' images come from: the access role may pull only these."
  type        = list(string)
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
