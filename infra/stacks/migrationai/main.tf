# The MigrationAI seed (../../../../shared/seeds/migrationai-infrastructure.md) as one stack:
# VPC 10.0.0.0/16 in two zones with a NAT gateway each; 13 standard queues with DLQs, each
# triggering its Lambda function (one container image, config/migrationai.toml's functions);
# two EC2 app servers in the private subnets reached through Session Manager; two App Runner
# front ends; a MemoryDB Redis open to the backend group; the S3 bucket with tiering; the 15 ECR
# repositories; and the CodePipeline that builds and deploys them.

locals {
  name    = "migrationai"
  prefix  = "${var.environment}-migrationai"
  queues  = ["contacts", "companies", "deals", "notes", "tasks", "attachments", "users", "mappings", "validations", "imports", "exports", "notifications", "reports"]
  workers = ["contacts", "companies", "deals", "notes", "tasks", "attachments", "users", "mappings", "validations", "imports"]
  repositories = merge(
    {
      frontend       = "${var.environment}/migrationai-frontend"
      admin_frontend = "${var.environment}/migrationai-admin-frontend"
      backend_api    = "${var.environment}/migrationai-backend-api"
      admin_backend  = "${var.environment}/migrationai-admin-backend"
      tfp            = "${var.environment}/migrationai-tfp"
    },
    { for w in local.workers : "worker_${w}" => "${var.environment}/migrationai-worker-${w}" },
  )
  # Ten worker repositories, as the seed lists them; the three other functions run the
  # contacts worker image with their own command (the image holds every function).
  function_image   = { for q in local.queues : q => contains(local.workers, q) ? "worker_${q}" : "worker_contacts" }
  function_timeout = 300
}

module "network" {
  source = "../../modules/network"

  name                 = "${local.name}-${var.environment}"
  vpc_cidr             = "10.0.0.0/16"
  availability_zones   = ["${var.aws_region}a", "${var.aws_region}b"]
  public_subnet_cidrs  = ["10.0.1.0/24", "10.0.2.0/24"]
  private_subnet_cidrs = ["10.0.11.0/24", "10.0.12.0/24"]
  single_nat_gateway   = false
}

# The seed's backend group: SSH, HTTP and HTTPS from anywhere. Looser than it should be: the
# servers have no public address (Session Manager replaces SSH) and the front ends are on App
# Runner, so admin_cidr_blocks should be narrowed or emptied.
resource "aws_security_group" "backend" {
  name        = "${local.name}-${var.environment}-backend"
  description = "MigrationAI backend (functions and app servers)"
  vpc_id      = module.network.vpc_id
}

resource "aws_vpc_security_group_ingress_rule" "backend" {
  for_each          = { for pair in setproduct([22, 80, 443], var.admin_cidr_blocks) : "${pair[0]}-${pair[1]}" => pair }
  security_group_id = aws_security_group.backend.id
  cidr_ipv4         = each.value[1]
  ip_protocol       = "tcp"
  from_port         = each.value[0]
  to_port           = each.value[0]
  description       = "The seed's rule: port ${each.value[0]}"
}

resource "aws_vpc_security_group_egress_rule" "backend" {
  security_group_id = aws_security_group.backend.id
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "-1"
  description       = "AWS APIs, ECR, the internet through NAT"
}

module "sqs" {
  source = "../../modules/sqs"

  instance_name = local.name
  environment   = var.environment
  use_case      = "workers"
  queue_prefix  = local.prefix

  create_redrive_allow_policy = var.enable_sqs_redrive_allow_policy
  # The seed's 120 s visibility cannot trigger its 300 s functions (Lambda refuses it): six
  # times the timeout, as AWS recommends. Conveyor keeps 120 s (it extends a running batch).
  queues = { for q in local.queues : q => {
    fifo                       = false
    visibility_timeout_seconds = 6 * local.function_timeout
    max_receive_count          = 3
  } }
}

module "ecr" {
  source       = "../../modules/ecr"
  repositories = local.repositories
  force_delete = var.force_destroy
}

module "lambda" {
  count  = var.create_functions ? 1 : 0
  source = "../../modules/lambda"

