provider "aws" {
  region = "us-west-2"
}

module "network" {
  source = "../../../network"

  name                 = "example"
  vpc_cidr             = "10.9.0.0/16"
  availability_zones   = ["us-west-2a", "us-west-2b"]
  public_subnet_cidrs  = ["10.9.1.0/24", "10.9.2.0/24"]
  private_subnet_cidrs = ["10.9.11.0/24", "10.9.12.0/24"]
  create_nat_gateway   = false
}

module "alb" {
  source = "../.."

  name              = "example"
  vpc_id            = module.network.vpc_id
  public_subnet_ids = module.network.public_subnet_ids
  certificate_arn   = "arn:aws:acm:us-west-2:123456789012:certificate/00000000-0000-0000-0000-000000000000"
}

output "alb_dns_name" {
  value = module.alb.alb_dns_name
}
