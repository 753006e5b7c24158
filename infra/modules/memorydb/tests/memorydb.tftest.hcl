mock_provider "aws" {}

variables {
  name                      = "migrationai-redis-cache"
  vpc_id                    = "vpc-1"
  subnet_ids                = ["subnet-a", "subnet-b"]
  client_security_group_ids = ["sg-backend"]
}

run "tls_on_and_open_only_to_the_backend" {
  command = plan
  assert {
    condition     = aws_memorydb_cluster.this.tls_enabled && aws_memorydb_cluster.this.port == 6379
    error_message = "TLS in transit, on the seed's port."
  }
  assert {
    condition     = [for r in aws_vpc_security_group_ingress_rule.clients : r.referenced_security_group_id] == ["sg-backend"] && alltrue([for r in aws_vpc_security_group_ingress_rule.clients : r.from_port == 6379 && r.to_port == 6379 && r.cidr_ipv4 == null])
    error_message = "Redis is reachable from the backend group only, on its port, from no address range."
  }
  assert {
    condition     = aws_memorydb_subnet_group.this.subnet_ids == toset(["subnet-a", "subnet-b"])
    error_message = "The cluster sits in the private subnets."
  }
}

run "some_client_group_is_required" {
  command = plan
  variables {
    client_security_group_ids = []
  }
  expect_failures = [var.client_security_group_ids]
}

run "example_plans" {
  command = plan
  module {
    source = "./examples/complete"
  }
}
