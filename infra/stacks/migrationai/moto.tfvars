# Overrides for applying the stack to moto_server in CI (scripts/test-infra.sh): each is a thing
# moto cannot create, or a thing a throwaway copy must not keep. infra/README.md lists them with
# what was observed.
create_front_ends               = false # moto: creating the App Runner auto scaling configuration never completes
create_pipeline                 = false # moto: the CodeStar connection never completes, CodeBuild refuses a CODEPIPELINE source, CodeDeploy answers what the provider cannot read
enable_sqs_redrive_allow_policy = false # moto: the provider waits forever for the policy to show
enable_s3_intelligent_tiering   = false # moto: PutBucketIntelligentTieringConfiguration outside us-east-1 fails
s3_require_tls                  = false # moto enforces the TLS-only bucket policy, and is served over plain HTTP
force_destroy                   = true  # the run destroys everything it created, contents included
