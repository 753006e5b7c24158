mock_provider "aws" {}

variables {
  instance_name = "mht-api"
  environment   = "staging"
  use_case      = "api-processing"
  queues = {
    feedback  = { message_retention_seconds = 604800, visibility_timeout_seconds = 120, max_receive_count = 2 }
    analytics = { visibility_timeout_seconds = 60, high_throughput = true, age_alarm_threshold_seconds = 120 }
    webhooks  = { fifo = false }
  }
  alarm_actions = ["arn:aws:sns:us-west-2:123456789012:staging-alerts"]
}

run "a_queue_prefix_names_the_queues_outright" {
  command = plan
  variables {
    queue_prefix = "prod-migrationai"
    queues       = { contacts = { fifo = false, visibility_timeout_seconds = 120 } }
  }
  assert {
    condition     = aws_sqs_queue.this["contacts"].name == "prod-migrationai-contacts" && aws_sqs_queue.dlq["contacts"].name == "prod-migrationai-contacts-dlq"
    error_message = "queue_prefix gives the seed's MigrationAI names."
  }
}

run "names_follow_the_white_label_pattern" {
  command = plan

  assert {
    condition = [for k in ["analytics", "feedback", "webhooks"] : aws_sqs_queue.this[k].name] == [
      "mht-api-staging-api-processing-analytics.fifo",
      "mht-api-staging-api-processing-feedback.fifo",
      "mht-api-staging-api-processing-webhooks",
    ]
    error_message = "Queues must be {instance}-{env}-{use_case}-{queue}[.fifo]."
  }
  assert {
    condition     = aws_sqs_queue.dlq["feedback"].name == "mht-api-staging-api-processing-feedback-dlq.fifo" && aws_sqs_queue.dlq["webhooks"].name == "mht-api-staging-api-processing-webhooks-dlq"
    error_message = "Dead-letter queues must be {queue}-dlq[.fifo], of the same type as their queue."
  }
  assert {
    condition     = aws_sqs_queue.this["feedback"].tags["conveyor:environment"] == "staging"
    error_message = "Queues must carry the conveyor:environment tag `conveyor provision` checks."
  }
}

run "production_names_may_omit_the_environment" {
  command = plan
  variables {
    environment               = "production"
    omit_environment_in_names = true
  }
  assert {
    condition     = aws_sqs_queue.this["feedback"].name == "mht-api-api-processing-feedback.fifo"
    error_message = "With omit_environment_in_names the seeds' production names apply."
  }
}

run "queue_settings_are_the_ones_given" {
  command = plan

  assert {
    condition     = aws_sqs_queue.this["feedback"].message_retention_seconds == 604800 && aws_sqs_queue.this["feedback"].visibility_timeout_seconds == 120
    error_message = "Retention and visibility must be the configured ones."
  }
  assert {
    condition     = aws_sqs_queue.this["analytics"].deduplication_scope == "messageGroup" && aws_sqs_queue.this["analytics"].fifo_throughput_limit == "perMessageGroupId"
    error_message = "high_throughput must set the high-throughput FIFO mode."
  }
  assert {
    condition     = aws_sqs_queue.this["feedback"].fifo_throughput_limit == "perQueue" && aws_sqs_queue.this["feedback"].deduplication_scope == "queue"
    error_message = "Other FIFO queues keep the default throughput mode."
  }
  assert {
    condition     = alltrue([for q in values(aws_sqs_queue.this) : q.sqs_managed_sse_enabled]) && alltrue([for q in values(aws_sqs_queue.dlq) : q.sqs_managed_sse_enabled])
    error_message = "Every queue, dead-letter queues included, must be encrypted."
  }
}

