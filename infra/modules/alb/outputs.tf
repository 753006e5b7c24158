output "alb_arn" {
  description = "The load balancer."
  value       = aws_lb.this.arn
}

output "alb_dns_name" {
  description = "The load balancer's DNS name (the dns module aliases the API name to it)."
  value       = aws_lb.this.dns_name
}

output "alb_zone_id" {
  description = "The load balancer's hosted zone, for Route53 alias records."
  value       = aws_lb.this.zone_id
}

output "security_group_id" {
  description = "The load balancer's security group (the API tasks admit traffic from it)."
  value       = aws_security_group.alb.id
}

output "target_group_arn" {
  description = "The API's target group."
  value       = aws_lb_target_group.api["blue"].arn
}

output "https_listener_arn" {
  description = "The HTTPS listener (null when create_https_listener = false)."
  value       = try(aws_lb_listener.https[0].arn, null)
}

output "target_group_names" {
  description = "The API's target groups by colour: blue (target_group_arn's, where the service starts) and, with create_green_target_group, green."
  value       = { for colour, g in aws_lb_target_group.api : colour => g.name }
}

output "http_listener_arn" {
  description = "The HTTP listener (a redirect to HTTPS when create_https_listener = true)."
  value       = aws_lb_listener.http.arn
}

output "alarm_names" {
  description = "The alarms, by what they watch (empty without create_alarms)."
  value       = { for k, a in aws_cloudwatch_metric_alarm.this : k => a.alarm_name }
}
