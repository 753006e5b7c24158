//! One environment's AWS connection: region, endpoints and the standard credential chain,
//! loaded once and shared by the SQS queue and the S3 store.

use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::ProvideCredentials;
use aws_sdk_sqs::config::{Credentials, Region, SharedHttpClient};
use aws_sdk_sqs::error::{ProvideErrorMetadata, SdkError};
use conveyor_config::{QueueBackend, Settings};

use crate::{AwsError, SqsQueue};

/// How long resolving credentials may take (the chain ends with instance metadata, which
/// answers slowly or not at all off AWS).
const CREDENTIALS_TIMEOUT: Duration = Duration::from_secs(15);

/// The SDK's HTTPS client on rustls with ring: no aws-lc C build.
pub fn https_client() -> SharedHttpClient {
    use aws_smithy_http_client::tls;
    aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::Ring,
        ))
        .build_https()
}

/// An SQS client for `endpoint` with fixed credentials: for a Conveyor's own SQS endpoint, which
/// accepts any signature unless it was given access keys.
pub fn static_sqs_client(
    endpoint: &str,
    region: &str,
    key: &str,
    secret: &str,
) -> aws_sdk_sqs::Client {
    let config = aws_sdk_sqs::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region.to_string()))
        .credentials_provider(Credentials::new(key, secret, None, None, "conveyor"))
        .endpoint_url(endpoint)
        .http_client(https_client())
        .build();
    aws_sdk_sqs::Client::from_conf(config)
}

/// AWS as one environment's settings describe it.
#[derive(Clone)]
pub struct Aws {
    pub(crate) config: aws_config::SdkConfig,
    pub(crate) region: String,
    pub(crate) environment: String,
    pub(crate) sqs_endpoint: Option<String>,
    pub(crate) s3_endpoint: Option<String>,
    pub(crate) s3_path_style: bool,
}

