provider "aws" {
  region = "us-west-2"
}

# The four FIFO queues of the seeds' SQS plan, each with a dead-letter queue after 3 receives.
module "sqs" {
  source = "../.."

  instance_name = "mht-api"
  environment   = "staging"
  use_case      = "api-processing"

  queues = {
    feedback   = { message_retention_seconds = 1209600, visibility_timeout_seconds = 300 }
    emails     = { message_retention_seconds = 1209600, visibility_timeout_seconds = 600 }
    analytics  = { message_retention_seconds = 604800, visibility_timeout_seconds = 120, high_throughput = true }
    testflight = { message_retention_seconds = 1209600, visibility_timeout_seconds = 300 }
    # A standard queue, as the MigrationAI seed uses for its functions.
    webhooks = { fifo = false, visibility_timeout_seconds = 120, depth_alarm_threshold = 50 }
  }

  alarm_actions = ["arn:aws:sns:us-west-2:123456789012:staging-alerts"]
  tags          = { Project = "mht-api" }
}

output "queue_urls" {
  value = module.sqs.queue_urls
}
