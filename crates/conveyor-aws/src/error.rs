//! What can go wrong reaching AWS, each said in one line that names the resource and the fix.

/// A failure to reach or use an AWS (or AWS-compatible) service.
#[derive(Debug, thiserror::Error)]
pub enum AwsError {
    #[error(
        "no AWS credentials were found ({detail}): set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, \
         or AWS_PROFILE, or run where an instance or task role is available"
    )]
    NoCredentials { detail: String },
    #[error(
        "cannot reach {service} at {endpoint} ({detail}): check backend.endpoint \
         (or CONVEYOR_AWS_ENDPOINT) and that the service is running"
    )]
    Unreachable {
        service: &'static str,
        endpoint: String,
        detail: String,
    },
    #[error(
        "{service} at {endpoint} refused the credentials ({detail}): check AWS_ACCESS_KEY_ID / \
         AWS_PROFILE and that they may use {resource}"
    )]
    Denied {
        service: &'static str,
        endpoint: String,
        resource: String,
        detail: String,
    },
    #[error(
        "the {kind} {name} does not exist at {endpoint}: run `conveyor provision --env {environment}` \
         (or apply the Terraform in infra/) first"
    )]
    Missing {
        kind: &'static str,
        name: String,
        endpoint: String,
        environment: String,
    },
    #[error(
        "the {kind} {name} is tagged as environment {owner}'s, not {environment}'s: refusing to touch it; \
         check the configuration's instance, use_case and environment names"
    )]
    OtherEnvironment {
        kind: &'static str,
        name: String,
        owner: String,
        environment: String,
    },
    #[error("{service} at {endpoint} failed on {resource}: {detail}")]
    Service {
        service: &'static str,
        endpoint: String,
        resource: String,
        detail: String,
    },
}
