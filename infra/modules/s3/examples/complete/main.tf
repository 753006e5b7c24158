provider "aws" {
  region = "us-west-2"
}

# The production shape of the seeds: tiering Standard -> IA -> Glacier -> Deep Archive,
# access logs kept 90 days, browser uploads from the web app, Athena over the results.
module "s3" {
  source = "../.."

  instance_name = "mht-api"
  environment   = "production"
  bucket_suffix = "data-collection"

  lifecycle_transitions = [
    { days = 30, storage_class = "STANDARD_IA" },
    { days = 90, storage_class = "GLACIER" },
    { days = 365, storage_class = "DEEP_ARCHIVE" },
  ]
  access_log_retention_days  = 90
  create_intelligent_tiering = true
  create_athena_tables       = true

  cors_rules = [{
    allowed_origins = ["https://app.amygdalas.com"]
    allowed_methods = ["GET", "POST", "PUT"]
  }]

  tags = { Project = "mht-api" }
}

output "bucket_name" {
  value = module.s3.bucket_name
}
