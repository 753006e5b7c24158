mock_provider "aws" {
  mock_data "aws_region" {
    defaults = { name = "us-west-2" }
  }
}

variables {
  name                 = "mht-api-staging"
  vpc_cidr             = "10.1.0.0/16"
  availability_zones   = ["us-west-2a", "us-west-2b", "us-west-2c"]
  public_subnet_cidrs  = ["10.1.1.0/24", "10.1.2.0/24", "10.1.3.0/24"]
  private_subnet_cidrs = ["10.1.11.0/24", "10.1.12.0/24", "10.1.13.0/24"]
}

run "subnets_over_the_zones" {
  command = plan
  assert {
    condition     = aws_vpc.this.cidr_block == "10.1.0.0/16" && aws_vpc.this.tags["Name"] == "mht-api-staging-vpc"
    error_message = "The VPC must have the given CIDR and a white-label name."
  }
  assert {
    condition     = tolist(aws_subnet.private[*].availability_zone) == var.availability_zones && tolist(aws_subnet.public[*].cidr_block) == var.public_subnet_cidrs
    error_message = "One public and one private subnet per zone."
  }
  assert {
    condition     = alltrue([for s in concat(aws_subnet.public, aws_subnet.private) : cidrsubnet(s.cidr_block, 0, 0) == s.cidr_block])
    error_message = "Subnets must be valid CIDR blocks."
  }
}

run "single_nat_by_default" {
  command = plan
  assert {
    condition     = length(aws_nat_gateway.this) == 1 && length(aws_route.private_nat) == 3
    error_message = "One NAT gateway serves every private route table."
  }
  assert {
    condition     = aws_vpc_endpoint.s3[0].service_name == "com.amazonaws.us-west-2.s3" && aws_vpc_endpoint.s3[0].vpc_endpoint_type == "Gateway"
    error_message = "S3 traffic goes through a gateway endpoint."
  }
}

run "nat_per_zone" {
  command = plan
  variables {
    single_nat_gateway = false
  }
  assert {
    condition     = length(aws_nat_gateway.this) == 3
    error_message = "single_nat_gateway = false gives each zone its own NAT gateway."
  }
}

run "no_nat" {
  command = plan
  variables {
    create_nat_gateway = false
    create_s3_endpoint = false
  }
  assert {
    condition     = length(aws_nat_gateway.this) == 0 && length(aws_route.private_nat) == 0 && length(aws_eip.nat) == 0 && length(aws_vpc_endpoint.s3) == 0
    error_message = "create_nat_gateway and create_s3_endpoint must switch their parts off."
  }
}

run "one_zone_is_not_enough" {
  command = plan
  variables {
    availability_zones   = ["us-west-2a"]
    public_subnet_cidrs  = ["10.1.1.0/24"]
    private_subnet_cidrs = ["10.1.11.0/24"]
  }
  expect_failures = [var.availability_zones]
}

run "example_plans" {
  command = plan
  module {
    source = "./examples/complete"
  }
}
