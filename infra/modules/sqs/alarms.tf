locals {
  # One entry per alarm: {queue}-depth, {queue}-age and {queue}-dlq-depth.
  alarms = var.create_cloudwatch_alarms ? merge([for key, q in local.queues : {
    "${key}-depth" = {
      queue       = q.name
      metric      = "ApproximateNumberOfMessagesVisible"
      statistic   = "Maximum"
      threshold   = coalesce(q.depth_alarm_threshold, var.depth_alarm_threshold)
      description = "More than the threshold of messages wait in ${q.name}: the workers are behind or stopped."
    }
    "${key}-age" = {
      queue       = q.name
      metric      = "ApproximateAgeOfOldestMessage"
      statistic   = "Maximum"
      threshold   = coalesce(q.age_alarm_threshold_seconds, var.age_alarm_threshold_seconds)
      description = "The oldest message in ${q.name} is older than the threshold (seconds): work is stuck."
    }
    "${key}-dlq-depth" = {
      queue       = q.dlq_name
      metric      = "ApproximateNumberOfMessagesVisible"
      statistic   = "Maximum"
      threshold   = coalesce(q.dlq_depth_alarm_threshold, var.dlq_depth_alarm_threshold)
      description = "Messages of ${q.name} failed ${q.max_receive_count} receives and wait in ${q.dlq_name}."
    }
  }]...) : {}
}

resource "aws_cloudwatch_metric_alarm" "this" {
  for_each = local.alarms

  alarm_name          = "${local.prefix}-${each.key}"
  alarm_description   = each.value.description
  namespace           = "AWS/SQS"
  metric_name         = each.value.metric
  dimensions          = { QueueName = each.value.queue }
  statistic           = each.value.statistic
  period              = var.alarm_period_seconds
  evaluation_periods  = var.alarm_evaluation_periods
  datapoints_to_alarm = var.alarm_evaluation_periods
  comparison_operator = "GreaterThanThreshold"
  threshold           = each.value.threshold
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.ok_actions
  tags                = local.tags

  depends_on = [aws_sqs_queue.this, aws_sqs_queue.dlq]
}
