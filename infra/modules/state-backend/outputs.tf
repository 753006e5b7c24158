output "bucket_name" {
  description = "The state bucket: `bucket` in the environment's backend configuration."
  value       = aws_s3_bucket.state.bucket
}

output "bucket_arn" {
  description = "ARN of the state bucket."
  value       = aws_s3_bucket.state.arn
}

output "lock_table_name" {
  description = "The lock table: `dynamodb_table` in the backend configuration (null when not created)."
  value       = try(aws_dynamodb_table.lock[0].name, null)
}
