# The settings of one environment. staging/ and production/ share this file (a symlink), so the
# two can differ only through their terraform.tfvars; scripts/test-infra.sh checks that they
# differ only where the seeds say they should (infra/README.md lists where).

variable "aws_region" {
  description = "The region everything runs in."
  type        = string
  default     = "us-west-2"
}

variable "instance_name" {
  description = "White-label instance, the first part of every name."
  type        = string
}

variable "environment" {
  description = "staging or production (part of every name)."
  type        = string
}

variable "use_case" {
  description = "What the queues serve: queues are {instance}-{env}-{use_case}-{queue}[.fifo]."
  type        = string
}

variable "omit_environment_in_names" {
  description = "Queues named {instance}-{use_case}-{queue} (the seeds' production names); must match conveyor.toml."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Tags on everything, besides Environment, Instance and ManagedBy."
  type        = map(string)
  default     = {}
}

# ---- network --------------------------------------------------------------------------------

variable "vpc_cidr" {
  description = "The VPC block: 10.1.0.0/16 staging, 10.0.0.0/16 production."
  type        = string
}

variable "availability_zones" {
  description = "Zones the subnets spread over."
  type        = list(string)
}

variable "public_subnet_cidrs" {
  description = "Public subnets (load balancer, NAT), one per zone."
  type        = list(string)
}

variable "private_subnet_cidrs" {
  description = "Private subnets (the tasks), one per zone."
  type        = list(string)
}

variable "create_nat_gateway" {
  description = "Let the tasks reach the internet (webhooks, email providers)."
  type        = bool
  default     = true
}

variable "single_nat_gateway" {
  description = "One NAT gateway rather than one per zone."
  type        = bool
  default     = true
}

# ---- queues ---------------------------------------------------------------------------------

variable "queues" {
  description = "The queues by short name (see modules/sqs); times in seconds. Must match the environment's queues in config/conveyor.toml, which test-infra.sh checks with `conveyor provision`."
  type = map(object({
    fifo                        = optional(bool, true)
    message_retention_seconds   = number
    visibility_timeout_seconds  = number
    max_receive_count           = number
    dlq_retention_seconds       = optional(number, 1209600)
    content_based_deduplication = optional(bool, false)
    high_throughput             = optional(bool, false)
    depth_alarm_threshold       = optional(number)
    age_alarm_threshold_seconds = optional(number)
  }))
}

variable "sqs_alarm_actions" {
  description = "SNS topics the queue alarms notify (the environment's own alerts topic)."
  type        = list(string)
  default     = []
}

variable "queue_depth_alarm_threshold" {
  description = "Alarm when more messages than this wait in a queue."
  type        = number
  default     = 1000
}

variable "message_age_alarm_threshold_seconds" {
  description = "Alarm when a queue's oldest message is older than this."
  type        = number
  default     = 600
}

variable "dlq_depth_alarm_threshold" {
  description = "Alarm when a dead-letter queue holds more than this (0: any message)."
  type        = number
  default     = 0
}

variable "enable_sqs_redrive_allow_policy" {
  description = "Let each dead-letter queue accept its own queue only. Off for moto, whose redrive-allow support hangs the provider."
  type        = bool
  default     = true
}

# ---- storage --------------------------------------------------------------------------------

variable "s3_bucket_suffix" {
  description = "The bucket is {instance}-{env}-{suffix}-{random}."
  type        = string
  default     = "data-collection"
}

variable "s3_versioning_enabled" {
  description = "Keep every object version."
  type        = bool
  default     = true
}

variable "s3_require_tls" {
  description = "Refuse plain-HTTP requests to the bucket. Off for moto, which enforces bucket policies but is served over HTTP."
  type        = bool
  default     = true
}

variable "enable_s3_access_logging" {
  description = "Server access logs to a separate bucket."
  type        = bool
  default     = true
}

variable "s3_log_retention_days" {
  description = "Days access logs are kept: 14 staging, 90 production."
  type        = number
}

