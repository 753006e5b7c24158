mock_provider "aws" {
  mock_data "aws_iam_policy_document" {
    defaults = { json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}" }
  }
  mock_data "aws_region" {
    defaults = { name = "us-west-2" }
  }
  mock_resource "aws_ecs_cluster" {
    override_during = plan
    defaults        = { arn = "arn:aws:ecs:us-west-2:123456789012:cluster/mocked" }
  }
  mock_resource "aws_cloudwatch_log_group" {
    override_during = plan
    defaults        = { arn = "arn:aws:logs:us-west-2:123456789012:log-group:mocked" }
  }
}

variables {
  name                  = "mht-api-staging"
  image                 = "123456789012.dkr.ecr.us-west-2.amazonaws.com/mht-api-staging:abc123"
  vpc_id                = "vpc-0123456789abcdef0"
  private_subnet_ids    = ["subnet-a", "subnet-b"]
  alb_security_group_id = "sg-alb"
  target_group_arn      = "arn:aws:elasticloadbalancing:us-west-2:123456789012:targetgroup/mht-api-staging-api/abc"
  execution_role_arn    = "arn:aws:iam::123456789012:role/mht-api-staging-task-execution-role"
  api_task_role_arn     = "arn:aws:iam::123456789012:role/mht-api-staging-api-role"
  worker_task_role_arn  = "arn:aws:iam::123456789012:role/mht-api-staging-worker-role"
  environment_variables = { CONVEYOR_ENVIRONMENT = "staging" }
  secrets               = { CONVEYOR_API_KEYS = "arn:aws:secretsmanager:us-west-2:123456789012:secret:s-AbC:api_keys::" }
  services = {
    api    = { cpu = 256, memory = 512, desired_count = 2, min_count = 2, max_count = 4 }
    worker = { cpu = 512, memory = 1024, desired_count = 1, min_count = 1, max_count = 3 }
  }
}

run "one_image_two_services" {
  command = plan
  assert {
    condition     = aws_ecs_cluster.this.name == "mht-api-staging-cluster" && aws_ecs_service.this["api"].name == "mht-api-staging-api" && aws_ecs_service.this["worker"].name == "mht-api-staging-worker"
    error_message = "Cluster and services must carry the white-label names."
  }
  assert {
    condition     = [for r in ["api", "worker"] : jsondecode(aws_ecs_task_definition.this[r].container_definitions)[0].command] == [["api"], ["worker"]]
    error_message = "The services run `conveyor api` and `conveyor worker`."
  }
  assert {
    condition     = jsondecode(aws_ecs_task_definition.this["api"].container_definitions)[0].image == jsondecode(aws_ecs_task_definition.this["worker"].container_definitions)[0].image
    error_message = "Both services run the same image."
  }
  assert {
    condition     = aws_ecs_task_definition.this["worker"].task_role_arn == var.worker_task_role_arn && aws_ecs_task_definition.this["api"].task_role_arn == var.api_task_role_arn
    error_message = "Each service runs as its own role."
  }
  assert {
    condition     = contains(jsondecode(aws_ecs_task_definition.this["api"].container_definitions)[0].secrets, { name = "CONVEYOR_API_KEYS", valueFrom = "arn:aws:secretsmanager:us-west-2:123456789012:secret:s-AbC:api_keys::" })
    error_message = "Secrets are injected from Secrets Manager, not written in the task definition."
  }
}

run "rollback_and_load_balancer" {
  command = plan
  assert {
    condition     = alltrue([for s in values(aws_ecs_service.this) : s.deployment_circuit_breaker[0].enable && s.deployment_circuit_breaker[0].rollback])
    error_message = "A failed deployment must roll back."
  }
  assert {
    condition     = length(aws_ecs_service.this["api"].load_balancer) == 1 && length(aws_ecs_service.this["worker"].load_balancer) == 0
    error_message = "Only the API sits behind the load balancer."
  }
  assert {
    condition     = aws_cloudwatch_log_group.this.name == "/ecs/mht-api-staging" && aws_cloudwatch_log_group.this.retention_in_days == 30
    error_message = "Logs go to /ecs/{instance}-{env}."
  }
}

