locals {
  prefix = var.queue_prefix != "" ? var.queue_prefix : var.omit_environment_in_names ? "${var.instance_name}-${var.use_case}" : "${var.instance_name}-${var.environment}-${var.use_case}"

  queues = { for key, q in var.queues : key => merge(q, {
    name     = "${local.prefix}-${key}${q.fifo ? ".fifo" : ""}"
    dlq_name = "${local.prefix}-${key}-dlq${q.fifo ? ".fifo" : ""}"
  }) }

  # The tags `conveyor provision` reads to tell whose queue it is: with them, provision finds
  # these queues its own and changes nothing.
  tags = merge(var.tags, {
    "conveyor:environment" = var.environment
    "conveyor:instance"    = var.instance_name
    "conveyor:use-case"    = var.use_case
  })
}

check "queue_name_length" {
  assert {
    condition     = alltrue([for q in local.queues : length(q.dlq_name) <= 80])
    error_message = "A queue name is longer than SQS's 80 characters: shorten instance_name, use_case or the queue key."
  }
}

resource "aws_sqs_queue" "dlq" {
  for_each = local.queues

  name                      = each.value.dlq_name
  fifo_queue                = each.value.fifo
  message_retention_seconds = each.value.dlq_retention_seconds

  sqs_managed_sse_enabled           = var.kms_master_key_id == null ? true : null
  kms_master_key_id                 = var.kms_master_key_id
  kms_data_key_reuse_period_seconds = var.kms_master_key_id == null ? null : var.kms_data_key_reuse_period_seconds

  tags = local.tags
}

resource "aws_sqs_queue" "this" {
  for_each = local.queues

  name                        = each.value.name
  fifo_queue                  = each.value.fifo
  content_based_deduplication = each.value.fifo ? each.value.content_based_deduplication : null
  deduplication_scope         = each.value.fifo ? (each.value.high_throughput ? "messageGroup" : "queue") : null
  fifo_throughput_limit       = each.value.fifo ? (each.value.high_throughput ? "perMessageGroupId" : "perQueue") : null
  message_retention_seconds   = each.value.message_retention_seconds
  visibility_timeout_seconds  = each.value.visibility_timeout_seconds
  delay_seconds               = each.value.delay_seconds
  receive_wait_time_seconds   = each.value.receive_wait_time_seconds
  max_message_size            = each.value.max_message_size

  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.dlq[each.key].arn
    maxReceiveCount     = each.value.max_receive_count
  })

  sqs_managed_sse_enabled           = var.kms_master_key_id == null ? true : null
  kms_master_key_id                 = var.kms_master_key_id
  kms_data_key_reuse_period_seconds = var.kms_master_key_id == null ? null : var.kms_data_key_reuse_period_seconds

  tags = local.tags
}

resource "aws_sqs_queue_redrive_allow_policy" "dlq" {
  for_each  = var.create_redrive_allow_policy ? local.queues : {}
  queue_url = aws_sqs_queue.dlq[each.key].id
  redrive_allow_policy = jsonencode({
    redrivePermission = "byQueue"
    sourceQueueArns   = [aws_sqs_queue.this[each.key].arn]
  })
}