variable "enable_s3_lifecycle_policy" {
  description = "Storage-class transitions and clean-up rules."
  type        = bool
  default     = true
}

variable "s3_lifecycle_transitions" {
  description = "Standard -> IA -> Glacier -> Deep Archive days."
  type = list(object({
    days          = number
    storage_class = string
  }))
}

variable "enable_s3_intelligent_tiering" {
  description = "An Intelligent-Tiering archive configuration."
  type        = bool
  default     = true
}

variable "create_athena_tables" {
  description = "Glue tables for Athena over events/, results/ and results_compacted/ (as `conveyor athena ddl` prints them)."
  type        = bool
  default     = true
}

variable "athena_event_columns" {
  description = "The analytics handler's typed columns: config/conveyor.toml's [queues.analytics] columns, with Athena types."
  type = list(object({
    name = string
    type = string
  }))
  default = [{ name = "plan", type = "string" }]
}

variable "s3_record_expiration_days" {
  description = "Days Conveyor's records (events/, results/, results_compacted/) are kept: the environment's record_retention in config/conveyor.toml; 0 keeps them."
  type        = number
  default     = 0
}

variable "cors_origins" {
  description = "Browser origins allowed to use presigned uploads and downloads."
  type        = list(string)
  default     = []
}

variable "force_destroy" {
  description = "Let `terraform destroy` delete buckets, repository and secret with their contents (throwaway environments only)."
  type        = bool
  default     = false
}

# ---- compute --------------------------------------------------------------------------------

variable "image_tag" {
  description = "The image tag both services run (CI passes the commit it built)."
  type        = string
  default     = "latest"
}

variable "services" {
  description = "CPU, memory and task counts of the api and worker services."
  type = object({
    api    = object({ cpu = number, memory = number, desired_count = number, min_count = number, max_count = number })
    worker = object({ cpu = number, memory = number, desired_count = number, min_count = number, max_count = number })
  })
}

variable "log_retention_days" {
  description = "Days the services' logs are kept: 7 staging, 30 production."
  type        = number
}

variable "enable_autoscaling" {
  description = "Scale the services on CPU and memory. Off for moto, which lacks Application Auto Scaling's ListTagsForResource (the provider retries it forever)."
  type        = bool
  default     = true
}

variable "ecr_keep_tagged_images" {
  description = "Images kept in the repository."
  type        = number
  default     = 10
}

variable "blue_green_enabled" {
  description = "Deploy the API blue/green through CodeDeploy (a second target group; scripts/deploy-environment.sh starts the deployment) rather than letting ECS roll it."
  type        = bool
  default     = false
}

variable "rollback_timeout_minutes" {
  description = "With blue_green_enabled: how long the previous tasks stay after traffic moves, so a rollback is instant (CodeDeploy rolls a failed deployment back by itself)."
  type        = number
  default     = 5
}

variable "alb_deletion_protection" {
  description = "Refuse to delete the load balancer."
  type        = bool
  default     = false
}

# ---- DNS ------------------------------------------------------------------------------------

variable "hosted_zone_name" {
  description = "The one thing the environments share: the Route53 zone."
  type        = string
}

variable "route53_zone_id" {
  description = "The shared zone's id (null: look it up by name)."
  type        = string
  default     = null
}

variable "api_dns_names" {
  description = "Names that reach this environment's API."
  type        = list(string)
}

variable "certificate_domain" {
  description = "The issued ACM certificate the HTTPS listener uses (the seeds: the *.amygdalas.com wildcard)."
  type        = string
}

variable "enable_https" {
  description = "HTTPS listener with the certificate, HTTP redirected. False: plain HTTP (no certificate yet)."
  type        = bool
  default     = true
}

variable "create_dns_records" {
  description = "Alias the API names to the load balancer."
  type        = bool
  default     = true
}

variable "secrets_recovery_window_days" {
  description = "Days a deleted secret can be restored."
  type        = number
  default     = 30
}