run "autoscaling_on_cpu_and_memory" {
  command = plan
  assert {
    condition     = aws_appautoscaling_target.this["api"].min_capacity == 2 && aws_appautoscaling_target.this["api"].max_capacity == 4 && aws_appautoscaling_target.this["worker"].max_capacity == 3
    error_message = "Each service scales between its min and max."
  }
  assert {
    condition     = [for k in ["api-cpu", "api-memory"] : aws_appautoscaling_policy.this[k].target_tracking_scaling_policy_configuration[0].target_value] == [70, 80]
    error_message = "Scaling keeps CPU at 70% and memory at 80%, as the seeds say."
  }
}

run "counts_must_be_ordered" {
  command = plan
  variables {
    services = {
      api    = { cpu = 256, memory = 512, desired_count = 5, min_count = 1, max_count = 4 }
      worker = { cpu = 256, memory = 512, desired_count = 1, min_count = 1, max_count = 4 }
    }
  }
  expect_failures = [var.services]
}

run "example_plans" {
  command = plan
  module {
    source = "./examples/complete"
  }
}

run "rolled_by_ecs_unless_blue_green" {
  command = plan
  assert {
    condition     = length(aws_ecs_service.api_blue_green) == 0 && length(aws_codedeploy_deployment_group.api) == 0 && output.codedeploy == null
    error_message = "Without blue_green, ECS rolls the API (staging)."
  }
}

run "blue_green_through_codedeploy" {
  command = plan
  variables {
    blue_green = {
      listener_arns      = ["arn:aws:elasticloadbalancing:us-west-2:123456789012:listener/app/mht-api-production-alb/abc/def"]
      target_group_names = ["mht-api-production-api", "mht-api-production-api-green"]
    }
  }
  assert {
    condition     = keys(aws_ecs_service.this) == ["worker"] && aws_ecs_service.api_blue_green[0].name == "mht-api-staging-api" && aws_ecs_service.api_blue_green[0].deployment_controller[0].type == "CODE_DEPLOY"
    error_message = "CodeDeploy deploys the API; ECS still rolls the worker."
  }
  assert {
    condition     = aws_codedeploy_app.api[0].compute_platform == "ECS" && aws_codedeploy_deployment_group.api[0].deployment_style[0].deployment_type == "BLUE_GREEN" && aws_codedeploy_deployment_group.api[0].deployment_style[0].deployment_option == "WITH_TRAFFIC_CONTROL"
    error_message = "Blue/green with traffic control, on ECS."
  }
  assert {
    condition     = aws_codedeploy_deployment_group.api[0].auto_rollback_configuration[0].enabled && contains(aws_codedeploy_deployment_group.api[0].auto_rollback_configuration[0].events, "DEPLOYMENT_FAILURE")
    error_message = "A failed deployment rolls back by itself."
  }
  assert {
    condition     = aws_codedeploy_deployment_group.api[0].blue_green_deployment_config[0].terminate_blue_instances_on_deployment_success[0].termination_wait_time_in_minutes == 5
    error_message = "The seed's 5-minute rollback window: the old tasks stay 5 minutes after the switch."
  }
  assert {
    condition     = [for g in aws_codedeploy_deployment_group.api[0].load_balancer_info[0].target_group_pair_info[0].target_group : g.name] == ["mht-api-production-api", "mht-api-production-api-green"]
    error_message = "Both target groups, blue first."
  }
  assert {
    condition     = output.service_names == { api = "mht-api-staging-api", worker = "mht-api-staging-worker" }
    error_message = "Both services are still named, whoever deploys them."
  }
}

run "blue_green_needs_two_groups" {
  command = plan
  variables {
    blue_green = {
      listener_arns      = ["arn:aws:elasticloadbalancing:us-west-2:123456789012:listener/app/x/abc/def"]
      target_group_names = ["only-one"]
    }
  }
  expect_failures = [var.blue_green]
}

run "the_api_alone_under_its_own_name" {
  command = plan
  variables {
    worker_task_role_arn = null
    services = {
      api = { cpu = 256, memory = 512, desired_count = 1, min_count = 1, max_count = 4 }
    }
    service_names = { api = "snsd-production-service" }
  }
  assert {
    condition     = keys(aws_ecs_service.this) == ["api"] && keys(aws_ecs_task_definition.this) == ["api"] && output.service_names == { api = "snsd-production-service" }
    error_message = "Without a worker, one service: the API, named as asked."
  }
  assert {
    condition     = keys(aws_appautoscaling_target.this) == ["api"] && aws_appautoscaling_target.this["api"].resource_id == "service/mht-api-staging-cluster/snsd-production-service"
    error_message = "Autoscaling follows the service's own name."
  }
}
