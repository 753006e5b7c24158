data "aws_partition" "current" {}

locals {
  name = "${var.instance_name}-${var.environment}"

  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = var.trusted_services }
      Action    = "sts:AssumeRole"
    }]
  })

  # HeadBucket (Conveyor checks its bucket at start) needs s3:ListBucket on the bucket itself.
  lookup_statements = [
    {
      Sid      = "LookUpQueues"
      Effect   = "Allow"
      Action   = ["sqs:GetQueueUrl", "sqs:GetQueueAttributes", "sqs:ListQueueTags"]
      Resource = concat(var.queue_arns, var.dlq_arns)
    },
    {
      Sid      = "FindBucket"
      Effect   = "Allow"
      Action   = ["s3:ListBucket"]
      Resource = [var.bucket_arn]
    },
  ]

  kms_statements = length(var.kms_key_arns) == 0 ? [] : [{
    Sid      = "UseEncryptionKeys"
    Effect   = "Allow"
    Action   = ["kms:Decrypt", "kms:GenerateDataKey"]
    Resource = var.kms_key_arns
  }]

  admin_statements = var.allow_admin_operations ? [{
    Sid    = "OperateQueues"
    Effect = "Allow"
    Action = [
      "sqs:SendMessage", "sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility",
      "sqs:PurgeQueue", "sqs:StartMessageMoveTask", "sqs:ListMessageMoveTasks",
    ]
    Resource = concat(var.queue_arns, var.dlq_arns)
  }] : []

  # IAM refuses a statement without resources: a system without queues (SnSD) drops the queue ones.
  api_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [for st in concat(local.lookup_statements, local.kms_statements, local.admin_statements, [
      {
        Sid      = "SendWork"
        Effect   = "Allow"
        Action   = ["sqs:SendMessage"]
        Resource = var.queue_arns
      },
      {
        Sid    = "ReadWriteOwnPrefixes"
        Effect = "Allow"
        Action = [
          "s3:GetObject", "s3:PutObject", "s3:DeleteObject",
          "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts",
        ]
        Resource = [for p in var.api_object_prefixes : "${var.bucket_arn}/${p}*"]
      },
    ]) : st if length(st.Resource) > 0]
  })

  worker_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [for st in concat(local.lookup_statements, local.kms_statements, [
      {
        Sid      = "ConsumeWork"
        Effect   = "Allow"
        Action   = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility"]
        Resource = var.queue_arns
      },
      {
        Sid      = "WriteResults"
        Effect   = "Allow"
        Action   = ["s3:PutObject", "s3:AbortMultipartUpload"]
        Resource = [for p in var.worker_object_prefixes : "${var.bucket_arn}/${p}*"]
      },
    ]) : st if length(st.Resource) > 0]
  })
}

resource "aws_iam_role" "api" {
  count              = var.create_api_role ? 1 : 0
  name               = "${local.name}-api-role"
  description        = "Conveyor API of ${local.name}: sends to its queues, reads and writes its bucket prefixes."
  assume_role_policy = local.assume_role_policy
  tags               = var.tags
}

resource "aws_iam_role_policy" "api" {
  count  = var.create_api_role ? 1 : 0
  name   = "${local.name}-api"
  role   = aws_iam_role.api[0].id
  policy = local.api_policy
}

resource "aws_iam_role" "worker" {
  count              = var.create_worker_role ? 1 : 0
  name               = "${local.name}-worker-role"
  description        = "Conveyor workers of ${local.name}: receive and delete from its queues, write results."
  assume_role_policy = local.assume_role_policy
  tags               = var.tags
}

resource "aws_iam_role_policy" "worker" {
  count  = var.create_worker_role ? 1 : 0
  name   = "${local.name}-worker"
  role   = aws_iam_role.worker[0].id
  policy = local.worker_policy
}

resource "aws_iam_role" "task_execution" {
  count              = var.create_task_execution_role ? 1 : 0
  name               = "${local.name}-task-execution-role"
  description        = "ECS pulls the image, writes logs and injects the secrets of ${local.name}."
  assume_role_policy = local.assume_role_policy
  tags               = var.tags
}

resource "aws_iam_role_policy_attachment" "task_execution" {
  count      = var.create_task_execution_role ? 1 : 0
  role       = aws_iam_role.task_execution[0].name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
}

resource "aws_iam_role_policy" "task_execution_secrets" {
  count = var.create_task_execution_role && length(var.secret_arns) > 0 ? 1 : 0
  name  = "${local.name}-read-secrets"
  role  = aws_iam_role.task_execution[0].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid      = "ReadOwnSecrets"
      Effect   = "Allow"
      Action   = ["secretsmanager:GetSecretValue"]
      Resource = var.secret_arns
    }]
  })
}
