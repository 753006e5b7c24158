mock_provider "aws" {}

variables {
  repository_name = "mht-api"
}

run "scan_and_keep_last_n" {
  command = plan
  assert {
    condition     = aws_ecr_repository.this.image_scanning_configuration[0].scan_on_push && aws_ecr_repository.this.image_tag_mutability == "IMMUTABLE"
    error_message = "Images are scanned on push and tags never move."
  }
  assert {
    condition     = [for r in jsondecode(aws_ecr_lifecycle_policy.this[0].policy).rules : r.selection.countNumber] == [7, 10]
    error_message = "Untagged images expire after 7 days; the last 10 images are kept."
  }
}

run "keep_count_is_configurable" {
  command = plan
  variables {
    keep_tagged_images = 30
  }
  assert {
    condition     = jsondecode(aws_ecr_lifecycle_policy.this[0].policy).rules[1].selection.countNumber == 30
    error_message = "keep_tagged_images sets how many images are kept."
  }
}

run "example_plans" {
  command = plan
  module {
    source = "./examples/complete"
  }
}
