output "function_names" {
  description = "Each function's name, by key."
  value       = { for key, f in aws_lambda_function.this : key => f.function_name }
}

output "function_arns" {
  description = "Each function's ARN, by key."
  value       = { for key, f in aws_lambda_function.this : key => f.arn }
}

output "role_arns" {
  description = "Each function's execution role, by key."
  value       = { for key, r in aws_iam_role.this : key => r.arn }
}

output "log_group_names" {
  description = "Each function's log group, by key."
  value       = { for key, g in aws_cloudwatch_log_group.this : key => g.name }
}

output "event_source_mapping_ids" {
  description = "Each SQS trigger's id, by key."
  value       = { for key, m in aws_lambda_event_source_mapping.this : key => m.uuid }
}
