variable "functions" {
  description = "The functions, by name: each a container image run by one SQS queue, as Lambda's event source mapping runs it (the MigrationAI seed: 13, 300 s, 512 MB)."
  type = map(object({
    image_uri                  = string
    command                    = optional(list(string), [])
    memory_mb                  = optional(number, 512)
    timeout_seconds            = optional(number, 300)
    environment                = optional(map(string), {})
    queue_arn                  = string
    queue_visibility_seconds   = number
    batch_size                 = optional(number, 10)
    batching_window_seconds    = optional(number, 0)
    maximum_concurrency        = optional(number)
    report_batch_item_failures = optional(bool, true)
  }))

  validation {
    condition     = alltrue([for f in values(var.functions) : f.queue_visibility_seconds >= f.timeout_seconds])
    error_message = "functions: Lambda refuses an SQS trigger whose queue's visibility timeout is below the function's timeout (AWS recommends six times it); raise queue_visibility_seconds or lower timeout_seconds."
  }
  validation {
    condition     = alltrue([for f in values(var.functions) : f.timeout_seconds >= 1 && f.timeout_seconds <= 900 && f.memory_mb >= 128 && f.memory_mb <= 10240])
    error_message = "functions: timeout_seconds is 1 to 900 and memory_mb 128 to 10240 (Lambda's limits)."
  }
  validation {
    condition     = alltrue([for f in values(var.functions) : f.batch_size >= 1 && f.batch_size <= 10000 && (f.batch_size <= 10 || f.batching_window_seconds >= 1) && f.batching_window_seconds <= 300])
    error_message = "functions: batch_size is 1 to 10000, over 10 only with a batching window of at least 1 s, and the window is at most 300 s (Lambda's rules for standard queues)."
  }
  validation {
    condition     = alltrue([for f in values(var.functions) : coalesce(f.maximum_concurrency, 2) >= 2 && coalesce(f.maximum_concurrency, 2) <= 1000])
    error_message = "functions: maximum_concurrency is 2 to 1000."
  }
}

variable "name_prefix" {
  description = "Put before each function's name (migrationai gives migrationai-contacts)."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets to run the functions in (the seed: all of them in the VPC); empty: no VPC."
  type        = list(string)
  default     = []
}

variable "security_group_ids" {
  description = "Security groups of the functions when they run in subnets."
  type        = list(string)
  default     = []
}

variable "ecr_repository_arns" {
  description = "The repositories the images come from: each role may pull only from these."
  type        = list(string)
  default     = []
}

variable "log_retention_days" {
  description = "Days each function's log group keeps its logs."
  type        = number
  default     = 30
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
