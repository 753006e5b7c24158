provider "aws" {
  region = "us-west-2"
}

module "iam" {
  source = "../.."

  instance_name = "mht-api"
  environment   = "staging"
  queue_arns    = ["arn:aws:sqs:us-west-2:123456789012:mht-api-staging-api-processing-feedback.fifo"]
  dlq_arns      = ["arn:aws:sqs:us-west-2:123456789012:mht-api-staging-api-processing-feedback-dlq.fifo"]
  bucket_arn    = "arn:aws:s3:::mht-api-staging-data-collection-0a1b2c3d"
  secret_arns   = ["arn:aws:secretsmanager:us-west-2:123456789012:secret:mht-api-staging-secrets-AbCdEf"]
}

output "api_role_arn" {
  value = module.iam.api_role_arn
}
