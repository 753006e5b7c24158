provider "aws" {
  region = "us-west-2"
}

# The seeds' staging network: 10.1.0.0/16 over three zones, one NAT gateway.
module "network" {
  source = "../.."

  name                 = "mht-api-staging"
  vpc_cidr             = "10.1.0.0/16"
  availability_zones   = ["us-west-2a", "us-west-2b", "us-west-2c"]
  public_subnet_cidrs  = ["10.1.1.0/24", "10.1.2.0/24", "10.1.3.0/24"]
  private_subnet_cidrs = ["10.1.11.0/24", "10.1.12.0/24", "10.1.13.0/24"]
  single_nat_gateway   = true
}

output "vpc_id" {
  value = module.network.vpc_id
}
