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
    condition     = aws_lb.this.name == "mht-api-staging-alb" && aws_lb_target_group.api.name == "mht-api-staging-api"
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
    condition     = aws_lb_target_group.api.health_check[0].path == "/health" && aws_lb_target_group.api.port == 8080 && aws_lb_target_group.api.target_type == "ip"
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
