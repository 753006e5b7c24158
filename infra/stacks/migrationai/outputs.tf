output "queue_urls" {
  description = "Each queue's URL, by its key in config/migrationai.toml."
  value       = module.sqs.queue_urls
}

output "repository_urls" {
  description = "The 15 ECR repositories' URLs."
  value       = module.ecr.repository_urls
}

output "bucket_name" {
  description = "The files bucket."
  value       = module.s3.bucket_name
}

output "conveyor_environment" {
  description = "What `conveyor --config config/migrationai.toml` needs to find this stack (the API, provision, smoke)."
  value = {
    CONVEYOR_ENVIRONMENT = var.environment
    CONVEYOR_REGION      = var.aws_region
    CONVEYOR_BUCKET      = module.s3.bucket_name
  }
}
