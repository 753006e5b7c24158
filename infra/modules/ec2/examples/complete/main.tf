provider "aws" {
  region = "us-west-2"
}

# The seed's two application servers, in the private subnets, behind the backend group.
module "ec2" {
  source = "../.."

  name_prefix         = "migrationai"
  ami_id              = "ami-0123456789abcdef0"
  subnet_ids          = ["subnet-0a1b2c3d4e5f60001", "subnet-0a1b2c3d4e5f60002"]
  security_group_ids  = ["sg-0a1b2c3d4e5f60001"]
  ecr_repository_arns = ["arn:aws:ecr:us-west-2:123456789012:repository/prod/migrationai-backend-api", "arn:aws:ecr:us-west-2:123456789012:repository/prod/migrationai-tfp"]

  instances = {
    "migrationai-backend" = {}
    "migrationai-tfp"     = { subnet_index = 1 }
  }

  tags = { Project = "migrationai" }
}

output "instance_ids" {
  value = module.ec2.instance_ids
}
