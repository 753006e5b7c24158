output "zone_id" {
  description = "The shared hosted zone (null when create_records = false)."
  value       = try(data.aws_route53_zone.this[0].zone_id, null)
}

output "certificate_arn" {
  description = "The issued certificate found for certificate_domain (null when lookup_certificate = false)."
  value       = try(data.aws_acm_certificate.this[0].arn, null)
}

output "fqdns" {
  description = "The names now pointing at the load balancer."
  value       = [for r in aws_route53_record.alias : r.fqdn]
}
