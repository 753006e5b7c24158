output "cluster_name" {
  description = "The ECS cluster."
  value       = aws_ecs_cluster.this.name
}

output "cluster_arn" {
  description = "ARN of the ECS cluster."
  value       = aws_ecs_cluster.this.arn
}

output "service_names" {
  description = "The services: api and worker."
  value       = merge({ for k, s in aws_ecs_service.this : k => s.name }, { for s in aws_ecs_service.api_blue_green : "api" => s.name })
}

output "task_definition_arns" {
  description = "The task definitions: api and worker."
  value       = { for k, t in aws_ecs_task_definition.this : k => t.arn }
}

output "log_group_name" {
  description = "Where the services log."
  value       = aws_cloudwatch_log_group.this.name
}

output "tasks_security_group_id" {
  description = "The tasks' security group."
  value       = aws_security_group.tasks.id
}

output "codedeploy" {
  description = "With blue_green set: the CodeDeploy application and deployment group that deploy the API, and what an AppSpec names (scripts/deploy-environment.sh); null otherwise."
  value = local.blue_green ? {
    application      = aws_codedeploy_app.api[0].name
    deployment_group = aws_codedeploy_deployment_group.api[0].deployment_group_name
    container_name   = "api"
    container_port   = var.container_port
  } : null
}
