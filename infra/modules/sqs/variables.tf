variable "instance_name" {
  description = "White-label instance, the first part of every name (e.g. mht-api)."
  type        = string
}

variable "environment" {
  description = "Environment name (staging, production, …)."
  type        = string
}

variable "use_case" {
  description = "What the queues serve (e.g. api-processing): queues are {instance}-{env}-{use_case}-{queue}[.fifo]."
  type        = string
}

variable "queue_prefix" {
  description = "Name queues {queue_prefix}-{queue} instead (MigrationAI's prod-migrationai-contacts). Must match the environment's queue_prefix in the Conveyor configuration; empty: the white-label names."
  type        = string
  default     = ""

  validation {
    condition     = var.queue_prefix == "" || can(regex("^[a-z0-9]([a-z0-9-]*[a-z0-9])?$", var.queue_prefix))
    error_message = "queue_prefix is lowercase letters, digits and inner hyphens."
  }
}

variable "omit_environment_in_names" {
  description = "Name queues {instance}-{use_case}-{queue} (the seeds' production names). Must match the environment's omit_environment_in_names in conveyor.toml."
  type        = bool
  default     = false
}

variable "queues" {
  description = "The queues, by short name (feedback, emails, …). Each gets a dead-letter queue {name}-dlq[.fifo] that receives a message after max_receive_count failed receives. Times are in seconds; null alarm thresholds take the module defaults."
  type = map(object({
    fifo                        = optional(bool, true)
    message_retention_seconds   = optional(number, 345600)
    visibility_timeout_seconds  = optional(number, 30)
    delay_seconds               = optional(number, 0)
    receive_wait_time_seconds   = optional(number, 20)
    max_message_size            = optional(number, 262144)
    content_based_deduplication = optional(bool, false)
    high_throughput             = optional(bool, false)
    max_receive_count           = optional(number, 3)
    dlq_retention_seconds       = optional(number, 1209600)
    depth_alarm_threshold       = optional(number)
    age_alarm_threshold_seconds = optional(number)
    dlq_depth_alarm_threshold   = optional(number)
  }))

  validation {
    condition     = alltrue([for k, _ in var.queues : can(regex("^[a-z0-9]([a-z0-9-]*[a-z0-9])?$", k))])
    error_message = "Queue keys must be lowercase letters, digits and inner hyphens (they become part of the queue names)."
  }

  validation {
    condition = alltrue([for q in var.queues :
    q.message_retention_seconds >= 60 && q.message_retention_seconds <= 1209600 && q.dlq_retention_seconds >= 60 && q.dlq_retention_seconds <= 1209600])
    error_message = "Retention must be between 60 seconds and 14 days (1209600), SQS's limits."
  }

  validation {
    condition     = alltrue([for q in var.queues : q.visibility_timeout_seconds >= 0 && q.visibility_timeout_seconds <= 43200])
    error_message = "visibility_timeout_seconds must be between 0 and 12 hours (43200)."
  }

  validation {
    condition     = alltrue([for q in var.queues : q.delay_seconds >= 0 && q.delay_seconds <= 900])
    error_message = "delay_seconds must be between 0 and 900."
  }

  validation {
    condition     = alltrue([for q in var.queues : q.max_receive_count >= 1 && q.max_receive_count <= 1000])
    error_message = "max_receive_count must be between 1 and 1000."
  }

  validation {
    condition     = alltrue([for q in var.queues : q.fifo || (!q.content_based_deduplication && !q.high_throughput)])
    error_message = "content_based_deduplication and high_throughput apply to FIFO queues only."
  }
}

variable "kms_master_key_id" {
  description = "Encrypt with this KMS key; null: SQS-managed server-side encryption (SSE-SQS)."
  type        = string
  default     = null
}

variable "kms_data_key_reuse_period_seconds" {
  description = "How long SQS reuses a KMS data key (60-86400) when kms_master_key_id is set."
  type        = number
  default     = 300
}

variable "create_redrive_allow_policy" {
  description = "Let each dead-letter queue take messages only from its own queue (redrive-allow policy)."
  type        = bool
  default     = true
}

variable "create_cloudwatch_alarms" {
  description = "Alarm on each queue's depth and age of oldest message, and on each dead-letter queue's depth."
  type        = bool
  default     = true
}

variable "create_dashboard" {
  description = "A CloudWatch dashboard, {prefix}-queues, with each queue's depth, oldest message age, dead-letter depth and messages sent / received / deleted."
  type        = bool
  default     = true
}

variable "alarm_actions" {
  description = "ARNs notified when an alarm fires (SNS topics)."
  type        = list(string)
  default     = []
}

variable "ok_actions" {
  description = "ARNs notified when an alarm clears."
  type        = list(string)
  default     = []
}

variable "depth_alarm_threshold" {
  description = "Default: alarm when more messages than this wait in a queue."
  type        = number
  default     = 1000
}

variable "age_alarm_threshold_seconds" {
  description = "Default: alarm when a queue's oldest message is older than this."
  type        = number
  default     = 600
}

variable "dlq_depth_alarm_threshold" {
  description = "Default: alarm when a dead-letter queue holds more messages than this (0: any)."
  type        = number
  default     = 0
}

variable "alarm_period_seconds" {
  description = "The period each alarm's statistic is taken over."
  type        = number
  default     = 300
}

variable "alarm_evaluation_periods" {
  description = "Consecutive breaching periods before an alarm fires."
  type        = number
  default     = 1
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
