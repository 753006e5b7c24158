# One Lambda function per queue, as the MigrationAI seed runs its workers: a container image, an
# SQS event source mapping with partial batch responses, a log group with retention, and a role
# that may read only its own queue, write only its own logs and pull only the given images.

locals {
  names     = { for key, f in var.functions : key => "${var.name_prefix}-${key}" }
  in_vpc    = length(var.subnet_ids) > 0
  can_pull  = length(var.ecr_repository_arns) > 0
  log_group = { for key, name in local.names : key => "/aws/lambda/${name}" }
}

data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "this" {
  for_each           = var.functions
  name               = "${local.names[each.key]}-lambda"
  assume_role_policy = data.aws_iam_policy_document.assume.json
  tags               = var.tags
}

data "aws_iam_policy_document" "function" {
  for_each = var.functions

  statement {
    sid       = "ItsQueue"
    actions   = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueAttributes"]
    resources = [each.value.queue_arn]
  }
  statement {
    sid       = "ItsLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.this[each.key].arn}:*"]
  }
  dynamic "statement" {
    for_each = local.can_pull ? [1] : []
    content {
      sid       = "ItsImages"
      actions   = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]
      resources = var.ecr_repository_arns
    }
  }
}

resource "aws_iam_role_policy" "this" {
  for_each = var.functions
  name     = "queue-logs-images"
  role     = aws_iam_role.this[each.key].id
  policy   = data.aws_iam_policy_document.function[each.key].json
}

# In a VPC, Lambda creates network interfaces in the subnets: AWS's managed policy for exactly that.
resource "aws_iam_role_policy_attachment" "vpc" {
  for_each   = local.in_vpc ? var.functions : {}
  role       = aws_iam_role.this[each.key].name
  policy_arn = "arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole"
}

resource "aws_cloudwatch_log_group" "this" {
  for_each          = var.functions
  name              = local.log_group[each.key]
  retention_in_days = var.log_retention_days
  tags              = var.tags
}

resource "aws_lambda_function" "this" {
  for_each      = var.functions
  function_name = local.names[each.key]
  role          = aws_iam_role.this[each.key].arn
  package_type  = "Image"
  image_uri     = each.value.image_uri
  memory_size   = each.value.memory_mb
  timeout       = each.value.timeout_seconds

  dynamic "image_config" {
    for_each = length(each.value.command) > 0 ? [1] : []
    content {
      command = each.value.command
    }
  }

  dynamic "environment" {
    for_each = length(each.value.environment) > 0 ? [1] : []
    content {
      variables = each.value.environment
    }
  }

  dynamic "vpc_config" {
    for_each = local.in_vpc ? [1] : []
    content {
      subnet_ids         = var.subnet_ids
      security_group_ids = var.security_group_ids
    }
  }

  logging_config {
    log_format = "Text"
    log_group  = aws_cloudwatch_log_group.this[each.key].name
  }

  tags       = var.tags
  depends_on = [aws_iam_role_policy.this, aws_iam_role_policy_attachment.vpc]
}

resource "aws_lambda_event_source_mapping" "this" {
  for_each                           = var.functions
  event_source_arn                   = each.value.queue_arn
  function_name                      = aws_lambda_function.this[each.key].arn
  batch_size                         = each.value.batch_size
  maximum_batching_window_in_seconds = each.value.batching_window_seconds
  function_response_types            = each.value.report_batch_item_failures ? ["ReportBatchItemFailures"] : []

  dynamic "scaling_config" {
    for_each = each.value.maximum_concurrency == null ? [] : [1]
    content {
      maximum_concurrency = each.value.maximum_concurrency
    }
  }
}
