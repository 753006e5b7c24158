mock_provider "aws" {
  mock_data "aws_iam_policy_document" {
    defaults = {
      json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}"
    }
  }
  mock_data "aws_region" {
    defaults = {
      name = "us-west-2"
    }
  }
  mock_data "aws_caller_identity" {
    defaults = {
      account_id = "123456789012"
    }
  }
  mock_data "aws_ssm_parameter" {
    defaults = {
      value = "ami-0123456789abcdef0"
    }
  }
}

run "the_seeds_whole_system" {
  command = plan
  assert {
    condition     = length(module.sqs.queue_names) == 13 && module.sqs.queue_names["contacts"] == "prod-migrationai-contacts" && module.sqs.dlq_names["contacts"] == "prod-migrationai-contacts-dlq"
    error_message = "13 standard queues with DLQs, named as the seed names them."
  }
  assert {
    condition     = length(module.lambda[0].function_names) == 13 && module.lambda[0].function_names["deals"] == "migrationai-deals"
    error_message = "A function per queue."
  }
  assert {
    condition     = length(module.ecr.repository_names) == 15 && module.ecr.repository_names["frontend"] == "prod/migrationai-frontend"
    error_message = "The seed's 15 repositories."
  }
  assert {
    condition     = module.network.vpc_cidr == "10.0.0.0/16" && length(module.network.private_subnet_ids) == 2
    error_message = "10.0.0.0/16 over two zones."
  }
  assert {
    condition     = length(module.ec2[0].instance_ids) == 2 && length(module.apprunner[0].service_urls) == 2
    error_message = "Two app servers and two front ends."
  }
}

run "the_backend_group_is_as_loose_as_the_seed_unless_narrowed" {
  command = plan
  assert {
    condition     = toset([for r in aws_vpc_security_group_ingress_rule.backend : r.from_port]) == toset([22, 80, 443])
    error_message = "The seed's SSH, HTTP and HTTPS."
  }
}

run "narrowed_the_backend_group_opens_nothing" {
  command = plan
  variables {
    admin_cidr_blocks = []
  }
  assert {
    condition     = length(aws_vpc_security_group_ingress_rule.backend) == 0
    error_message = "With no admin ranges, nothing reaches the backend from outside (Session Manager still does)."
  }
}
