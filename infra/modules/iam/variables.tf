variable "instance_name" {
  description = "White-label instance, the first part of every name (e.g. mht-api)."
  type        = string
}

variable "environment" {
  description = "Environment name (staging, production, …): roles are {instance}-{env}-{role}-role."
  type        = string
}

variable "queue_arns" {
  description = "The work queues: the API may send to them, the workers receive, delete and extend visibility."
  type        = list(string)
}

variable "dlq_arns" {
  description = "The dead-letter queues: both roles may look them up and read their attributes (depth), nothing more."
  type        = list(string)
  default     = []
}

variable "bucket_arn" {
  description = "The data bucket."
  type        = string
}

variable "api_object_prefixes" {
  description = "Key prefixes the API reads and writes (the files API's tenants, its staging area, smoke probes)."
  type        = list(string)
  default     = ["tenants/", "_conveyor/"]
}

variable "worker_object_prefixes" {
  description = "Key prefixes the workers write results to."
  type        = list(string)
  default     = ["results/", "events/"]
}

variable "allow_admin_operations" {
  description = "Let the API role serve Conveyor's /v1/admin routes on SQS too (receive, delete, purge, redrive from the dead-letter queues). Off: those routes are refused by SQS and operators use their own credentials."
  type        = bool
  default     = false
}

variable "kms_key_arns" {
  description = "KMS keys that encrypt the queues or the bucket (both roles need Decrypt and GenerateDataKey on them)."
  type        = list(string)
  default     = []
}

variable "trusted_services" {
  description = "Services that may assume the API and worker roles."
  type        = list(string)
  default     = ["ecs-tasks.amazonaws.com"]
}

variable "create_api_role" {
  description = "Create the API role."
  type        = bool
  default     = true
}

variable "create_worker_role" {
  description = "Create the worker role."
  type        = bool
  default     = true
}

variable "create_task_execution_role" {
  description = "Create the ECS task execution role (pull the image, write logs, read the secrets below)."
  type        = bool
  default     = true
}

variable "secret_arns" {
  description = "Secrets Manager secrets the task execution role may read to inject them into containers."
  type        = list(string)
  default     = []
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
