# Production's own state: its own bucket and lock table (infra/bootstrap creates them), never
# staging's. `terraform init -backend-config=…` can point it elsewhere (CI does, at moto).
terraform {
  backend "s3" {
    bucket         = "mht-terraform-state-production"
    key            = "infrastructure/terraform.tfstate"
    region         = "us-west-2"
    dynamodb_table = "mht-terraform-locks-production"
    encrypt        = true
  }
}