  name_prefix         = local.name
  subnet_ids          = module.network.private_subnet_ids
  security_group_ids  = [aws_security_group.backend.id]
  ecr_repository_arns = values(module.ecr.repository_arns)
  functions = { for q in local.queues : q => {
    image_uri                = "${module.ecr.repository_urls[local.function_image[q]]}:${var.image_tag}"
    command                  = ["${q}.handler"]
    timeout_seconds          = local.function_timeout
    memory_mb                = 512
    queue_arn                = module.sqs.queue_arns[q]
    queue_visibility_seconds = 6 * local.function_timeout
    environment              = { QUEUE_URL = module.sqs.queue_urls[q] }
  } }
}

module "ec2" {
  count  = var.create_app_servers ? 1 : 0
  source = "../../modules/ec2"

  name_prefix         = local.name
  subnet_ids          = module.network.private_subnet_ids
  security_group_ids  = [aws_security_group.backend.id]
  ecr_repository_arns = [module.ecr.repository_arns["backend_api"], module.ecr.repository_arns["tfp"], module.ecr.repository_arns["admin_backend"]]
  instances = {
    "migrationai-backend" = {}
    "migrationai-tfp"     = { subnet_index = 1 }
  }
}

module "apprunner" {
  count  = var.create_front_ends ? 1 : 0
  source = "../../modules/apprunner"

  name_prefix         = local.name
  ecr_repository_arns = [module.ecr.repository_arns["frontend"], module.ecr.repository_arns["admin_frontend"]]
  services = {
    "migrationai-frontend"       = { image_uri = "${module.ecr.repository_urls["frontend"]}:${var.image_tag}", port = 3000 }
    "migrationai-admin-frontend" = { image_uri = "${module.ecr.repository_urls["admin_frontend"]}:${var.image_tag}", port = 3000 }
  }
}

module "memorydb" {
  count  = var.create_cache ? 1 : 0
  source = "../../modules/memorydb"

  name                      = "migrationai-redis-cache"
  vpc_id                    = module.network.vpc_id
  subnet_ids                = module.network.private_subnet_ids
  client_security_group_ids = [aws_security_group.backend.id]
}

module "s3" {
  source = "../../modules/s3"

  instance_name              = local.name
  environment                = var.environment
  bucket_suffix              = "files"
  require_tls                = var.s3_require_tls
  create_intelligent_tiering = var.enable_s3_intelligent_tiering
  force_destroy              = var.force_destroy
  versioning_enabled         = true
  create_lifecycle_policy    = true
  lifecycle_transitions = [
    { days = 30, storage_class = "STANDARD_IA" },
    { days = 90, storage_class = "GLACIER" },
    { days = 365, storage_class = "DEEP_ARCHIVE" },
  ]
}

module "pipeline" {
  count  = var.create_pipeline ? 1 : 0
  source = "../../modules/pipeline"

  name       = local.name
  repository = var.github_repository
  images = merge(
    { for w in local.workers : "worker_${w}" => {
      repository_url = module.ecr.repository_urls["worker_${w}"]
      repository_arn = module.ecr.repository_arns["worker_${w}"]
      dockerfile     = "functions/migrationai/Dockerfile"
      context        = "functions/migrationai"
    } },
    { for app in ["frontend", "admin_frontend", "backend_api", "admin_backend", "tfp"] : app => {
      repository_url = module.ecr.repository_urls[app]
      repository_arn = module.ecr.repository_arns[app]
      dockerfile     = "${replace(app, "_", "-")}/Dockerfile"
      context        = replace(app, "_", "-")
    } },
  )
  lambda_functions = { for q in local.queues : "${local.name}-${q}" => local.function_image[q] }
  apprunner_services = {
    "migrationai-frontend"       = { arn = module.apprunner[0].service_arns["migrationai-frontend"], image = "frontend", port = 3000 }
    "migrationai-admin-frontend" = { arn = module.apprunner[0].service_arns["migrationai-admin-frontend"], image = "admin_frontend", port = 3000 }
  }
  apprunner_access_role_arn = module.apprunner[0].access_role_arn
  ec2_deployment            = { instance_names = ["migrationai-backend", "migrationai-tfp"] }
  require_approval          = true
  force_destroy             = var.force_destroy
}
