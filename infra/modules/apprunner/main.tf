# Web front ends on App Runner, as the MigrationAI seed serves them: each service an ECR image,
# HTTPS by App Runner, scaled by concurrent requests, pulling through an access role limited to
# the given repositories.

data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["build.apprunner.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "access" {
  name               = "${var.name_prefix}-apprunner-access"
  assume_role_policy = data.aws_iam_policy_document.assume.json
  tags               = var.tags
}

data "aws_iam_policy_document" "pull" {
  statement {
    sid       = "Login"
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"]
  }
  statement {
    sid       = "Pull"
    actions   = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability", "ecr:DescribeImages"]
    resources = var.ecr_repository_arns
  }
}

resource "aws_iam_role_policy" "pull" {
  name   = "pull-images"
  role   = aws_iam_role.access.id
  policy = data.aws_iam_policy_document.pull.json
}

resource "aws_apprunner_auto_scaling_configuration_version" "this" {
  auto_scaling_configuration_name = substr("${var.name_prefix}-scaling", 0, 32)
  min_size                        = var.min_size
  max_size                        = var.max_size
  max_concurrency                 = var.max_concurrency
  tags                            = var.tags
}

resource "aws_apprunner_service" "this" {
  for_each                       = var.services
  service_name                   = each.key
  auto_scaling_configuration_arn = aws_apprunner_auto_scaling_configuration_version.this.arn

  source_configuration {
    auto_deployments_enabled = each.value.auto_deploy
    authentication_configuration {
      access_role_arn = aws_iam_role.access.arn
    }
    image_repository {
      image_identifier      = each.value.image_uri
      image_repository_type = "ECR"
      image_configuration {
        port                          = tostring(each.value.port)
        runtime_environment_variables = each.value.environment
      }
    }
  }

  instance_configuration {
    cpu    = each.value.cpu
    memory = each.value.memory
  }

  health_check_configuration {
    protocol = "HTTP"
    path     = each.value.health_path
  }

  tags       = var.tags
  depends_on = [aws_iam_role_policy.pull]
}
