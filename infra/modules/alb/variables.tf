variable "name" {
  description = "Prefix of every name ({instance}-{env}); the load balancer is {name}-alb (32 characters at most)."
  type        = string

  validation {
    condition     = length(var.name) <= 28
    error_message = "name must be 28 characters or fewer: AWS limits load balancer and target group names to 32."
  }
}

variable "vpc_id" {
  description = "The VPC."
  type        = string
}

variable "public_subnet_ids" {
  description = "Public subnets in two or more zones."
  type        = list(string)
}

variable "allowed_cidrs" {
  description = "Who may reach the load balancer on ports 80 and 443."
  type        = list(string)
  default     = ["0.0.0.0/0"]
}

variable "target_port" {
  description = "The port `conveyor api` listens on in its container."
  type        = number
  default     = 8080
}

variable "health_check_path" {
  description = "The path the target group probes (Conveyor answers /health without credentials)."
  type        = string
  default     = "/health"
}

variable "create_https_listener" {
  description = "Serve HTTPS on 443 with certificate_arn and redirect HTTP to it. False (no certificate yet): HTTP on 80 forwards to the API."
  type        = bool
  default     = true
}

variable "certificate_arn" {
  description = "The ACM certificate for the HTTPS listener (the dns module looks it up)."
  type        = string
  default     = null
}

variable "ssl_policy" {
  description = "The HTTPS listener's TLS policy."
  type        = string
  default     = "ELBSecurityPolicy-TLS13-1-2-2021-06"
}

variable "idle_timeout" {
  description = "Seconds a connection may idle (uploads of large files need more than the 60 s default)."
  type        = number
  default     = 300
}

variable "deletion_protection" {
  description = "Refuse to delete the load balancer (production)."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}

variable "create_green_target_group" {
  description = "A second, identical target group for blue/green deployments (the ecs module's blue_green moves the listeners between the two)."
  type        = bool
  default     = false
}

variable "create_alarms" {
  description = "CloudWatch alarms on the API's response time and on unhealthy tasks, as the load balancer sees them."
  type        = bool
  default     = false
}

variable "response_time_alarm_seconds" {
  description = "With create_alarms: alarm when the average response time stays above this for 3 minutes."
  type        = number
  default     = 1
  validation {
    condition     = var.response_time_alarm_seconds > 0
    error_message = "response_time_alarm_seconds must be above 0."
  }
}

variable "alarm_actions" {
  description = "With create_alarms: where the alarms (and their recoveries) go, SNS topic ARNs."
  type        = list(string)
  default     = []
}
