mock_provider "aws" {
  mock_data "aws_iam_policy_document" {
    defaults = {
      json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}"
    }
  }
  mock_data "aws_region" {
    defaults = {
      name = "us-east-1"
    }
  }
  mock_data "aws_partition" {
    defaults = {
      partition = "aws"
    }
  }
  mock_data "aws_caller_identity" {
    defaults = {
      account_id = "123456789012"
    }
  }
  mock_data "aws_acm_certificate" {
    defaults = {
      arn = "arn:aws:acm:us-east-1:123456789012:certificate/wildcard"
    }
  }
  mock_data "aws_route53_zone" {
    defaults = {
      zone_id = "Z0123456789"
    }
  }
}

# What the stack's modules expose; infra/scripts/snsd_check.py checks every resource's settings
# against the seed in a real plan (CI, on moto_server), nested modules included.
run "the_seeds_files_backend" {
  command = plan
  assert {
    condition     = module.network.vpc_cidr == "10.0.0.0/16" && length(module.network.private_subnet_ids) == 2 && length(module.network.nat_gateway_ids) == 2
    error_message = "10.0.0.0/16 over two zones, a NAT gateway in each."
  }
  assert {
    condition     = module.ecs.cluster_name == "snsd-production-cluster" && module.ecs.service_names == { api = "snsd-production-service" } && module.ecs.log_group_name == "/ecs/snsd-production"
    error_message = "One service, no worker, the seed's names."
  }
  assert {
    condition     = output.bucket_name == "snsd-file-uploads-production" && module.s3.log_bucket_name == "snsd-file-uploads-production-logs"
    error_message = "The seed's bucket and its logs bucket."
  }
  assert {
    condition     = output.secret_name == "snsd-production-secrets" && contains(keys(module.secrets.value_from), "SUPABASE_JWT_SECRET")
    error_message = "The seed's secret with the Supabase keys."
  }
  assert {
    condition     = module.ecr.repository_names["api"] == "snsd-production" && output.api_url == "https://api.snsdconsultant.com"
    error_message = "The seed's repository and name."
  }
  assert {
    condition     = toset(keys(module.alb.alarm_names)) == toset(["high-response-time", "unhealthy-hosts"])
    error_message = "Alarms on high response time and unhealthy hosts."
  }
}

run "one_nat_gateway_saves_one" {
  command = plan
  variables {
    single_nat_gateway = true
  }
  assert {
    condition     = length(module.network.nat_gateway_ids) == 1
    error_message = "The seed's cost option: one NAT gateway."
  }
}
