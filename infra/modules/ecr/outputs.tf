output "repository_urls" {
  description = "Push and pull images here ({account}.dkr.ecr.{region}.amazonaws.com/{name}), by key."
  value       = { for key, r in aws_ecr_repository.this : key => r.repository_url }
}

output "repository_arns" {
  description = "ARN of each repository, by key."
  value       = { for key, r in aws_ecr_repository.this : key => r.arn }
}

output "repository_names" {
  description = "Name of each repository, by key."
  value       = { for key, r in aws_ecr_repository.this : key => r.name }
}
