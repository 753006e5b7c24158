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
}

variables {
  name       = "migrationai"
  repository = "amygdalas/migrationai"
  images = {
    workers = {
      repository_url = "123456789012.dkr.ecr.us-west-2.amazonaws.com/prod/migrationai-workers"
      repository_arn = "arn:aws:ecr:us-west-2:123456789012:repository/prod/migrationai-workers"
      dockerfile     = "functions/migrationai/Dockerfile"
      context        = "functions/migrationai"
    }
  }
  lambda_functions          = { "migrationai-contacts" = "workers" }
  apprunner_services        = { "migrationai-frontend" = { arn = "arn:aws:apprunner:us-west-2:123456789012:service/migrationai-frontend/1", image = "workers", port = 3000 } }
  apprunner_access_role_arn = "arn:aws:iam::123456789012:role/migrationai-apprunner-access"
  ec2_deployment            = { instance_names = ["migrationai-backend", "migrationai-tfp"] }
}

run "source_build_deploy_as_the_seed_delivers" {
  command = plan
  assert {
    condition     = [for s in aws_codepipeline.this.stage : s.name] == ["Source", "Build", "Deploy"]
    error_message = "GitHub, then the image build, then the deploys."
  }
  assert {
    condition     = aws_codepipeline.this.stage[0].action[0].provider == "CodeStarSourceConnection" && aws_codepipeline.this.stage[0].action[0].configuration.FullRepositoryId == "amygdalas/migrationai"
    error_message = "The source is the GitHub repository, through a CodeStar connection."
  }
  assert {
    condition     = toset([for a in aws_codepipeline.this.stage[2].action : a.provider]) == toset(["CodeBuild", "CodeDeploy"])
    error_message = "Functions and services through CodeBuild, the servers through CodeDeploy."
  }
  assert {
    condition     = aws_codebuild_project.build.environment[0].privileged_mode && strcontains(aws_codebuild_project.build.source[0].buildspec, "docker push")
    error_message = "The build runs docker and pushes every image."
  }
  assert {
    condition     = jsondecode([for v in aws_codebuild_project.build.environment[0].environment_variable : v.value if v.name == "IMAGES"][0]).workers.dockerfile == "functions/migrationai/Dockerfile"
    error_message = "The build gets the images to make."
  }
  assert {
    condition     = aws_codedeploy_deployment_group.ec2[0].auto_rollback_configuration[0].enabled && length(aws_codestarconnections_connection.github) == 1
    error_message = "CodeDeploy rolls a failed deployment back; a connection is created when none is given."
  }
}

run "the_build_role_pushes_and_updates_only_what_it_is_given" {
  command = plan
  assert {
    condition     = [for s in data.aws_iam_policy_document.build.statement : s.resources if s.sid == "PushImages"][0] == toset(["arn:aws:ecr:us-west-2:123456789012:repository/prod/migrationai-workers"])
    error_message = "Images are pushed to the given repositories only."
  }
  assert {
    condition     = [for s in data.aws_iam_policy_document.build.statement : s.resources if s.sid == "UpdateFunctions"][0] == toset(["arn:aws:lambda:us-west-2:123456789012:function:migrationai-contacts"])
    error_message = "Only the given functions are updated."
  }
}

run "production_waits_for_an_approval" {
  command = plan
  variables {
    require_approval = true
    connection_arn   = "arn:aws:codestar-connections:us-west-2:123456789012:connection/abc"
  }
  assert {
    condition     = [for s in aws_codepipeline.this.stage : s.name] == ["Source", "Build", "Approve", "Deploy"] && length(aws_codestarconnections_connection.github) == 0
    error_message = "An approval before the deploy; a given connection is used, not created."
  }
}

run "a_pipeline_that_deploys_nothing_is_refused" {
  command = plan
  variables {
    lambda_functions   = {}
    apprunner_services = {}
    ec2_deployment     = null
  }
  expect_failures = [aws_codepipeline.this]
}

run "example_plans" {
  command = plan
  module {
    source = "./examples/complete"
  }
}
