output "conveyor_environment" {
  description = "The variables that point `conveyor api|worker|smoke` at this environment (the ECS tasks get the same)."
  value       = local.conveyor_environment
}

output "bucket_name" {
  description = "The data bucket."
  value       = module.s3.bucket_name
}

output "queue_urls" {
  description = "Queue URLs by short name."
  value       = module.sqs.queue_urls
}

output "dlq_names" {
  description = "Dead-letter queues by short name."
  value       = module.sqs.dlq_names
}

output "dashboard_name" {
  description = "The CloudWatch dashboard of the environment's queues (docs/RUNBOOK.md)."
  value       = module.sqs.dashboard_name
}

output "api_role_arn" {
  description = "The API's role."
  value       = module.iam.api_role_arn
}

output "worker_role_arn" {
  description = "The workers' role."
  value       = module.iam.worker_role_arn
}

output "ecr_repository_url" {
  description = "Where CI pushes the image."
  value       = module.ecr.repository_urls["api"]
}

output "ecs_cluster_name" {
  description = "The ECS cluster."
  value       = module.ecs.cluster_name
}

output "ecs_service_names" {
  description = "The api and worker services."
  value       = module.ecs.service_names
}

output "alb_dns_name" {
  description = "The load balancer."
  value       = module.alb.alb_dns_name
}

output "api_urls" {
  description = "Where the API answers."
  value       = [for n in var.api_dns_names : "${var.enable_https ? "https" : "http"}://${n}"]
}

output "secret_name" {
  description = "Set the JWT secret and API keys here (scripts/deploy-environment.sh says how)."
  value       = module.secrets.secret_name
}

output "vpc_cidr" {
  description = "The VPC block."
  value       = module.network.vpc_cidr
}

output "codedeploy" {
  description = "With blue_green_enabled: the CodeDeploy application and group that deploy the API (infra/scripts/codedeploy_request.py builds the request); null otherwise."
  value       = module.ecs.codedeploy
}

output "task_definition_arns" {
  description = "The task definitions this apply registered: api and worker."
  value       = module.ecs.task_definition_arns
}
