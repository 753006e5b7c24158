output "vpc_id" {
  description = "The VPC."
  value       = aws_vpc.this.id
}

output "vpc_cidr" {
  description = "The VPC's CIDR block."
  value       = aws_vpc.this.cidr_block
}

output "public_subnet_ids" {
  description = "Public subnets, in availability-zone order."
  value       = aws_subnet.public[*].id
}

output "private_subnet_ids" {
  description = "Private subnets, in availability-zone order."
  value       = aws_subnet.private[*].id
}

output "private_route_table_ids" {
  description = "Private route tables, one per zone."
  value       = aws_route_table.private[*].id
}

output "nat_gateway_ids" {
  description = "NAT gateways (none, one, or one per zone)."
  value       = aws_nat_gateway.this[*].id
}

output "s3_endpoint_id" {
  description = "The S3 gateway endpoint (null when not created)."
  value       = try(aws_vpc_endpoint.s3[0].id, null)
}
