variable "aws_region" {
  description = "The seed's region (the certificate is requested there too)."
  type        = string
  default     = "us-east-1"
}

variable "environment" {
  description = "The environment, part of every name (snsd-production-cluster)."
  type        = string
  default     = "production"
}

variable "image_tag" {
  description = "The image tag the service runs (CI pushes a new one and deploys it)."
  type        = string
  default     = "latest"
}

variable "single_nat_gateway" {
  description = "One NAT gateway instead of one per zone: the seed's cost option (about $32 a month less), at the price of the private subnets losing the internet when that zone fails."
  type        = bool
  default     = false
}

variable "domain" {
  description = "The hosted zone the API's name lives in, and whose wildcard certificate the load balancer serves."
  type        = string
  default     = "snsdconsultant.com"
}

variable "api_name" {
  description = "The API's DNS name."
  type        = string
  default     = "api.snsdconsultant.com"
}

variable "cors_origins" {
  description = "Browser origins allowed to upload to and download from the bucket directly (presigned URLs), as config/snsd.toml allows the API."
  type        = list(string)
  default     = ["https://snsdconsultant.com", "https://www.snsdconsultant.com"]
}

variable "response_time_alarm_seconds" {
  description = "Alarm when the load balancer's average target response time stays above this."
  type        = number
  default     = 1
}

variable "alarm_actions" {
  description = "Where the alarms go (SNS topic ARNs); empty: they show in CloudWatch only."
  type        = list(string)
  default     = []
}

# ---- What a throwaway copy (CI on moto_server) switches off; infra/README.md says why ----

variable "enable_autoscaling" {
  description = "Scale the service between 1 and 4 tasks on CPU and memory."
  type        = bool
  default     = true
}

variable "enable_https" {
  description = "The HTTPS listener with the wildcard certificate, and HTTP redirected to it."
  type        = bool
  default     = true
}

variable "s3_require_tls" {
  description = "The bucket policy that refuses requests without TLS."
  type        = bool
  default     = true
}

variable "route53_zone_id" {
  description = "The hosted zone's id; null looks it up by name."
  type        = string
  default     = null
}

variable "force_destroy" {
  description = "Destroy deletes the bucket's objects, the repository's images and the secret at once (throwaway copies only)."
  type        = bool
  default     = false
}