run "alarm_thresholds_and_actions" {
  command = plan

  assert {
    condition     = length(aws_cloudwatch_metric_alarm.this) == 9
    error_message = "Each queue needs a depth, an age and a dead-letter depth alarm."
  }
  assert {
    condition     = aws_cloudwatch_metric_alarm.this["analytics-age"].threshold == 120 && aws_cloudwatch_metric_alarm.this["feedback-age"].threshold == 600
    error_message = "A queue's own threshold wins over the module default."
  }
  assert {
    condition     = aws_cloudwatch_metric_alarm.this["feedback-dlq-depth"].threshold == 0 && aws_cloudwatch_metric_alarm.this["feedback-dlq-depth"].dimensions.QueueName == "mht-api-staging-api-processing-feedback-dlq.fifo"
    error_message = "The dead-letter alarm must watch the dead-letter queue and fire on its first message."
  }
  assert {
    condition     = aws_cloudwatch_metric_alarm.this["feedback-depth"].metric_name == "ApproximateNumberOfMessagesVisible" && aws_cloudwatch_metric_alarm.this["feedback-age"].metric_name == "ApproximateAgeOfOldestMessage"
    error_message = "Depth and age alarms must use SQS's depth and oldest-message metrics."
  }
  assert {
    condition     = alltrue([for a in values(aws_cloudwatch_metric_alarm.this) : a.alarm_actions == toset(["arn:aws:sns:us-west-2:123456789012:staging-alerts"])])
    error_message = "Every alarm must notify the environment's topic."
  }
}

# Wiring needs the ARNs, which exist only after an apply: the mock provider gives each queue
# its own made-up ARN, so a redrive policy pointing at the wrong queue would show.
run "each_queue_dead_letters_into_its_own_dlq" {
  command = apply

  assert {
    condition = alltrue([for k, q in aws_sqs_queue.this :
    jsondecode(q.redrive_policy).deadLetterTargetArn == aws_sqs_queue.dlq[k].arn])
    error_message = "Every queue's redrive policy must name its own dead-letter queue."
  }
  assert {
    condition     = jsondecode(aws_sqs_queue.this["feedback"].redrive_policy).maxReceiveCount == 2 && jsondecode(aws_sqs_queue.this["webhooks"].redrive_policy).maxReceiveCount == 3
    error_message = "maxReceiveCount must be the queue's max_receive_count (default 3)."
  }
  assert {
    condition = alltrue([for k, p in aws_sqs_queue_redrive_allow_policy.dlq :
    jsondecode(p.redrive_allow_policy).sourceQueueArns == [aws_sqs_queue.this[k].arn]])
    error_message = "Each dead-letter queue must accept messages from its own queue only."
  }
}

run "optional_parts_switch_off" {
  command = plan
  variables {
    create_redrive_allow_policy = false
    create_cloudwatch_alarms    = false
    create_dashboard            = false
  }
  assert {
    condition     = length(aws_sqs_queue_redrive_allow_policy.dlq) == 0 && length(aws_cloudwatch_metric_alarm.this) == 0 && length(aws_cloudwatch_dashboard.this) == 0
    error_message = "create_redrive_allow_policy, create_cloudwatch_alarms and create_dashboard must switch their parts off."
  }
}

run "every_queue_is_on_the_dashboard" {
  command = plan
  assert {
    condition     = aws_cloudwatch_dashboard.this[0].dashboard_name == "${local.prefix}-queues"
    error_message = "The dashboard is named after the environment's prefix."
  }
  assert {
    condition = alltrue([for q in local.queues :
      strcontains(aws_cloudwatch_dashboard.this[0].dashboard_body, "\"${q.name}\"") &&
    strcontains(aws_cloudwatch_dashboard.this[0].dashboard_body, "\"${q.dlq_name}\"")])
    error_message = "Every queue and its dead-letter queue must appear on the dashboard."
  }
  assert {
    condition     = length(jsondecode(aws_cloudwatch_dashboard.this[0].dashboard_body).widgets) == 4 * length(local.queues)
    error_message = "Each queue has its four widgets: depth, oldest age, dead-letter depth, sent/received/deleted."
  }
  assert {
    condition = alltrue([for m in ["ApproximateNumberOfMessagesVisible", "ApproximateAgeOfOldestMessage", "NumberOfMessagesSent", "NumberOfMessagesReceived", "NumberOfMessagesDeleted"] :
    strcontains(aws_cloudwatch_dashboard.this[0].dashboard_body, m)])
    error_message = "The dashboard shows the seed's metrics."
  }
}

run "content_based_dedup_only_on_fifo" {
  command = plan
  variables {
    queues = { plain = { fifo = false, content_based_deduplication = true } }
  }
  expect_failures = [var.queues]
}

run "retention_within_sqs_limits" {
  command = plan
  variables {
    queues = { long = { message_retention_seconds = 2000000 } }
  }
  expect_failures = [var.queues]
}

run "example_plans" {
  command = plan
  module {
    source = "./examples/complete"
  }
}
