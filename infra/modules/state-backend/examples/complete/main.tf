provider "aws" {
  region = "us-west-2"
}

# The seeds' staging state backend; production uses its own bucket and table.
module "state_backend" {
  source = "../.."

  bucket_name                        = "mht-terraform-state-staging"
  lock_table_name                    = "mht-terraform-locks-staging"
  noncurrent_version_expiration_days = 90
}

output "bucket_name" {
  value = module.state_backend.bucket_name
}
