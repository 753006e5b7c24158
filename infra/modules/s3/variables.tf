variable "instance_name" {
  description = "White-label instance, the first part of every name (e.g. mht-api)."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9]([a-z0-9-]*[a-z0-9])?$", var.instance_name))
    error_message = "instance_name must be lowercase letters, digits and inner hyphens: it becomes part of the bucket name."
  }
}

variable "environment" {
  description = "Environment name (staging, production, …); part of every name, so two environments never share a bucket."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9]([a-z0-9-]*[a-z0-9])?$", var.environment))
    error_message = "environment must be lowercase letters, digits and inner hyphens."
  }
}

variable "bucket_suffix" {
  description = "What the bucket holds (e.g. data-collection): the bucket is {instance}-{env}-{suffix}-{random}."
  type        = string
  default     = "data-collection"

  validation {
    condition     = can(regex("^[a-z0-9]([a-z0-9-]*[a-z0-9])?$", var.bucket_suffix))
    error_message = "bucket_suffix must be lowercase letters, digits and inner hyphens."
  }
}

variable "bucket_name" {
  description = "The bucket's whole name, for a system that names it outright (SnSD's snsd-file-uploads-production); its access-log bucket is {bucket_name}-logs. Null: {instance}-{env}-{suffix}-{random}. Bucket names are global: a name someone else holds fails the apply."
  type        = string
  default     = null

  validation {
    condition     = var.bucket_name == null || can(regex("^[a-z0-9][a-z0-9.-]{1,56}[a-z0-9]$", var.bucket_name))
    error_message = "bucket_name must be 3 to 58 lowercase letters, digits, dots and hyphens (S3's rules, with room for -logs), starting and ending with a letter or digit."
  }
}

variable "random_suffix" {
  description = "The {random} part of the bucket name. Null: 8 hex digits of a hash of account, region and name, stable across applies and known at plan time."
  type        = string
  default     = null

  validation {
    condition     = var.random_suffix == null || can(regex("^[a-z0-9]{4,12}$", var.random_suffix))
    error_message = "random_suffix must be 4 to 12 lowercase letters or digits."
  }
}

variable "force_destroy" {
  description = "Let terraform destroy the buckets with objects still in them. Keep false for production."
  type        = bool
  default     = false
}

variable "versioning_enabled" {
  description = "Keep every version of every object."
  type        = bool
  default     = true
}

variable "noncurrent_version_expiration_days" {
  description = "Delete non-current object versions this many days after they are replaced (0: keep them)."
  type        = number
  default     = 90
}

variable "sse_algorithm" {
  description = "Server-side encryption: AES256 (S3-managed keys) or aws:kms."
  type        = string
  default     = "AES256"

  validation {
    condition     = contains(["AES256", "aws:kms"], var.sse_algorithm)
    error_message = "sse_algorithm must be AES256 or aws:kms."
  }
}

variable "kms_key_arn" {
  description = "The KMS key for sse_algorithm = aws:kms (null: the AWS-managed aws/s3 key)."
  type        = string
  default     = null
}

variable "require_tls" {
  description = "Deny every request to the bucket that does not use TLS (aws:SecureTransport), presigned URLs included."
  type        = bool
  default     = true
}

variable "create_access_log_bucket" {
  description = "Create a second bucket ({instance}-{env}-{suffix}-logs-{random}) and send the bucket's server access logs to it."
  type        = bool
  default     = true
}

variable "access_log_retention_days" {
  description = "Days the access logs are kept (the seeds: 14 in staging, 90 in production)."
  type        = number
  default     = 90

  validation {
    condition     = var.access_log_retention_days >= 1
    error_message = "access_log_retention_days must be at least 1."
  }
}

variable "create_lifecycle_policy" {
  description = "Add the lifecycle rules: storage-class transitions, non-current version expiry, abandoned multipart uploads and Conveyor's staging area."
  type        = bool
  default     = true
}

