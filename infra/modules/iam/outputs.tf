output "api_role_arn" {
  description = "ARN of the API role (null when not created)."
  value       = try(aws_iam_role.api[0].arn, null)
}

output "api_role_name" {
  description = "Name of the API role."
  value       = try(aws_iam_role.api[0].name, null)
}

output "worker_role_arn" {
  description = "ARN of the worker role (null when not created)."
  value       = try(aws_iam_role.worker[0].arn, null)
}

output "worker_role_name" {
  description = "Name of the worker role."
  value       = try(aws_iam_role.worker[0].name, null)
}

output "task_execution_role_arn" {
  description = "ARN of the ECS task execution role (null when not created)."
  value       = try(aws_iam_role.task_execution[0].arn, null)
}

output "api_policy_json" {
  description = "The API role's inline policy, for review."
  value       = local.api_policy
}

output "worker_policy_json" {
  description = "The worker role's inline policy, for review."
  value       = local.worker_policy
}
