provider "aws" {
  region = "us-west-2"
}

module "dns" {
  source = "../.."

  zone_name          = "amygdalas.com"
  record_names       = ["staging.api.amygdalas.com"]
  alb_dns_name       = "mht-api-staging-alb-123456.us-west-2.elb.amazonaws.com"
  alb_zone_id        = "Z1H1FL5HABSF5"
  certificate_domain = "*.amygdalas.com"
}

output "certificate_arn" {
  value = module.dns.certificate_arn
}
