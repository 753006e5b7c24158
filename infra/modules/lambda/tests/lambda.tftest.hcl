mock_provider "aws" {
  mock_data "aws_iam_policy_document" {
    defaults = {
      json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}"
    }
  }
}

variables {
  name_prefix         = "migrationai"
  subnet_ids          = ["subnet-a", "subnet-b"]
  security_group_ids  = ["sg-backend"]
  ecr_repository_arns = ["arn:aws:ecr:us-west-2:123456789012:repository/prod/migrationai-workers"]
  functions = {
    contacts = {
      image_uri                = "123456789012.dkr.ecr.us-west-2.amazonaws.com/prod/migrationai-workers:1"
      command                  = ["contacts.handler"]
      queue_arn                = "arn:aws:sqs:us-west-2:123456789012:prod-migrationai-contacts"
      queue_visibility_seconds = 1800
      maximum_concurrency      = 5
    }
    deals = {
      image_uri                = "123456789012.dkr.ecr.us-west-2.amazonaws.com/prod/migrationai-workers:1"
      command                  = ["deals.handler"]
      queue_arn                = "arn:aws:sqs:us-west-2:123456789012:prod-migrationai-deals"
      queue_visibility_seconds = 1800
      batch_size               = 100
      batching_window_seconds  = 5
    }
  }
}

run "one_function_per_queue_as_the_seed_runs_them" {
  command = plan
  assert {
    condition     = toset(keys(aws_lambda_function.this)) == toset(["contacts", "deals"]) && aws_lambda_function.this["contacts"].function_name == "migrationai-contacts"
    error_message = "A function per map entry, named {prefix}-{key}."
  }
  assert {
    condition     = aws_lambda_function.this["contacts"].package_type == "Image" && aws_lambda_function.this["contacts"].timeout == 300 && aws_lambda_function.this["contacts"].memory_size == 512
    error_message = "The seed's functions: container images, 300 s, 512 MB."
  }
  assert {
    condition     = aws_lambda_function.this["deals"].image_config[0].command == tolist(["deals.handler"])
    error_message = "One image, each function its own command."
  }
  assert {
    condition     = aws_lambda_function.this["contacts"].vpc_config[0].subnet_ids == toset(["subnet-a", "subnet-b"]) && length(aws_iam_role_policy_attachment.vpc) == 2
    error_message = "In subnets, with the managed policy for the network interfaces."
  }
}

run "each_trigger_reports_batch_item_failures" {
  command = plan
  assert {
    condition     = aws_lambda_event_source_mapping.this["contacts"].function_response_types == toset(["ReportBatchItemFailures"])
    error_message = "Partial batch responses: only the failed messages are retried."
  }
  assert {
    condition     = aws_lambda_event_source_mapping.this["contacts"].scaling_config[0].maximum_concurrency == 5 && length(aws_lambda_event_source_mapping.this["deals"].scaling_config) == 0
    error_message = "maximum_concurrency is set only where given."
  }
  assert {
    condition     = aws_lambda_event_source_mapping.this["deals"].batch_size == 100 && aws_lambda_event_source_mapping.this["deals"].maximum_batching_window_in_seconds == 5
    error_message = "Batch size and window as given."
  }
  assert {
    condition     = aws_cloudwatch_log_group.this["contacts"].name == "/aws/lambda/migrationai-contacts" && aws_cloudwatch_log_group.this["contacts"].retention_in_days == 30
    error_message = "A log group per function, with retention."
  }
}

run "each_role_reaches_only_its_own_queue" {
  command = plan
  override_data {
    target = data.aws_iam_policy_document.function["contacts"]
    values = {
      json = "{}"
    }
  }
  assert {
    condition     = [for s in data.aws_iam_policy_document.function["contacts"].statement : s.resources if s.sid == "ItsQueue"][0] == toset(["arn:aws:sqs:us-west-2:123456789012:prod-migrationai-contacts"])
    error_message = "A function's role names its own queue only."
  }
  assert {
    condition     = [for s in data.aws_iam_policy_document.function["deals"].statement : s.resources if s.sid == "ItsImages"][0] == toset(["arn:aws:ecr:us-west-2:123456789012:repository/prod/migrationai-workers"])
    error_message = "Images are pulled only from the given repositories."
  }
}

run "the_seeds_120_s_visibility_cannot_trigger_a_300_s_function" {
  command = plan
  variables {
    functions = {
      contacts = {
        image_uri                = "x"
        queue_arn                = "arn:aws:sqs:us-west-2:123456789012:prod-migrationai-contacts"
        queue_visibility_seconds = 120
      }
    }
  }
  expect_failures = [var.functions]
}

run "a_large_batch_needs_a_window" {
  command = plan
  variables {
    functions = {
      deals = {
        image_uri                = "x"
        queue_arn                = "arn:aws:sqs:us-west-2:123456789012:prod-migrationai-deals"
        queue_visibility_seconds = 1800
        batch_size               = 100
      }
    }
  }
  expect_failures = [var.functions]
}

run "example_plans" {
  command = plan
  module {
    source = "./examples/complete"
  }
}
