mock_provider "aws" {}

variables {
  name              = "mht-api-staging"
  vpc_id            = "vpc-0123456789abcdef0"
  public_subnet_ids = ["subnet-a", "subnet-b"]
  certificate_arn   = "arn:aws:acm:us-west-2:123456789012:certificate/abc"
}

run "https_with_redirect" {
  command = plan
  assert {
    condition     = aws_lb.this.name == "mht-api-staging-alb" && aws_lb_target_group.api["blue"].name == "mht-api-staging-api"
    error_message = "Names must be {instance}-{env}-alb and {instance}-{env}-api."
  }
  assert {
    condition     = aws_lb_listener.https[0].port == 443 && aws_lb_listener.https[0].protocol == "HTTPS" && aws_lb_listener.https[0].certificate_arn == var.certificate_arn
    error_message = "HTTPS on 443 with the certificate."
  }
  assert {
    condition     = aws_lb_listener.http.default_action[0].type == "redirect" && aws_lb_listener.http.default_action[0].redirect[0].protocol == "HTTPS" && aws_lb_listener.http.default_action[0].redirect[0].status_code == "HTTP_301"
    error_message = "HTTP must redirect to HTTPS."
  }
  assert {
    condition     = aws_lb_target_group.api["blue"].health_check[0].path == "/health" && aws_lb_target_group.api["blue"].port == 8080 && aws_lb_target_group.api["blue"].target_type == "ip"
    error_message = "The target group probes /health on the API port of Fargate tasks."
  }
}

run "http_only_without_certificate" {
  command = plan
  variables {
    create_https_listener = false
    certificate_arn       = null
  }
  assert {
    condition     = length(aws_lb_listener.https) == 0 && aws_lb_listener.http.default_action[0].type == "forward"
    error_message = "Without HTTPS, port 80 forwards to the API."
  }
}

run "long_names_refused" {
  command = plan
  variables {
    name = "a-very-long-white-label-instance-production"
  }
  expect_failures = [var.name]
}

run "example_plans" {
  command = plan
  module {
    source = "./examples/complete"
  }
}

run "blue_green_gets_an_identical_green_group" {
  command = plan
  variables {
    create_green_target_group = true
  }
  assert {
    condition     = output.target_group_names == { blue = "mht-api-staging-api", green = "mht-api-staging-api-green" }
    error_message = "Blue keeps the API's group; green is beside it."
  }
  assert {
    condition     = aws_lb_target_group.api["green"].health_check[0].path == aws_lb_target_group.api["blue"].health_check[0].path && aws_lb_target_group.api["green"].port == aws_lb_target_group.api["blue"].port
    error_message = "Green checks health and listens as blue does, or a deployment would switch to tasks checked differently."
  }
}

run "no_alarms_unless_asked" {
  command = plan
  assert {
    condition     = length(aws_cloudwatch_metric_alarm.this) == 0
    error_message = "Alarms are opt-in (MHT alarms on its queues)."
  }
}

run "alarms_on_response_time_and_unhealthy_hosts" {
  command = plan
  variables {
    create_alarms               = true
    response_time_alarm_seconds = 2
    alarm_actions               = ["arn:aws:sns:us-east-1:123456789012:alerts"]
  }
  assert {
    condition     = output.alarm_names == { high-response-time = "mht-api-staging-high-response-time", unhealthy-hosts = "mht-api-staging-unhealthy-hosts" }
    error_message = "The seed's two alarms."
  }
  assert {
    condition     = aws_cloudwatch_metric_alarm.this["high-response-time"].metric_name == "TargetResponseTime" && aws_cloudwatch_metric_alarm.this["high-response-time"].threshold == 2 && aws_cloudwatch_metric_alarm.this["unhealthy-hosts"].metric_name == "UnHealthyHostCount" && aws_cloudwatch_metric_alarm.this["unhealthy-hosts"].threshold == 0
    error_message = "Response time above the threshold; any unhealthy host."
  }
  assert {
    condition     = aws_cloudwatch_metric_alarm.this["unhealthy-hosts"].alarm_actions == toset(["arn:aws:sns:us-east-1:123456789012:alerts"])
    error_message = "Alarms go to the given topics."
  }
}
