variable "name" {
  description = "Prefix of every name ({instance}-{env}): cluster {name}-cluster, services {name}-api and {name}-worker."
  type        = string
}

variable "image" {
  description = "The conveyor image (repository URL and tag); both services run it, as `conveyor api` and `conveyor worker`."
  type        = string
}

variable "vpc_id" {
  description = "The VPC."
  type        = string
}

variable "private_subnet_ids" {
  description = "Subnets the tasks run in."
  type        = list(string)
}

variable "alb_security_group_id" {
  description = "The load balancer's security group: the only source the API tasks admit."
  type        = string
}

variable "target_group_arn" {
  description = "The load balancer target group the API tasks register with."
  type        = string
}

variable "container_port" {
  description = "The port `conveyor api` listens on."
  type        = number
  default     = 8080
}

variable "execution_role_arn" {
  description = "The task execution role (pull, logs, secrets)."
  type        = string
}

variable "api_task_role_arn" {
  description = "The role the API tasks run as."
  type        = string
}

variable "worker_task_role_arn" {
  description = "The role the worker tasks run as."
  type        = string
}

variable "environment_variables" {
  description = "Plain environment of both containers (CONVEYOR_ENVIRONMENT, CONVEYOR_BUCKET, …)."
  type        = map(string)
  default     = {}
}

variable "secrets" {
  description = "Environment variables filled from Secrets Manager at start: name => secret ARN (with :json-key:: for one key)."
  type        = map(string)
  default     = {}
}

variable "services" {
  description = "Size and scaling of the two services."
  type = object({
    api = object({
      cpu           = number
      memory        = number
      desired_count = number
      min_count     = number
      max_count     = number
    })
    worker = object({
      cpu           = number
      memory        = number
      desired_count = number
      min_count     = number
      max_count     = number
    })
  })

  validation {
    condition     = alltrue([for s in [var.services.api, var.services.worker] : s.min_count <= s.desired_count && s.desired_count <= s.max_count])
    error_message = "Each service needs min_count <= desired_count <= max_count."
  }
}

variable "create_autoscaling" {
  description = "Scale each service between min_count and max_count on CPU and memory."
  type        = bool
  default     = true
}

variable "cpu_target_percent" {
  description = "Average CPU utilisation the scaling keeps services at (the seeds: 70)."
  type        = number
  default     = 70
}

variable "memory_target_percent" {
  description = "Average memory utilisation the scaling keeps services at (the seeds: 80)."
  type        = number
  default     = 80
}

variable "scale_out_cooldown" {
  description = "Seconds between scale-outs."
  type        = number
  default     = 60
}

variable "scale_in_cooldown" {
  description = "Seconds between scale-ins."
  type        = number
  default     = 300
}

variable "log_retention_days" {
  description = "Days the services' logs are kept."
  type        = number
  default     = 30
}

variable "enable_container_insights" {
  description = "CloudWatch Container Insights on the cluster."
  type        = bool
  default     = true
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
