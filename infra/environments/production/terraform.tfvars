# Production: reliability and compliance, as ../../../../shared/seeds/multi-environment-architecture-plan.md
# plans it: longer retention, more tasks, a NAT gateway per zone.
instance_name = "mht-api"
environment   = "production"
use_case      = "api-processing"
aws_region    = "us-west-2"

vpc_cidr             = "10.0.0.0/16"
availability_zones   = ["us-west-2a", "us-west-2b", "us-west-2c"]
public_subnet_cidrs  = ["10.0.1.0/24", "10.0.2.0/24", "10.0.3.0/24"]
private_subnet_cidrs = ["10.0.11.0/24", "10.0.12.0/24", "10.0.13.0/24"]
single_nat_gateway   = false

# config/conveyor.toml's production queues: the seeds' SQS plan, named without the environment
# (mht-api-api-processing-feedback.fifo), dead-lettered after 3 receives.
omit_environment_in_names = true
queues = {
  feedback   = { message_retention_seconds = 1209600, visibility_timeout_seconds = 300, max_receive_count = 3 }
  emails     = { message_retention_seconds = 1209600, visibility_timeout_seconds = 600, max_receive_count = 3 }
  analytics  = { message_retention_seconds = 604800, visibility_timeout_seconds = 120, max_receive_count = 3, high_throughput = true }
  testflight = { message_retention_seconds = 1209600, visibility_timeout_seconds = 300, max_receive_count = 3 }
}
sqs_alarm_actions = ["arn:aws:sns:us-west-2:123456789012:production-alerts"]

s3_lifecycle_transitions = [
  { days = 30, storage_class = "STANDARD_IA" },
  { days = 90, storage_class = "GLACIER" },
  { days = 365, storage_class = "DEEP_ARCHIVE" },
]
# config/conveyor.toml's record_retention for production (the seed's 365-day expiration).
s3_record_expiration_days = 365
s3_log_retention_days     = 90
log_retention_days        = 30
cors_origins              = ["https://amygdalas.com", "https://www.amygdalas.com"]

services = {
  api    = { cpu = 512, memory = 1024, desired_count = 3, min_count = 3, max_count = 6 }
  worker = { cpu = 512, memory = 1024, desired_count = 2, min_count = 2, max_count = 4 }
}
alb_deletion_protection  = true
blue_green_enabled       = true # the seed: production deploys blue/green, with a 5-minute rollback window
rollback_timeout_minutes = 5

hosted_zone_name   = "amygdalas.com"
route53_zone_id    = "Z0286437KXYMILBB4R1F"
api_dns_names      = ["api.amygdalas.com"]
certificate_domain = "*.amygdalas.com"
