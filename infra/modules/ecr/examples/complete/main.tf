provider "aws" {
  region = "us-west-2"
}

module "ecr" {
  source = "../.."

  repositories       = { api = "mht-api" }
  keep_tagged_images = 10
}

output "repository_url" {
  value = module.ecr.repository_urls["api"]
}
