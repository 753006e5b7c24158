output "secret_arn" {
  description = "ARN of the secret."
  value       = aws_secretsmanager_secret.this.arn
}

output "secret_name" {
  description = "Name of the secret."
  value       = aws_secretsmanager_secret.this.name
}

output "value_from" {
  description = "ECS `valueFrom` references by key ({arn}:{key}::), for the task definition's secrets."
  value       = { for k in var.secret_keys : k => "${aws_secretsmanager_secret.this.arn}:${k}::" }
}