variable "lifecycle_transitions" {
  description = "Storage-class transitions of current objects, in order (Standard -> IA -> Glacier -> Deep Archive). S3's own rules are checked: STANDARD_IA/ONEZONE_IA no earlier than day 30, 30 days in IA before the next class, 90 days in a Glacier class before DEEP_ARCHIVE."
  type = list(object({
    days          = number
    storage_class = string
  }))
  default = [
    { days = 30, storage_class = "STANDARD_IA" },
    { days = 90, storage_class = "GLACIER" },
    { days = 365, storage_class = "DEEP_ARCHIVE" },
  ]

  validation {
    condition = alltrue([for t in var.lifecycle_transitions : contains(
      ["STANDARD_IA", "ONEZONE_IA", "INTELLIGENT_TIERING", "GLACIER_IR", "GLACIER", "DEEP_ARCHIVE"],
    t.storage_class)])
    error_message = "lifecycle_transitions: storage_class must be one of STANDARD_IA, ONEZONE_IA, INTELLIGENT_TIERING, GLACIER_IR, GLACIER, DEEP_ARCHIVE."
  }

  validation {
    condition = alltrue([for t in var.lifecycle_transitions :
    t.days >= 30 if contains(["STANDARD_IA", "ONEZONE_IA"], t.storage_class)])
    error_message = "lifecycle_transitions: S3 refuses a transition to STANDARD_IA or ONEZONE_IA before day 30 (objects must stay 30 days in STANDARD first)."
  }

  validation {
    condition = alltrue([for i, t in var.lifecycle_transitions :
    i == 0 || t.days > var.lifecycle_transitions[max(i - 1, 0)].days])
    error_message = "lifecycle_transitions: the days must increase from one transition to the next."
  }

  validation {
    condition = alltrue([for i, t in var.lifecycle_transitions :
      i == 0 || !contains(["STANDARD_IA", "ONEZONE_IA"], var.lifecycle_transitions[max(i - 1, 0)].storage_class)
    || t.days - var.lifecycle_transitions[max(i - 1, 0)].days >= 30])
    error_message = "lifecycle_transitions: S3 keeps objects at least 30 days in STANDARD_IA/ONEZONE_IA; the next transition must come 30 or more days later."
  }

  validation {
    condition = alltrue([for i, t in var.lifecycle_transitions :
      i == 0 || t.storage_class != "DEEP_ARCHIVE" || !contains(["GLACIER", "GLACIER_IR"], var.lifecycle_transitions[max(i - 1, 0)].storage_class)
    || t.days - var.lifecycle_transitions[max(i - 1, 0)].days >= 90])
    error_message = "lifecycle_transitions: S3 requires DEEP_ARCHIVE 90 or more days after a GLACIER or GLACIER_IR transition."
  }
}

variable "abort_incomplete_multipart_upload_days" {
  description = "Abort multipart uploads left incomplete this many days (a client that disconnects mid-upload leaves one, and S3 bills its parts)."
  type        = number
  default     = 7
}

variable "staging_area_expiration_days" {
  description = "Expire objects under _conveyor/staging/ (the files API stages multi-file uploads there and renames them into place; leftovers are from crashed requests)."
  type        = number
  default     = 1
}

variable "idempotency_key_expiration_days" {
  description = "Expire the API's Idempotency-Key records under _conveyor/idempotency/. Each record carries its own expiry (Conveyor's idempotency_window, 24 hours by default) and is judged by it when read; this only removes old ones, so it must be at least the window."
  type        = number
  default     = 2
  validation {
    condition     = var.idempotency_key_expiration_days >= 1
    error_message = "idempotency_key_expiration_days must be 1 or more (S3 expires whole days)."
  }
}

variable "job_mark_expiration_days" {
  description = "Expire the workers' job marks under _conveyor/jobs/, by which GET /v1/jobs/{id} finds a job's state and result on SQS. Past this age a job's status is no longer known, so keep it above the queues' retention (SQS keeps a message at most 14 days)."
  type        = number
  default     = 30
  validation {
    condition     = var.job_mark_expiration_days >= 15
    error_message = "job_mark_expiration_days must be 15 or more: a message may wait 14 days in SQS, and its job status must outlive it."
  }
}

variable "create_intelligent_tiering" {
  description = "Add an S3 Intelligent-Tiering configuration with the archive tiers below (objects must be stored as INTELLIGENT_TIERING for it to apply)."
  type        = bool
  default     = false
}

variable "intelligent_tiering_archive_days" {
  description = "Days without access before Intelligent-Tiering moves an object to its Archive Access tier (90-730)."
  type        = number
  default     = 90
}

variable "intelligent_tiering_deep_archive_days" {
  description = "Days without access before Intelligent-Tiering moves an object to its Deep Archive Access tier (180-730)."
  type        = number
  default     = 180
}

variable "cors_rules" {
  description = "CORS rules for browsers that upload with presigned forms or read with presigned URLs; empty: no CORS configuration."
  type = list(object({
    allowed_origins = list(string)
    allowed_methods = list(string)
    allowed_headers = optional(list(string), ["*"])
    expose_headers  = optional(list(string), ["ETag"])
    max_age_seconds = optional(number, 3000)
  }))
  default = []
}

variable "create_athena_tables" {
  description = "Create a Glue database with the tables `conveyor athena ddl` prints: events (Parquet), results (JSON) and results_compacted (Parquet), with partition projection over year/month/day/hour."
  type        = bool
  default     = false
}

variable "athena_event_columns" {
  description = "The typed columns the analytics handler takes from event properties (config/conveyor.toml's `columns`), appended to the events table's fixed ones."
  type = list(object({
    name = string
    type = string
  }))
  default = []
  validation {
    condition     = alltrue([for c in var.athena_event_columns : contains(["string", "bigint", "double", "boolean"], c.type)])
    error_message = "athena_event_columns: type is one of string, bigint, double, boolean (the analytics handler's string, int64, double, boolean)."
  }
}

variable "record_expiration_days" {
  description = "Expire Conveyor's records under events/, results/ and results_compacted/ this many days after they were written; 0 keeps them. Set it to the environment's record_retention in config/conveyor.toml, which the local store's sweeper applies."
  type        = number
  default     = 0
  validation {
    condition     = var.record_expiration_days >= 0 && floor(var.record_expiration_days) == var.record_expiration_days
    error_message = "record_expiration_days must be a whole number of days, 0 to keep the records."
  }
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
