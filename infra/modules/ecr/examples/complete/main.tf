provider "aws" {
  region = "us-west-2"
}

module "ecr" {
  source = "../.."

  repository_name    = "mht-api"
  keep_tagged_images = 10
}

output "repository_url" {
  value = module.ecr.repository_url
}
