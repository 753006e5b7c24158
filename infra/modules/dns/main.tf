data "aws_route53_zone" "this" {
  count        = var.create_records ? 1 : 0
  zone_id      = var.zone_id
  name         = var.zone_id == null ? var.zone_name : null
  private_zone = false
}

data "aws_acm_certificate" "this" {
  count       = var.lookup_certificate ? 1 : 0
  domain      = var.certificate_domain
  statuses    = ["ISSUED"]
  most_recent = true
}

check "record_names_in_zone" {
  assert {
    condition     = alltrue([for n in var.record_names : endswith(n, ".${var.zone_name}") || n == var.zone_name])
    error_message = "Every record name must be inside ${var.zone_name}."
  }
}

resource "aws_route53_record" "alias" {
  for_each = var.create_records ? toset(var.record_names) : toset([])

  zone_id = data.aws_route53_zone.this[0].zone_id
  name    = each.value
  type    = "A"

  alias {
    name                   = var.alb_dns_name
    zone_id                = var.alb_zone_id
    evaluate_target_health = true
  }
}
