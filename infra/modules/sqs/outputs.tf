output "queue_names" {
  description = "Queue names by short name."
  value       = { for k, q in aws_sqs_queue.this : k => q.name }
}

output "queue_urls" {
  description = "Queue URLs by short name."
  value       = { for k, q in aws_sqs_queue.this : k => q.url }
}

output "queue_arns" {
  description = "Queue ARNs by short name."
  value       = { for k, q in aws_sqs_queue.this : k => q.arn }
}

output "dlq_names" {
  description = "Dead-letter queue names by short name."
  value       = { for k, q in aws_sqs_queue.dlq : k => q.name }
}

output "dlq_arns" {
  description = "Dead-letter queue ARNs by short name."
  value       = { for k, q in aws_sqs_queue.dlq : k => q.arn }
}

output "all_queue_arns" {
  description = "Every queue and dead-letter queue ARN (for IAM policies)."
  value       = concat(values(aws_sqs_queue.this)[*].arn, values(aws_sqs_queue.dlq)[*].arn)
}

output "alarm_names" {
  description = "CloudWatch alarm names by {queue}-depth / {queue}-age / {queue}-dlq-depth."
  value       = { for k, a in aws_cloudwatch_metric_alarm.this : k => a.alarm_name }
}

output "dashboard_name" {
  description = "The CloudWatch dashboard's name (null without create_dashboard)."
  value       = one(aws_cloudwatch_dashboard.this[*].dashboard_name)
}
