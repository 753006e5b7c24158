provider "aws" {
  region = "us-west-2"
}

# The seed's two front ends on App Runner.
module "apprunner" {
  source = "../.."

  name_prefix = "migrationai"
  ecr_repository_arns = [
    "arn:aws:ecr:us-west-2:123456789012:repository/prod/migrationai-frontend",
    "arn:aws:ecr:us-west-2:123456789012:repository/prod/migrationai-admin-frontend",
  ]
  services = {
    "migrationai-frontend"       = { image_uri = "123456789012.dkr.ecr.us-west-2.amazonaws.com/prod/migrationai-frontend:2026-12-01", port = 3000 }
    "migrationai-admin-frontend" = { image_uri = "123456789012.dkr.ecr.us-west-2.amazonaws.com/prod/migrationai-admin-frontend:2026-12-01", port = 3000 }
  }

  tags = { Project = "migrationai" }
}

output "service_urls" {
  value = module.apprunner.service_urls
}
