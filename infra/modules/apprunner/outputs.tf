output "service_urls" {
  description = "Each service's HTTPS address, by name."
  value       = { for name, s in aws_apprunner_service.this : name => "https://${s.service_url}" }
}

output "service_arns" {
  description = "Each service's ARN, by name (the pipeline's deploy stage starts deployments on them)."
  value       = { for name, s in aws_apprunner_service.this : name => s.arn }
}

output "access_role_arn" {
  description = "The role App Runner pulls images with."
  value       = aws_iam_role.access.arn
}