impl Aws {
    /// Load the region, endpoints and credential chain; contacts nothing yet.
    pub async fn load(settings: &Settings) -> Aws {
        let config = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(settings.region.clone()))
            .http_client(https_client())
            .load()
            .await;
        let b = &settings.backend;
        Aws {
            config,
            region: settings.region.clone(),
            environment: settings.environment.clone(),
            sqs_endpoint: b.sqs_endpoint.clone(),
            s3_endpoint: b.s3_endpoint.clone(),
            s3_path_style: b.s3_path_style,
        }
    }

    /// For an environment on SQS or S3: load, and check once that credentials resolve, so a
    /// missing credential is reported before anything else. `None` on the embedded defaults.
    pub async fn connect(settings: &Settings) -> Result<Option<Aws>, AwsError> {
        if !settings.backend.uses_aws() {
            return Ok(None);
        }
        let aws = Aws::load(settings).await;
        aws.credentials().await?;
        Ok(Some(aws))
    }

    pub fn region(&self) -> &str {
        &self.region
    }

    /// Where SQS is, for messages.
    pub fn sqs_endpoint(&self) -> String {
        self.sqs_endpoint
            .clone()
            .unwrap_or_else(|| format!("https://sqs.{}.amazonaws.com", self.region))
    }

    /// Where S3 is, for messages.
    pub fn s3_endpoint(&self) -> String {
        self.s3_endpoint
            .clone()
            .unwrap_or_else(|| format!("https://s3.{}.amazonaws.com", self.region))
    }

    /// The standard credential chain, as loaded.
    pub(crate) fn credential_chain(
        &self,
    ) -> Result<aws_credential_types::provider::SharedCredentialsProvider, AwsError> {
        self.config
            .credentials_provider()
            .ok_or_else(|| AwsError::NoCredentials {
                detail: "no credential provider is configured".into(),
            })
    }

    /// The credentials the chain yields now, or why there are none.
    pub async fn credentials(&self) -> Result<Credentials, AwsError> {
        let provider = self.credential_chain()?;
        match tokio::time::timeout(CREDENTIALS_TIMEOUT, provider.provide_credentials()).await {
            Ok(Ok(c)) => Ok(c),
            Ok(Err(CredentialsError::CredentialsNotLoaded(_))) => Err(AwsError::NoCredentials {
                detail:
                    "tried the environment, profile files, web identity, ECS and instance metadata"
                        .into(),
            }),
            Ok(Err(e)) => Err(AwsError::NoCredentials {
                detail: root_cause(&e),
            }),
            Err(_) => Err(AwsError::NoCredentials {
                detail: format!(
                    "the credential chain did not answer within {}s",
                    CREDENTIALS_TIMEOUT.as_secs()
                ),
            }),
        }
    }

    /// The SQS client for this environment.
    pub fn sqs_client(&self) -> aws_sdk_sqs::Client {
        let mut builder = aws_sdk_sqs::config::Builder::from(&self.config);
        if let Some(endpoint) = &self.sqs_endpoint {
            builder = builder.endpoint_url(endpoint);
        }
        aws_sdk_sqs::Client::from_conf(builder.build())
    }

    /// The `Queue` on this environment's SQS.
    pub fn sqs(&self) -> SqsQueue {
        SqsQueue::new(self.sqs_client(), &self.region, self.sqs_endpoint())
    }

    /// Check that every queue the settings name (and its dead-letter queue) exists: the first thing `conveyor api` / `worker` do, so a wrong deployment fails
    /// at once with one line instead of in every poll.
    pub async fn verify_queues(&self, settings: &Settings) -> Result<(), AwsError> {
        if settings.backend.queue != QueueBackend::Sqs {
            return Ok(());
        }
        let client = self.sqs_client();
        for q in &settings.queues {
            for name in [&q.dlq_name, &q.name] {
                if let Err(e) = client.get_queue_url().queue_name(name).send().await {
                    return Err(self.sqs_failure("queue", name, e));
                }
            }
        }
        Ok(())
    }

    /// Check that SQS answers (one `ListQueues`).
    pub async fn check_sqs(&self) -> Result<(), AwsError> {
        match self.sqs_client().list_queues().max_results(1).send().await {
            Ok(_) => Ok(()),
            Err(e) => Err(self.sqs_failure("queue", "list", e)),
        }
    }

    /// One SQS call's failure as the line an operator needs.
    pub(crate) fn sqs_failure<E, R>(
        &self,
        kind: &'static str,
        name: &str,
        e: SdkError<E, R>,
    ) -> AwsError
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug + 'static,
    {
        let endpoint = self.sqs_endpoint();
        let code = e.code().unwrap_or_default().to_string();
        match &e {
            SdkError::ServiceError(_)
                if code.ends_with("NonExistentQueue") || code.ends_with("QueueDoesNotExist") =>
            {
                AwsError::Missing {
                    kind,
                    name: name.to_string(),
                    endpoint,
                    environment: self.environment.clone(),
                }
            }
            SdkError::ServiceError(_) if is_denial(&code) => AwsError::Denied {
                service: "SQS",
                endpoint,
                resource: format!("the {kind} {name}"),
                detail: format!("{code}: {}", e.message().unwrap_or_default()),
            },
            SdkError::ServiceError(_) => AwsError::Service {
                service: "SQS",
                endpoint,
                resource: format!("the {kind} {name}"),
                detail: format!("{code}: {}", e.message().unwrap_or_default()),
            },
            _ => AwsError::Unreachable {
                service: "SQS",
                endpoint,
                detail: root_cause(&e),
            },
        }
    }
}

/// Codes that mean "these credentials may not do this".
pub(crate) fn is_denial(code: &str) -> bool {
    matches!(
        code,
        "InvalidClientTokenId"
            | "SignatureDoesNotMatch"
            | "MissingAuthenticationToken"
            | "UnrecognizedClientException"
            | "IncompleteSignature"
            | "ExpiredToken"
            | "AccessDenied"
            | "AccessDeniedException"
            | "InvalidAccessKeyId"
    )
}

/// The innermost cause of an error: "Connection refused (os error 111)", not the SDK's layers.
pub(crate) fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cause: &dyn std::error::Error = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}
