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
  description = "The role the worker tasks run as (null when services.worker is null)."
  type        = string
  default     = null
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
  description = "Size and scaling of the two services. worker = null runs the API alone (a system without queues, like SnSD's files API)."
  type = object({
    api = object({
      cpu           = number
      memory        = number
      desired_count = number
      min_count     = number
      max_count     = number
    })
    worker = optional(object({
      cpu           = number
      memory        = number
      desired_count = number
      min_count     = number
      max_count     = number
    }))
  })

  validation {
    condition     = alltrue([for s in [var.services.api, var.services.worker] : s.min_count <= s.desired_count && s.desired_count <= s.max_count if s != null])
    error_message = "Each service needs min_count <= desired_count <= max_count."
  }
}

variable "service_names" {
  description = "Names for the services other than {name}-api and {name}-worker, by role (SnSD's snsd-production-service)."
  type        = map(string)
  default     = {}
  validation {
    condition     = alltrue([for role in keys(var.service_names) : contains(["api", "worker"], role)])
    error_message = "service_names takes the roles api and worker."
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

variable "blue_green" {
  description = "Deploy the API blue/green with CodeDeploy instead of rolling it: traffic moves from the listeners' target group to the other one once the new tasks are healthy, a failed or stopped deployment rolls back by itself, and the old tasks are kept rollback_window_minutes after the switch so a rollback is instant. target_group_names are the blue (the one the service starts on, target_group_arn's) and the green group. null: ECS rolls the API like the worker."
  type = object({
    listener_arns           = list(string)
    target_group_names      = list(string)
    rollback_window_minutes = optional(number, 5)
    rollback_alarm_names    = optional(list(string), [])
  })
  default = null
  validation {
    condition     = var.blue_green == null || try(length(var.blue_green.target_group_names) == 2 && length(var.blue_green.listener_arns) > 0, false)
    error_message = "blue_green needs two target groups (blue, green) and at least one listener."
  }
  validation {
    condition     = var.blue_green == null || try(var.blue_green.rollback_window_minutes >= 0 && var.blue_green.rollback_window_minutes <= 2880, false)
    error_message = "rollback_window_minutes is 0 to 2880 (CodeDeploy's limit, two days)."
  }
}
