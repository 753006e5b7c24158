mock_provider "aws" {}

variables {
  bucket_name     = "mht-terraform-state-staging"
  lock_table_name = "mht-terraform-locks-staging"
}

run "versioned_encrypted_locked" {
  command = plan
  assert {
    condition     = aws_s3_bucket_versioning.state.versioning_configuration[0].status == "Enabled"
    error_message = "State must be versioned."
  }
  assert {
    condition     = one(one(aws_s3_bucket_server_side_encryption_configuration.state.rule).apply_server_side_encryption_by_default).sse_algorithm == "AES256"
    error_message = "State must be encrypted."
  }
  assert {
    condition     = aws_dynamodb_table.lock[0].hash_key == "LockID" && aws_dynamodb_table.lock[0].billing_mode == "PAY_PER_REQUEST"
    error_message = "The lock table must have the LockID key Terraform's S3 backend uses."
  }
  assert {
    condition     = aws_s3_bucket_lifecycle_configuration.state.rule[0].noncurrent_version_expiration[0].noncurrent_days == 90
    error_message = "Old state versions expire after the configured days."
  }
}

run "example_plans" {
  command = plan
  module {
    source = "./examples/complete"
  }
}
