variable "name" {
  description = "The cluster's name (the seed: migrationai-redis-cache)."
  type        = string
}

variable "vpc_id" {
  description = "The VPC the cluster's security group belongs to."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets for the cluster's subnet group (at least two zones)."
  type        = list(string)

  validation {
    condition     = length(var.subnet_ids) >= 1
    error_message = "subnet_ids: at least one private subnet."
  }
}

variable "client_security_group_ids" {
  description = "The only security groups that may reach Redis (the seed: the backend group)."
  type        = list(string)

  validation {
    condition     = length(var.client_security_group_ids) >= 1
    error_message = "client_security_group_ids: name the groups allowed to connect; the cluster is open to nothing else."
  }
}

variable "node_type" {
  description = "The node type (the seed: db.t4g.small is the smallest MemoryDB offers; the seed's db.t4.micro does not exist)."
  type        = string
  default     = "db.t4g.small"
}

variable "num_shards" {
  description = "Shards."
  type        = number
  default     = 1
}

variable "num_replicas_per_shard" {
  description = "Replicas in each shard (1 survives a node failure)."
  type        = number
  default     = 1
}

variable "port" {
  description = "The Redis port."
  type        = number
  default     = 6379
}

variable "engine_version" {
  description = "Redis engine version."
  type        = string
  default     = "7.1"
}

variable "snapshot_retention_limit" {
  description = "Days of automatic snapshots kept (0 turns them off)."
  type        = number
  default     = 7
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
