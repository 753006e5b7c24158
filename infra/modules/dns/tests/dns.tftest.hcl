mock_provider "aws" {
  mock_data "aws_route53_zone" {
    defaults = { zone_id = "Z0286437KXYMILBB4R1F" }
  }
  mock_data "aws_acm_certificate" {
    defaults = { arn = "arn:aws:acm:us-west-2:123456789012:certificate/wildcard" }
  }
}

variables {
  zone_name          = "amygdalas.com"
  record_names       = ["staging.api.amygdalas.com", "dev.amygdalas.com"]
  alb_dns_name       = "mht-api-staging-alb-1.us-west-2.elb.amazonaws.com"
  alb_zone_id        = "Z1H1FL5HABSF5"
  certificate_domain = "*.amygdalas.com"
}

run "aliases_in_the_shared_zone" {
  command = plan
  assert {
    condition     = toset(keys(aws_route53_record.alias)) == toset(var.record_names)
    error_message = "One alias per name."
  }
  assert {
    condition     = alltrue([for r in values(aws_route53_record.alias) : r.zone_id == "Z0286437KXYMILBB4R1F" && r.type == "A" && r.alias[0].name == var.alb_dns_name])
    error_message = "Aliases must point at the load balancer from the shared zone."
  }
  assert {
    condition     = output.certificate_arn == "arn:aws:acm:us-west-2:123456789012:certificate/wildcard"
    error_message = "The issued certificate is looked up, not created."
  }
}

run "names_outside_the_zone_are_refused" {
  command = plan
  variables {
    record_names = ["api.example.org"]
  }
  expect_failures = [check.record_names_in_zone]
}

run "example_plans" {
  command = plan
  module {
    source = "./examples/complete"
  }
}
