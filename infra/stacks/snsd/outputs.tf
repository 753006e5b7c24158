output "api_url" {
  description = "Where the files API answers."
  value       = "${var.enable_https ? "https" : "http"}://${var.api_name}"
}

output "alb_dns_name" {
  description = "The load balancer's own name."
  value       = module.alb.alb_dns_name
}

output "bucket_name" {
  description = "The files bucket."
  value       = module.s3.bucket_name
}

output "ecr_repository_url" {
  description = "Where CI pushes the image."
  value       = module.ecr.repository_urls["api"]
}

output "ecs_cluster_name" {
  description = "The cluster."
  value       = module.ecs.cluster_name
}

output "ecs_service_names" {
  description = "The service (one: the files API)."
  value       = module.ecs.service_names
}

output "secret_name" {
  description = "The secret to fill with the Supabase keys."
  value       = module.secrets.secret_name
}

output "conveyor_environment" {
  description = "What `conveyor --config config/snsd.toml` needs to find this stack."
  value = {
    CONVEYOR_ENVIRONMENT = var.environment
    CONVEYOR_REGION      = var.aws_region
    CONVEYOR_BUCKET      = module.s3.bucket_name
  }
}
