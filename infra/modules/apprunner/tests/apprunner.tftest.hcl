mock_provider "aws" {
  mock_data "aws_iam_policy_document" {
    defaults = {
      json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}"
    }
  }
}

variables {
  name_prefix         = "migrationai"
  ecr_repository_arns = ["arn:aws:ecr:us-west-2:123456789012:repository/prod/migrationai-frontend"]
  services = {
    "migrationai-frontend"       = { image_uri = "123456789012.dkr.ecr.us-west-2.amazonaws.com/prod/migrationai-frontend:1", port = 3000 }
    "migrationai-admin-frontend" = { image_uri = "123456789012.dkr.ecr.us-west-2.amazonaws.com/prod/migrationai-admin-frontend:1" }
  }
}

run "services_from_ecr_images_scaled_by_one_configuration" {
  command = plan
  assert {
    condition     = toset(keys(aws_apprunner_service.this)) == toset(["migrationai-frontend", "migrationai-admin-frontend"])
    error_message = "A service per map entry."
  }
  assert {
    condition     = aws_apprunner_service.this["migrationai-frontend"].source_configuration[0].image_repository[0].image_repository_type == "ECR" && aws_apprunner_service.this["migrationai-frontend"].source_configuration[0].image_repository[0].image_configuration[0].port == "3000"
    error_message = "Private ECR images, on the port each names."
  }
  assert {
    condition     = aws_apprunner_auto_scaling_configuration_version.this.min_size == 1 && aws_apprunner_auto_scaling_configuration_version.this.max_size == 4
    error_message = "Auto scaling between min_size and max_size."
  }
}

run "the_access_role_pulls_only_the_named_repositories" {
  command = plan
  assert {
    condition     = [for s in data.aws_iam_policy_document.pull.statement : s.resources if s.sid == "Pull"][0] == toset(["arn:aws:ecr:us-west-2:123456789012:repository/prod/migrationai-frontend"])
    error_message = "App Runner pulls from the given repositories only."
  }
}

run "example_plans" {
  command = plan
  module {
    source = "./examples/complete"
  }
}
