provider "aws" {
  region = "us-west-2"
}

# MigrationAI's delivery: one workers image (the 13 functions) and the backend, built from the
# repository, then the functions updated and the backend servers deployed by CodeDeploy.
module "pipeline" {
  source = "../.."

  name       = "migrationai"
  repository = "amygdalas/migrationai"

  images = {
    workers = {
      repository_url = "123456789012.dkr.ecr.us-west-2.amazonaws.com/prod/migrationai-workers"
      repository_arn = "arn:aws:ecr:us-west-2:123456789012:repository/prod/migrationai-workers"
      dockerfile     = "functions/migrationai/Dockerfile"
      context        = "functions/migrationai"
    }
    backend = {
      repository_url = "123456789012.dkr.ecr.us-west-2.amazonaws.com/prod/migrationai-backend-api"
      repository_arn = "arn:aws:ecr:us-west-2:123456789012:repository/prod/migrationai-backend-api"
      dockerfile     = "Dockerfile"
    }
  }
  lambda_functions = { "migrationai-contacts" = "workers", "migrationai-deals" = "workers" }
  ec2_deployment   = { instance_names = ["migrationai-backend"] }
  require_approval = true

  tags = { Project = "migrationai" }
}

output "pipeline_name" {
  value = module.pipeline.pipeline_name
}
