# Overrides for applying the stack to moto_server in CI (scripts/test-infra.sh): each is a thing
# moto cannot do, or a thing a throwaway copy must not keep. infra/README.md lists them.
enable_autoscaling = false # moto: no ListTagsForResource for Application Auto Scaling
s3_require_tls     = false # moto enforces the TLS-only bucket policy, and is served over plain HTTP
route53_zone_id    = null  # moto's copy of the zone has its own id: look it up by name
force_destroy      = true  # the run destroys everything it created, contents included
