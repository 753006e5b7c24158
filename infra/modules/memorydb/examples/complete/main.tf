provider "aws" {
  region = "us-west-2"
}

# The seed's cache: MemoryDB for Redis in the private subnets, reachable from the backend group.
module "memorydb" {
  source = "../.."

  name                      = "migrationai-redis-cache"
  vpc_id                    = "vpc-0a1b2c3d4e5f60001"
  subnet_ids                = ["subnet-0a1b2c3d4e5f60001", "subnet-0a1b2c3d4e5f60002"]
  client_security_group_ids = ["sg-0a1b2c3d4e5f60001"]

  tags = { Project = "migrationai" }
}

output "endpoint" {
  value = module.memorydb.endpoint
}
