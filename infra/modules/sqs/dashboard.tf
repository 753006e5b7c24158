locals {
  # One row per queue: its depth and in-flight count, the age of its oldest message, its
  # dead-letter queue's depth, and messages sent / received / deleted, as the seed's dashboard.
  dashboard_rows = [for i, key in sort(keys(local.queues)) : [
    {
      type = "metric", x = 0, y = i * 6, width = 6, height = 6
      properties = {
        title  = "${key}: depth"
        region = data.aws_region.current.name
        stat   = "Maximum"
        period = 60
        metrics = [
          ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", local.queues[key].name],
          ["AWS/SQS", "ApproximateNumberOfMessagesNotVisible", "QueueName", local.queues[key].name],
        ]
      }
    },
    {
      type = "metric", x = 6, y = i * 6, width = 6, height = 6
      properties = {
        title   = "${key}: oldest message (s)"
        region  = data.aws_region.current.name
        stat    = "Maximum"
        period  = 60
        metrics = [["AWS/SQS", "ApproximateAgeOfOldestMessage", "QueueName", local.queues[key].name]]
      }
    },
    {
      type = "metric", x = 12, y = i * 6, width = 6, height = 6
      properties = {
        title   = "${key}: dead-letter queue"
        region  = data.aws_region.current.name
        stat    = "Maximum"
        period  = 60
        metrics = [["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", local.queues[key].dlq_name]]
      }
    },
    {
      type = "metric", x = 18, y = i * 6, width = 6, height = 6
      properties = {
        title  = "${key}: sent / received / deleted"
        region = data.aws_region.current.name
        stat   = "Sum"
        period = 60
        metrics = [
          ["AWS/SQS", "NumberOfMessagesSent", "QueueName", local.queues[key].name],
          ["AWS/SQS", "NumberOfMessagesReceived", "QueueName", local.queues[key].name],
          ["AWS/SQS", "NumberOfMessagesDeleted", "QueueName", local.queues[key].name],
        ]
      }
    },
  ]]
}

data "aws_region" "current" {}

resource "aws_cloudwatch_dashboard" "this" {
  count = var.create_dashboard ? 1 : 0

  dashboard_name = "${local.prefix}-queues"
  dashboard_body = jsonencode({ widgets = flatten(local.dashboard_rows) })
}
