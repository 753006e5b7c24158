variable "name" {
  description = "Prefix of every name ({instance}-{env})."
  type        = string
}

variable "vpc_cidr" {
  description = "The VPC's CIDR block (the seeds: 10.1.0.0/16 staging, 10.0.0.0/16 production)."
  type        = string

  validation {
    condition     = can(cidrhost(var.vpc_cidr, 0))
    error_message = "vpc_cidr must be a CIDR block like 10.0.0.0/16."
  }
}

variable "availability_zones" {
  description = "Availability zones, one public and one private subnet in each."
  type        = list(string)

  validation {
    condition     = length(var.availability_zones) >= 2
    error_message = "Give at least two availability zones: an ALB needs subnets in two."
  }
}

variable "public_subnet_cidrs" {
  description = "Public subnets (ALB, NAT gateways), one per availability zone."
  type        = list(string)
}

variable "private_subnet_cidrs" {
  description = "Private subnets (the ECS tasks), one per availability zone."
  type        = list(string)
}

variable "create_nat_gateway" {
  description = "Give the private subnets a way out to the internet (AWS APIs outside the VPC endpoints, webhooks, email)."
  type        = bool
  default     = true
}

variable "single_nat_gateway" {
  description = "One NAT gateway for all zones (cheaper) rather than one per zone (survives a zone failure)."
  type        = bool
  default     = true
}

variable "create_s3_endpoint" {
  description = "An S3 gateway endpoint on the private route tables: S3 traffic skips the NAT (cheaper, private)."
  type        = bool
  default     = true
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
