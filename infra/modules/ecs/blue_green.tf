# Blue/green deployments of the API through CodeDeploy (var.blue_green). ECS hands the service's
# deployments to CodeDeploy (deployment controller CODE_DEPLOY): a new task set starts on the
# idle target group, the listeners switch to it when its tasks are healthy, and the old task set
# stays for the rollback window. ECS's own circuit breaker does not apply under CodeDeploy;
# CodeDeploy's automatic rollback takes its place.

locals {
  blue_green = var.blue_green != null
}

resource "aws_ecs_service" "api_blue_green" {
  count = local.blue_green ? 1 : 0

  name            = local.service_names["api"]
  cluster         = aws_ecs_cluster.this.id
  task_definition = aws_ecs_task_definition.this["api"].arn
  desired_count   = local.roles.api.size.desired_count
  launch_type     = "FARGATE"

  deployment_controller {
    type = "CODE_DEPLOY"
  }

  network_configuration {
    subnets          = var.private_subnet_ids
    security_groups  = [aws_security_group.tasks.id]
    assign_public_ip = false
  }

  deployment_minimum_healthy_percent = 100
  deployment_maximum_percent         = 200

  load_balancer {
    target_group_arn = var.target_group_arn
    container_name   = "api"
    container_port   = var.container_port
  }

  health_check_grace_period_seconds = 30

  # CodeDeploy owns the task definition and the target group from the first deployment on
  # (scripts/deploy-environment.sh starts it); autoscaling owns the count.
  lifecycle {
    ignore_changes = [desired_count, task_definition, load_balancer]
  }

  tags = var.tags
}

data "aws_iam_policy_document" "codedeploy_assume" {
  count = local.blue_green ? 1 : 0
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["codedeploy.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "codedeploy" {
  count              = local.blue_green ? 1 : 0
  name               = "${var.name}-codedeploy"
  assume_role_policy = data.aws_iam_policy_document.codedeploy_assume[0].json
  tags               = var.tags
}

resource "aws_iam_role_policy_attachment" "codedeploy" {
  count      = local.blue_green ? 1 : 0
  role       = aws_iam_role.codedeploy[0].name
  policy_arn = "arn:aws:iam::aws:policy/AWSCodeDeployRoleForECS"
}

resource "aws_codedeploy_app" "api" {
  count            = local.blue_green ? 1 : 0
  name             = "${var.name}-api"
  compute_platform = "ECS"
  tags             = var.tags
}

resource "aws_codedeploy_deployment_group" "api" {
  count = local.blue_green ? 1 : 0

  app_name               = aws_codedeploy_app.api[0].name
  deployment_group_name  = "${var.name}-api"
  service_role_arn       = aws_iam_role.codedeploy[0].arn
  deployment_config_name = "CodeDeployDefault.ECSAllAtOnce"

  deployment_style {
    deployment_type   = "BLUE_GREEN"
    deployment_option = "WITH_TRAFFIC_CONTROL"
  }

  blue_green_deployment_config {
    deployment_ready_option {
      action_on_timeout = "CONTINUE_DEPLOYMENT"
    }
    terminate_blue_instances_on_deployment_success {
      action                           = "TERMINATE"
      termination_wait_time_in_minutes = var.blue_green.rollback_window_minutes
    }
  }

  auto_rollback_configuration {
    enabled = true
    events  = length(var.blue_green.rollback_alarm_names) > 0 ? ["DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM"] : ["DEPLOYMENT_FAILURE"]
  }

  dynamic "alarm_configuration" {
    for_each = length(var.blue_green.rollback_alarm_names) > 0 ? [1] : []
    content {
      enabled = true
      alarms  = var.blue_green.rollback_alarm_names
    }
  }

  ecs_service {
    cluster_name = aws_ecs_cluster.this.name
    service_name = aws_ecs_service.api_blue_green[0].name
  }

  load_balancer_info {
    target_group_pair_info {
      prod_traffic_route {
        listener_arns = var.blue_green.listener_arns
      }
      dynamic "target_group" {
        for_each = var.blue_green.target_group_names
        content {
          name = target_group.value
        }
      }
    }
  }

  tags = var.tags
}
