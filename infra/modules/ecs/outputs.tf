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
  value       = { for k, s in aws_ecs_service.this : k => s.name }
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
