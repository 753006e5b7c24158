# The SnSD backend (../../../../shared/seeds/snsd-backend-infrastructure.md) as one stack on the
# repository's modules, in us-east-1: the files API (Conveyor with config/snsd.toml) on ECS
# Fargate behind an HTTPS load balancer at api.snsdconsultant.com, files in
# snsd-file-uploads-production, the Supabase keys in snsd-production-secrets.

locals {
  name = "snsd-${var.environment}"
  port = 8000
  # The seed's secret, plus the keys Conveyor's operator and ingest routes need. Conveyor reads
  # only SUPABASE_JWT_SECRET of the Supabase keys (it verifies the users' tokens with it); the
  # others are kept there for the front end's build and the seed's other services.
  secret_keys = ["SUPABASE_URL", "SUPABASE_ANON_KEY", "SUPABASE_SERVICE_ROLE_KEY", "SUPABASE_JWT_SECRET", "api_keys", "operator_keys"]
}

module "network" {
  source = "../../modules/network"

  name                 = local.name
  vpc_cidr             = "10.0.0.0/16"
  availability_zones   = ["${var.aws_region}a", "${var.aws_region}b"]
  public_subnet_cidrs  = ["10.0.1.0/24", "10.0.2.0/24"]
  private_subnet_cidrs = ["10.0.11.0/24", "10.0.12.0/24"]
  single_nat_gateway   = var.single_nat_gateway
}

module "s3" {
  source = "../../modules/s3"

  instance_name = "snsd"
  environment   = var.environment
  bucket_suffix = "file-uploads"
  bucket_name   = "snsd-file-uploads-${var.environment}"
  require_tls   = var.s3_require_tls
  force_destroy = var.force_destroy
  sse_algorithm = "AES256"
  lifecycle_transitions = [
    { days = 30, storage_class = "STANDARD_IA" },
    { days = 90, storage_class = "GLACIER" },
  ]
  cors_rules = [{
    allowed_origins = var.cors_origins
    allowed_methods = ["GET", "HEAD", "POST", "PUT"]
  }]
}

module "secrets" {
  source = "../../modules/secrets"

  name                    = local.name
  secret_keys             = local.secret_keys
  recovery_window_in_days = var.force_destroy ? 0 : 30
}

module "iam" {
  source = "../../modules/iam"

  instance_name      = "snsd"
  environment        = var.environment
  queue_arns         = []
  bucket_arn         = module.s3.bucket_arn
  secret_arns        = [module.secrets.secret_arn]
  create_worker_role = false
}

module "ecr" {
  source = "../../modules/ecr"

  repositories = { api = local.name }
  force_delete = var.force_destroy
}

module "dns" {
  source = "../../modules/dns"

  zone_name          = var.domain
  zone_id            = var.route53_zone_id
  record_names       = [var.api_name]
  alb_dns_name       = module.alb.alb_dns_name
  alb_zone_id        = module.alb.alb_zone_id
  lookup_certificate = var.enable_https
  certificate_domain = "*.${var.domain}"
}

module "alb" {
  source = "../../modules/alb"

  name                  = local.name
  vpc_id                = module.network.vpc_id
  public_subnet_ids     = module.network.public_subnet_ids
  target_port           = local.port
  health_check_path     = "/health"
  create_https_listener = var.enable_https
  certificate_arn       = module.dns.certificate_arn

  create_alarms               = true
  response_time_alarm_seconds = var.response_time_alarm_seconds
  alarm_actions               = var.alarm_actions
}

module "ecs" {
  source = "../../modules/ecs"

  name                  = local.name
  image                 = "${module.ecr.repository_urls["api"]}:${var.image_tag}"
  vpc_id                = module.network.vpc_id
  private_subnet_ids    = module.network.private_subnet_ids
  alb_security_group_id = module.alb.security_group_id
  target_group_arn      = module.alb.target_group_arn
  container_port        = local.port
  execution_role_arn    = module.iam.task_execution_role_arn
  api_task_role_arn     = module.iam.api_role_arn
  services = {
    api = { cpu = 256, memory = 512, desired_count = 1, min_count = 1, max_count = 4 }
  }
  service_names      = { api = "${local.name}-service" }
  create_autoscaling = var.enable_autoscaling
  log_retention_days = 30

  environment_variables = {
    CONVEYOR_CONFIG      = "/etc/conveyor/snsd.toml"
    CONVEYOR_ENVIRONMENT = var.environment
    CONVEYOR_REGION      = var.aws_region
    CONVEYOR_BUCKET      = module.s3.bucket_name
  }
  secrets = {
    CONVEYOR_JWT_SECRET    = module.secrets.value_from["SUPABASE_JWT_SECRET"]
    CONVEYOR_API_KEYS      = module.secrets.value_from["api_keys"]
    CONVEYOR_OPERATOR_KEYS = module.secrets.value_from["operator_keys"]
  }
}
