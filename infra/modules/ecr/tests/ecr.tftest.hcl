mock_provider "aws" {}

variables {
  repositories = { api = "mht-api" }
}

run "scan_and_keep_last_n" {
  command = plan
  assert {
    condition     = aws_ecr_repository.this["api"].image_scanning_configuration[0].scan_on_push && aws_ecr_repository.this["api"].image_tag_mutability == "IMMUTABLE"
    error_message = "Images are scanned on push and tags never move."
  }
  assert {
    condition     = [for r in jsondecode(aws_ecr_lifecycle_policy.this["api"].policy).rules : r.selection.countNumber] == [7, 10]
    error_message = "Untagged images expire after 7 days; the last 10 images are kept."
  }
}

run "keep_count_is_configurable" {
  command = plan
  variables {
    keep_tagged_images = 30
  }
  assert {
    condition     = jsondecode(aws_ecr_lifecycle_policy.this["api"].policy).rules[1].selection.countNumber == 30
    error_message = "keep_tagged_images sets how many images are kept."
  }
}

run "a_map_makes_the_seeds_fifteen_repositories" {
  command = plan
  variables {
    repositories = {
      frontend       = "prod/migrationai-frontend"
      admin_frontend = "prod/migrationai-admin-frontend"
      backend_api    = "prod/migrationai-backend-api"
    }
  }
  assert {
    condition     = length(aws_ecr_repository.this) == 3 && aws_ecr_repository.this["backend_api"].name == "prod/migrationai-backend-api" && length(aws_ecr_lifecycle_policy.this) == 3
    error_message = "One repository and one lifecycle policy per entry, named as given."
  }
}

run "a_bad_name_is_refused" {
  command = plan
  variables {
    repositories = { api = "Prod/API" }
  }
  expect_failures = [var.repositories]
}

run "example_plans" {
  command = plan
  module {
    source = "./examples/complete"
  }
}
