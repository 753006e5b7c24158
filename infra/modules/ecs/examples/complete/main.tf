provider "aws" {
  region = "us-west-2"
}

# The API and the workers of one environment, from one image, in private subnets behind an ALB.
module "network" {
  source = "../../../network"

  name                 = "example"
  vpc_cidr             = "10.9.0.0/16"
  availability_zones   = ["us-west-2a", "us-west-2b"]
  public_subnet_cidrs  = ["10.9.1.0/24", "10.9.2.0/24"]
  private_subnet_cidrs = ["10.9.11.0/24", "10.9.12.0/24"]
}

module "alb" {
  source = "../../../alb"

  name                  = "example"
  vpc_id                = module.network.vpc_id
  public_subnet_ids     = module.network.public_subnet_ids
  create_https_listener = false
}

module "ecs" {
  source = "../.."

  name                  = "example"
  image                 = "123456789012.dkr.ecr.us-west-2.amazonaws.com/example:1.0.0"
  vpc_id                = module.network.vpc_id
  private_subnet_ids    = module.network.private_subnet_ids
  alb_security_group_id = module.alb.security_group_id
  target_group_arn      = module.alb.target_group_arn
  execution_role_arn    = "arn:aws:iam::123456789012:role/example-task-execution-role"
  api_task_role_arn     = "arn:aws:iam::123456789012:role/example-api-role"
  worker_task_role_arn  = "arn:aws:iam::123456789012:role/example-worker-role"

  environment_variables = { CONVEYOR_ENVIRONMENT = "staging" }
  secrets = {
    CONVEYOR_API_KEYS = "arn:aws:secretsmanager:us-west-2:123456789012:secret:example-secrets-AbCdEf:api_keys::"
  }

  services = {
    api    = { cpu = 256, memory = 512, desired_count = 1, min_count = 1, max_count = 4 }
    worker = { cpu = 256, memory = 512, desired_count = 1, min_count = 1, max_count = 4 }
  }
}

output "cluster_name" {
  value = module.ecs.cluster_name
}
