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
  ami_id              = "ami-0123456789abcdef0"
  ecr_repository_arns = ["arn:aws:ecr:us-west-2:123456789012:repository/prod/migrationai-backend-api"]
  instances = {
    "migrationai-backend" = {}
    "migrationai-tfp"     = { subnet_index = 1 }
  }
}

run "private_ssm_reached_encrypted_servers_as_the_seed_lists_them" {
  command = plan
  assert {
    condition     = alltrue([for i in aws_instance.this : i.instance_type == "t3a.large" && i.root_block_device[0].volume_size == 153 && i.root_block_device[0].encrypted])
    error_message = "The seed's t3a.large with 153 GB, encrypted."
  }
  assert {
    condition     = alltrue([for i in aws_instance.this : i.associate_public_ip_address == false && i.metadata_options[0].http_tokens == "required"])
    error_message = "No public address; IMDSv2 only."
  }
  assert {
    condition     = aws_instance.this["migrationai-tfp"].subnet_id == "subnet-b" && aws_instance.this["migrationai-backend"].subnet_id == "subnet-a"
    error_message = "Each instance in the subnet it names."
  }
  assert {
    condition     = aws_iam_role_policy_attachment.ssm.policy_arn == "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore" && length(aws_iam_role_policy.pull) == 1
    error_message = "Session Manager instead of SSH, and image pulls from ECR."
  }
  assert {
    condition     = strcontains(aws_instance.this["migrationai-backend"].user_data, "systemctl enable --now docker")
    error_message = "Docker is installed and started at first boot."
  }
}

run "pulls_only_from_the_named_repositories" {
  command = plan
  assert {
    condition     = [for s in data.aws_iam_policy_document.pull.statement : s.resources if s.sid == "Pull"][0] == toset(["arn:aws:ecr:us-west-2:123456789012:repository/prod/migrationai-backend-api"])
    error_message = "The instances pull from the given repositories only."
  }
}

run "example_plans" {
  command = plan
  module {
    source = "./examples/complete"
  }
}
