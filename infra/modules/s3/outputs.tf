output "bucket_name" {
  description = "The data bucket: give it to Conveyor as CONVEYOR_BUCKET."
  value       = aws_s3_bucket.this.bucket
}

output "bucket_arn" {
  description = "ARN of the data bucket."
  value       = aws_s3_bucket.this.arn
}

output "bucket_regional_domain_name" {
  description = "The bucket's regional domain name."
  value       = aws_s3_bucket.this.bucket_regional_domain_name
}

output "log_bucket_name" {
  description = "The access-log bucket (null when create_access_log_bucket = false)."
  value       = try(aws_s3_bucket.logs[0].bucket, null)
}

output "partition_layout" {
  description = "Where Conveyor writes records, in Athena's Hive-style partitions."
  value       = "s3://${aws_s3_bucket.this.bucket}/results/{queue}/year=YYYY/month=MM/day=DD/hour=HH/{message_id}.json"
}

output "glue_database_name" {
  description = "The Glue database holding the results table (null when create_athena_tables = false)."
  value       = try(aws_glue_catalog_database.this[0].name, null)
}
