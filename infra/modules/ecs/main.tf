data "aws_region" "current" {}

locals {
  log_group = "/ecs/${var.name}"
  # One image, two roles: the API answers at once and enqueues, the workers drain the queues.
  roles = { for role, r in {
    api = {
      command   = ["api"]
      task_role = var.api_task_role_arn
      size      = var.services.api
    }
    worker = {
      command   = ["worker"]
      task_role = var.worker_task_role_arn
      size      = var.services.worker
    }
  } : role => r if r.size != null }
  service_names = { for role, _ in local.roles : role => lookup(var.service_names, role, "${var.name}-${role}") }
  environment = merge(var.environment_variables, {
    CONVEYOR_LISTEN     = "0.0.0.0:${var.container_port}"
    CONVEYOR_SQS_LISTEN = "off"
  })
}

resource "aws_ecs_cluster" "this" {
  name = "${var.name}-cluster"
  setting {
    name  = "containerInsights"
    value = var.enable_container_insights ? "enabled" : "disabled"
  }
  tags = var.tags
}

resource "aws_cloudwatch_log_group" "this" {
  name              = local.log_group
  retention_in_days = var.log_retention_days
  tags              = var.tags
}

resource "aws_security_group" "tasks" {
  name        = "${var.name}-tasks"
  description = "Conveyor tasks of ${var.name}: the API port from the load balancer only; out to AWS and webhooks."
  vpc_id      = var.vpc_id
  tags        = merge(var.tags, { Name = "${var.name}-tasks" })
}

resource "aws_vpc_security_group_ingress_rule" "api_from_alb" {
  security_group_id            = aws_security_group.tasks.id
  referenced_security_group_id = var.alb_security_group_id
  ip_protocol                  = "tcp"
  from_port                    = var.container_port
  to_port                      = var.container_port
  description                  = "The API, from the load balancer"
}

resource "aws_vpc_security_group_egress_rule" "https_out" {
  security_group_id = aws_security_group.tasks.id
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  description       = "AWS APIs, webhooks, email and ticketing providers"
}

resource "aws_ecs_task_definition" "this" {
  for_each = local.roles

  family                   = "${var.name}-${each.key}"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = each.value.size.cpu
  memory                   = each.value.size.memory
  execution_role_arn       = var.execution_role_arn
  task_role_arn            = each.value.task_role

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = "X86_64"
  }

  container_definitions = jsonencode([{
    name         = each.key
    image        = var.image
    essential    = true
    command      = each.value.command
    portMappings = each.key == "api" ? [{ containerPort = var.container_port, protocol = "tcp" }] : []
    environment  = [for k, v in local.environment : { name = k, value = v }]
    secrets      = [for k, v in var.secrets : { name = k, valueFrom = v }]
    # Conveyor finishes in-flight messages on SIGTERM; ECS waits this long before SIGKILL.
    stopTimeout = 60
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        "awslogs-group"         = aws_cloudwatch_log_group.this.name
        "awslogs-region"        = data.aws_region.current.name
        "awslogs-stream-prefix" = each.key
      }
    }
  }])

  tags = var.tags
}

resource "aws_ecs_service" "this" {
  # With blue/green on, CodeDeploy deploys the API (blue_green.tf) and ECS rolls the worker.
  for_each = { for role, r in local.roles : role => r if !(role == "api" && local.blue_green) }

  name            = local.service_names[each.key]
  cluster         = aws_ecs_cluster.this.id
  task_definition = aws_ecs_task_definition.this[each.key].arn
  desired_count   = each.value.size.desired_count
  launch_type     = "FARGATE"

  network_configuration {
    subnets          = var.private_subnet_ids
    security_groups  = [aws_security_group.tasks.id]
    assign_public_ip = false
  }

  # A deployment whose tasks never become healthy is rolled back to the last good one.
  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }
  deployment_minimum_healthy_percent = 100
  deployment_maximum_percent         = 200

  dynamic "load_balancer" {
    for_each = each.key == "api" ? [1] : []
    content {
      target_group_arn = var.target_group_arn
      container_name   = "api"
      container_port   = var.container_port
    }
  }

  health_check_grace_period_seconds = each.key == "api" ? 30 : null

  # Autoscaling owns the task count once the service exists.
  lifecycle {
    ignore_changes = [desired_count]
  }

  tags = var.tags
}

resource "aws_appautoscaling_target" "this" {
  for_each   = var.create_autoscaling ? local.roles : {}
  depends_on = [aws_ecs_service.this, aws_ecs_service.api_blue_green]

  service_namespace  = "ecs"
  resource_id        = "service/${aws_ecs_cluster.this.name}/${local.service_names[each.key]}"
  scalable_dimension = "ecs:service:DesiredCount"
  min_capacity       = each.value.size.min_count
  max_capacity       = each.value.size.max_count
}

resource "aws_appautoscaling_policy" "this" {
  for_each = var.create_autoscaling ? merge([for role, _ in local.roles : {
    "${role}-cpu"    = { role = role, metric = "ECSServiceAverageCPUUtilization", target = var.cpu_target_percent }
    "${role}-memory" = { role = role, metric = "ECSServiceAverageMemoryUtilization", target = var.memory_target_percent }
  }]...) : {}

  name               = "${var.name}-${each.key}"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.this[each.value.role].service_namespace
  resource_id        = aws_appautoscaling_target.this[each.value.role].resource_id
  scalable_dimension = aws_appautoscaling_target.this[each.value.role].scalable_dimension

  target_tracking_scaling_policy_configuration {
    target_value       = each.value.target
    scale_out_cooldown = var.scale_out_cooldown
    scale_in_cooldown  = var.scale_in_cooldown
    predefined_metric_specification {
      predefined_metric_type = each.value.metric
    }
  }
}
