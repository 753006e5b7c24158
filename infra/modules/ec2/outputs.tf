output "instance_ids" {
  description = "Each instance's id, by name (aws ssm start-session --target ID)."
  value       = { for name, i in aws_instance.this : name => i.id }
}

output "private_ips" {
  description = "Each instance's private address, by name."
  value       = { for name, i in aws_instance.this : name => i.private_ip }
}

output "role_arn" {
  description = "The instances' role."
  value       = aws_iam_role.this.arn
}
