# The load balancer's view of the API (create_alarms): slow answers and unhealthy tasks, the
# SnSD seed's two alarms. Per minute, so a short spike does not page anyone.

locals {
  alarms = var.create_alarms ? {
    high-response-time = {
      description = "The API's average response time stayed above ${var.response_time_alarm_seconds} s for 3 minutes."
      metric      = "TargetResponseTime"
      statistic   = "Average"
      threshold   = var.response_time_alarm_seconds
      periods     = 3
    }
    unhealthy-hosts = {
      description = "At least one API task failed its health checks for 2 minutes."
      metric      = "UnHealthyHostCount"
      statistic   = "Maximum"
      threshold   = 0
      periods     = 2
    }
  } : {}
}

resource "aws_cloudwatch_metric_alarm" "this" {
  for_each = local.alarms

  alarm_name          = "${var.name}-${each.key}"
  alarm_description   = each.value.description
  namespace           = "AWS/ApplicationELB"
  metric_name         = each.value.metric
  statistic           = each.value.statistic
  period              = 60
  evaluation_periods  = each.value.periods
  comparison_operator = "GreaterThanThreshold"
  threshold           = each.value.threshold
  # No requests is not slowness; a group with no data has no unhealthy host either.
  treat_missing_data = "notBreaching"
  dimensions = {
    LoadBalancer = aws_lb.this.arn_suffix
    TargetGroup  = aws_lb_target_group.api["blue"].arn_suffix
  }
  alarm_actions = var.alarm_actions
  ok_actions    = var.alarm_actions
  tags          = var.tags
}
