variable "zone_name" {
  description = "The hosted zone the environments share (the only thing they share), e.g. amygdalas.com."
  type        = string
}

variable "zone_id" {
  description = "The hosted zone's id; null: look it up by zone_name."
  type        = string
  default     = null
}

variable "record_names" {
  description = "Names that alias the load balancer (staging: staging.api.amygdalas.com, production: api.amygdalas.com)."
  type        = list(string)
  default     = []
}

variable "alb_dns_name" {
  description = "The load balancer's DNS name."
  type        = string
  default     = null
}

variable "alb_zone_id" {
  description = "The load balancer's hosted zone id."
  type        = string
  default     = null
}

variable "create_records" {
  description = "Create the alias records."
  type        = bool
  default     = true
}

variable "lookup_certificate" {
  description = "Find the issued ACM certificate for certificate_domain (it is requested and validated once, outside these roots, as the seeds do)."
  type        = bool
  default     = true
}

variable "certificate_domain" {
  description = "The certificate's domain, e.g. *.amygdalas.com."
  type        = string
  default     = null
}
