# Staging: the same architecture as production (load balancer, encryption, alarms, IAM, tiering),
# smaller and with shorter retention, as ../../../../shared/seeds/multi-environment-architecture-plan.md plans it.
instance_name = "mht-api"
environment   = "staging"
use_case      = "api-processing"
aws_region    = "us-west-2"

vpc_cidr             = "10.1.0.0/16"
availability_zones   = ["us-west-2a", "us-west-2b", "us-west-2c"]
public_subnet_cidrs  = ["10.1.1.0/24", "10.1.2.0/24", "10.1.3.0/24"]
private_subnet_cidrs = ["10.1.11.0/24", "10.1.12.0/24", "10.1.13.0/24"]
single_nat_gateway   = true

# config/conveyor.toml's staging queues: retention 7 days, lower visibility timeouts (faster
# retry), dead-lettered after 2 receives.
queues = {
  feedback   = { message_retention_seconds = 604800, visibility_timeout_seconds = 120, max_receive_count = 2 }
  emails     = { message_retention_seconds = 604800, visibility_timeout_seconds = 300, max_receive_count = 2 }
  analytics  = { message_retention_seconds = 604800, visibility_timeout_seconds = 60, max_receive_count = 2, high_throughput = true }
  testflight = { message_retention_seconds = 604800, visibility_timeout_seconds = 120, max_receive_count = 2 }
}
sqs_alarm_actions = ["arn:aws:sns:us-west-2:123456789012:staging-alerts"]

# The seeds' staging schedule (IA at 7 days, Glacier 14, Deep Archive 30) is refused by S3: IA no
# earlier than day 30, 30 days in IA, 90 days in Glacier before Deep Archive. This is the earliest
# schedule S3 accepts with the same three steps.
s3_lifecycle_transitions = [
  { days = 30, storage_class = "STANDARD_IA" },
  { days = 60, storage_class = "GLACIER" },
  { days = 150, storage_class = "DEEP_ARCHIVE" },
]
# config/conveyor.toml's record_retention for staging (the seed's 90-day expiration).
s3_record_expiration_days = 90
s3_log_retention_days     = 14
log_retention_days        = 7
cors_origins              = ["https://staging.amygdalas.com"]

services = {
  api    = { cpu = 256, memory = 512, desired_count = 2, min_count = 2, max_count = 4 }
  worker = { cpu = 256, memory = 512, desired_count = 1, min_count = 1, max_count = 2 }
}
alb_deletion_protection = false
blue_green_enabled      = false # ECS rolls staging, its circuit breaker rolling back a failed deployment

hosted_zone_name   = "amygdalas.com"
route53_zone_id    = "Z0286437KXYMILBB4R1F"
api_dns_names      = ["staging.api.amygdalas.com", "dev.amygdalas.com"]
certificate_domain = "*.amygdalas.com"
