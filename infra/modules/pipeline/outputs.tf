output "pipeline_name" {
  description = "The pipeline."
  value       = aws_codepipeline.this.name
}

output "connection_arn" {
  description = "The GitHub connection; one the module created stays PENDING until its handshake is completed once in the console."
  value       = local.connection_arn
}

output "artifact_bucket" {
  description = "Where the pipeline keeps its artifacts (expired after 30 days)."
  value       = aws_s3_bucket.artifacts.bucket
}

output "build_role_arn" {
  description = "The role the builds run with."
  value       = aws_iam_role.build.arn
}
