mock_provider "aws" {
  mock_data "aws_partition" {
    defaults = { partition = "aws" }
  }
}

variables {
  instance_name = "mht-api"
  environment   = "staging"
  queue_arns    = ["arn:aws:sqs:us-west-2:123456789012:mht-api-staging-api-processing-feedback.fifo"]
  dlq_arns      = ["arn:aws:sqs:us-west-2:123456789012:mht-api-staging-api-processing-feedback-dlq.fifo"]
  bucket_arn    = "arn:aws:s3:::mht-api-staging-data-collection-0a1b2c3d"
  secret_arns   = ["arn:aws:secretsmanager:us-west-2:123456789012:secret:mht-api-staging-secrets-AbCdEf"]
}

run "roles_follow_the_white_label_pattern" {
  command = plan
  assert {
    condition     = aws_iam_role.api[0].name == "mht-api-staging-api-role" && aws_iam_role.worker[0].name == "mht-api-staging-worker-role" && aws_iam_role.task_execution[0].name == "mht-api-staging-task-execution-role"
    error_message = "Roles must be {instance}-{env}-{role}-role."
  }
  assert {
    condition     = jsondecode(aws_iam_role.api[0].assume_role_policy).Statement[0].Principal.Service == ["ecs-tasks.amazonaws.com"]
    error_message = "Only ECS tasks may assume the roles by default."
  }
}

run "least_privilege" {
  command = plan

  assert {
    condition = { for s in jsondecode(aws_iam_role_policy.api[0].policy).Statement : s.Sid => s.Action } == {
      LookUpQueues         = ["sqs:GetQueueUrl", "sqs:GetQueueAttributes", "sqs:ListQueueTags"]
      FindBucket           = ["s3:ListBucket"]
      SendWork             = ["sqs:SendMessage"]
      ReadWriteOwnPrefixes = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"]
    }
    error_message = "The API may send work and use its own prefixes, nothing else."
  }
  assert {
    condition = { for s in jsondecode(aws_iam_role_policy.worker[0].policy).Statement : s.Sid => s.Action } == {
      LookUpQueues = ["sqs:GetQueueUrl", "sqs:GetQueueAttributes", "sqs:ListQueueTags"]
      FindBucket   = ["s3:ListBucket"]
      ConsumeWork  = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility"]
      WriteResults = ["s3:PutObject", "s3:AbortMultipartUpload"]
    }
    error_message = "The workers may consume work and write results, nothing else."
  }
  assert {
    condition     = { for s in jsondecode(aws_iam_role_policy.worker[0].policy).Statement : s.Sid => s.Resource }["WriteResults"] == ["arn:aws:s3:::mht-api-staging-data-collection-0a1b2c3d/results/*", "arn:aws:s3:::mht-api-staging-data-collection-0a1b2c3d/events/*"]
    error_message = "The workers write under results/ and events/ only."
  }
  assert {
    condition     = tolist({ for s in jsondecode(aws_iam_role_policy.api[0].policy).Statement : s.Sid => s.Resource }["SendWork"]) == var.queue_arns
    error_message = "The API sends to the work queues only, never straight to a dead-letter queue."
  }
  assert {
    condition     = alltrue([for p in [aws_iam_role_policy.api[0].policy, aws_iam_role_policy.worker[0].policy] : !strcontains(p, "\"*\"") && !strcontains(p, ":*\"")])
    error_message = "No wildcard actions or resources."
  }
  assert {
    condition     = tolist(jsondecode(aws_iam_role_policy.task_execution_secrets[0].policy).Statement[0].Resource) == var.secret_arns
    error_message = "The execution role reads this environment's secret only."
  }
}

run "kms_keys_when_given" {
  command = plan
  variables {
    kms_key_arns = ["arn:aws:kms:us-west-2:123456789012:key/abc"]
  }
  assert {
    condition     = contains([for s in jsondecode(aws_iam_role_policy.worker[0].policy).Statement : s.Sid], "UseEncryptionKeys")
    error_message = "With KMS keys the roles must be able to use them."
  }
}

run "admin_operations_only_when_asked" {
  command = plan
  variables {
    allow_admin_operations = true
  }
  assert {
    condition     = tolist({ for s in jsondecode(aws_iam_role_policy.api[0].policy).Statement : s.Sid => s.Resource }["OperateQueues"]) == concat(var.queue_arns, var.dlq_arns)
    error_message = "allow_admin_operations lets the API operate its own queues and dead-letter queues, no others."
  }
  assert {
    condition     = !contains([for s in jsondecode(aws_iam_role_policy.worker[0].policy).Statement : s.Sid], "OperateQueues")
    error_message = "The workers never get admin operations."
  }
}

run "roles_switch_off" {
  command = plan
  variables {
    create_api_role            = false
    create_task_execution_role = false
  }
  assert {
    condition     = length(aws_iam_role.api) == 0 && length(aws_iam_role.task_execution) == 0 && length(aws_iam_role.worker) == 1
    error_message = "create_* flags must switch their roles off."
  }
}

run "example_plans" {
  command = plan
  module {
    source = "./examples/complete"
  }
}

run "no_queues_no_queue_statements" {
  command = plan
  variables {
    queue_arns         = []
    dlq_arns           = []
    create_worker_role = false
  }
  assert {
    condition     = [for st in jsondecode(aws_iam_role_policy.api[0].policy).Statement : st.Sid] == ["FindBucket", "ReadWriteOwnPrefixes"]
    error_message = "A files-only system's API may find its bucket and use its prefixes; IAM refuses statements without resources, so the queue ones are gone."
  }
}
