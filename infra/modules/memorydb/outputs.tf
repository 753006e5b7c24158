output "endpoint" {
  description = "The cluster endpoint (rediss://{address}:{port}: TLS only)."
  value       = try("${aws_memorydb_cluster.this.cluster_endpoint[0].address}:${aws_memorydb_cluster.this.cluster_endpoint[0].port}", null)
}

output "security_group_id" {
  description = "The cluster's security group."
  value       = aws_security_group.this.id
}

output "cluster_arn" {
  description = "The cluster's ARN."
  value       = aws_memorydb_cluster.this.arn
}
