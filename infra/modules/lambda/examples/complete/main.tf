provider "aws" {
  region = "us-west-2"
}

# Two of MigrationAI's thirteen workers: one image (functions/migrationai/Dockerfile), a
# command each, triggered by their queues, in the private subnets.
locals {
  image = "123456789012.dkr.ecr.us-west-2.amazonaws.com/prod/migrationai-workers:2026-12-01"
}

module "lambda" {
  source = "../.."

  name_prefix         = "migrationai"
  subnet_ids          = ["subnet-0a1b2c3d4e5f60001", "subnet-0a1b2c3d4e5f60002"]
  security_group_ids  = ["sg-0a1b2c3d4e5f60001"]
  ecr_repository_arns = ["arn:aws:ecr:us-west-2:123456789012:repository/prod/migrationai-workers"]

  functions = {
    contacts = {
      image_uri                = local.image
      command                  = ["contacts.handler"]
      queue_arn                = "arn:aws:sqs:us-west-2:123456789012:prod-migrationai-contacts"
      queue_visibility_seconds = 1800
    }
    deals = {
      image_uri                = local.image
      command                  = ["deals.handler"]
      queue_arn                = "arn:aws:sqs:us-west-2:123456789012:prod-migrationai-deals"
      queue_visibility_seconds = 1800
      maximum_concurrency      = 10
    }
  }

  tags = { Project = "migrationai" }
}

output "function_names" {
  value = module.lambda.function_names
}
