# Overrides for applying an environment to moto_server in CI (scripts/test-infra.sh); each is a
# thing moto cannot do, or a thing a throwaway environment must not keep. infra/README.md lists
# them with the reasons.
enable_sqs_redrive_allow_policy = false # moto: the provider waits forever for the policy to show
enable_autoscaling              = false # moto: no ListTagsForResource for Application Auto Scaling
enable_s3_intelligent_tiering   = false # moto: PutBucketIntelligentTieringConfiguration outside us-east-1 fails (IllegalLocationConstraint)
s3_require_tls                  = false # moto enforces the TLS-only bucket policy, and is served over plain HTTP
route53_zone_id                 = null  # moto's copy of the shared zone has its own id: look it up by name
force_destroy                   = true  # the run destroys everything it created, contents included
