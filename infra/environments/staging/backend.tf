# Staging's own state: its own bucket and lock table (infra/bootstrap creates them), never
# production's. `terraform init -backend-config=…` can point it elsewhere (CI does, at moto).
terraform {
  backend "s3" {
    bucket         = "mht-terraform-state-staging"
    key            = "infrastructure/terraform.tfstate"
    region         = "us-west-2"
    dynamodb_table = "mht-terraform-locks-staging"
    encrypt        = true
  }
}
