mock_provider "aws" {
  mock_resource "aws_secretsmanager_secret" {
    override_during = plan
    defaults        = { arn = "arn:aws:secretsmanager:us-west-2:123456789012:secret:mht-api-staging-secrets-AbCdEf" }
  }
}

variables {
  name = "mht-api-staging"
}

run "one_secret_with_empty_keys" {
  command = plan
  assert {
    condition     = aws_secretsmanager_secret.this.name == "mht-api-staging-secrets"
    error_message = "The secret must be {instance}-{env}-secrets."
  }
  assert {
    condition     = jsondecode(aws_secretsmanager_secret_version.placeholder.secret_string) == { jwt_secret = "", api_keys = "" }
    error_message = "Keys start empty (Conveyor then refuses to serve rather than run with a known value)."
  }
  assert {
    condition     = output.value_from["api_keys"] == "arn:aws:secretsmanager:us-west-2:123456789012:secret:mht-api-staging-secrets-AbCdEf:api_keys::"
    error_message = "value_from must give ECS references to single JSON keys."
  }
}

run "example_plans" {
  command = plan
  module {
    source = "./examples/complete"
  }
}
