# One environment of Conveyor on AWS: the API and the workers on ECS Fargate behind an ALB, the
# queues on SQS, results and files in S3. Every name carries {instance}-{env}; the shared Route53
# zone is looked up, never created.

locals {
  name = "${var.instance_name}-${var.environment}"
}

module "network" {
  source = "../../modules/network"

  name                 = local.name
  vpc_cidr             = var.vpc_cidr
  availability_zones   = var.availability_zones
  public_subnet_cidrs  = var.public_subnet_cidrs
  private_subnet_cidrs = var.private_subnet_cidrs
  create_nat_gateway   = var.create_nat_gateway
  single_nat_gateway   = var.single_nat_gateway
}

module "s3" {
  source = "../../modules/s3"

  instance_name              = var.instance_name
  environment                = var.environment
  bucket_suffix              = var.s3_bucket_suffix
  versioning_enabled         = var.s3_versioning_enabled
  require_tls                = var.s3_require_tls
  create_access_log_bucket   = var.enable_s3_access_logging
  access_log_retention_days  = var.s3_log_retention_days
  create_lifecycle_policy    = var.enable_s3_lifecycle_policy
  lifecycle_transitions      = var.s3_lifecycle_transitions
  create_intelligent_tiering = var.enable_s3_intelligent_tiering
  create_athena_tables       = var.create_athena_tables
  athena_event_columns       = var.athena_event_columns
  record_expiration_days     = var.s3_record_expiration_days
  force_destroy              = var.force_destroy
  cors_rules = length(var.cors_origins) == 0 ? [] : [{
    allowed_origins = var.cors_origins
    allowed_methods = ["GET", "HEAD", "POST", "PUT"]
  }]
}

module "sqs" {
  source = "../../modules/sqs"

  instance_name               = var.instance_name
  environment                 = var.environment
  use_case                    = var.use_case
  omit_environment_in_names   = var.omit_environment_in_names
  queues                      = var.queues
  create_redrive_allow_policy = var.enable_sqs_redrive_allow_policy
  alarm_actions               = var.sqs_alarm_actions
  depth_alarm_threshold       = var.queue_depth_alarm_threshold
  age_alarm_threshold_seconds = var.message_age_alarm_threshold_seconds
  dlq_depth_alarm_threshold   = var.dlq_depth_alarm_threshold
}

module "secrets" {
  source = "../../modules/secrets"

  name                    = local.name
  secret_keys             = concat(["jwt_secret", "api_keys", "operator_keys"], local.handler_secrets)
  recovery_window_in_days = var.force_destroy ? 0 : var.secrets_recovery_window_days
}

module "iam" {
  source = "../../modules/iam"

  instance_name = var.instance_name
  environment   = var.environment
  queue_arns    = values(module.sqs.queue_arns)
  dlq_arns      = values(module.sqs.dlq_arns)
  bucket_arn    = module.s3.bucket_arn
  secret_arns   = [module.secrets.secret_arn]
}

module "ecr" {
  source = "../../modules/ecr"

  repositories       = { api = local.name }
  keep_tagged_images = var.ecr_keep_tagged_images
  force_delete       = var.force_destroy
}

# The repository was once the module's only one: keep it, do not recreate it.
moved {
  from = module.ecr.aws_ecr_repository.this
  to   = module.ecr.aws_ecr_repository.this["api"]
}

moved {
  from = module.ecr.aws_ecr_lifecycle_policy.this[0]
  to   = module.ecr.aws_ecr_lifecycle_policy.this["api"]
}

module "dns" {
  source = "../../modules/dns"

  zone_name          = var.hosted_zone_name
  zone_id            = var.route53_zone_id
  record_names       = var.api_dns_names
  alb_dns_name       = module.alb.alb_dns_name
  alb_zone_id        = module.alb.alb_zone_id
  create_records     = var.create_dns_records
  lookup_certificate = var.enable_https
  certificate_domain = var.certificate_domain
}

module "alb" {
  source = "../../modules/alb"

  name                  = local.name
  vpc_id                = module.network.vpc_id
  public_subnet_ids     = module.network.public_subnet_ids
  create_https_listener = var.enable_https
  certificate_arn       = module.dns.certificate_arn
  deletion_protection   = var.alb_deletion_protection

  create_green_target_group = var.blue_green_enabled
}

module "ecs" {
  source = "../../modules/ecs"

  name                  = local.name
  image                 = "${module.ecr.repository_urls["api"]}:${var.image_tag}"
  vpc_id                = module.network.vpc_id
  private_subnet_ids    = module.network.private_subnet_ids
  alb_security_group_id = module.alb.security_group_id
  target_group_arn      = module.alb.target_group_arn
  execution_role_arn    = module.iam.task_execution_role_arn
  api_task_role_arn     = module.iam.api_role_arn
  worker_task_role_arn  = module.iam.worker_role_arn
  services              = var.services
  create_autoscaling    = var.enable_autoscaling
  log_retention_days    = var.log_retention_days

  # Production deploys its API blue/green (the seed's blue_green_enabled), staging rolls it.
  blue_green = var.blue_green_enabled ? {
    listener_arns           = [var.enable_https ? module.alb.https_listener_arn : module.alb.http_listener_arn]
    target_group_names      = [module.alb.target_group_names["blue"], module.alb.target_group_names["green"]]
    rollback_window_minutes = var.rollback_timeout_minutes
  } : null

  # What Conveyor needs to find this environment's queues and bucket (config/conveyor.toml has
  # the rest); the secrets come from Secrets Manager at task start.
  environment_variables = local.conveyor_environment
  secrets = merge(
    {
      CONVEYOR_API_KEYS      = module.secrets.value_from["api_keys"]
      CONVEYOR_OPERATOR_KEYS = module.secrets.value_from["operator_keys"]
      CONVEYOR_JWT_SECRET    = module.secrets.value_from["jwt_secret"]
    },
    # The handlers' credentials, as the variables Conveyor reads them from.
    { for key in local.handler_secrets : "CONVEYOR_SECRET_${upper(key)}" => module.secrets.value_from[key] },
  )
}

locals {
  # The secrets config/conveyor.toml's handlers name (token_secret, api_key_secret, key_secret).
  handler_secrets = ["zendesk_api_token", "sendgrid_api_key", "app_store_connect_key"]

  conveyor_environment = {
    CONVEYOR_ENVIRONMENT = var.environment
    CONVEYOR_REGION      = var.aws_region
    CONVEYOR_BUCKET      = module.s3.bucket_name
  }
}
