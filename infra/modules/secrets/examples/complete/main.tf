provider "aws" {
  region = "us-west-2"
}

module "secrets" {
  source = "../.."

  name        = "mht-api-staging"
  secret_keys = ["jwt_secret", "api_keys"]
}

output "value_from" {
  value = module.secrets.value_from
}
