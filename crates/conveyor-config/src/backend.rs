//! Which engines an environment runs on: the embedded queue and local files (one machine), or
//! Amazon SQS and S3 (or anything that speaks their protocols: moto, LocalStack, a Conveyor's
//! own SQS endpoint, MinIO).

use serde::{Deserialize, Serialize};

use crate::ConfigError;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct BackendSpec {
    #[serde(default)]
    queue: QueueBackend,
    #[serde(default)]
    store: StoreBackend,
    /// One endpoint for both SQS and S3 (an emulator); the per-service settings win over it.
    endpoint: Option<String>,
    sqs_endpoint: Option<String>,
    s3_endpoint: Option<String>,
    /// Address buckets as `endpoint/bucket/key` rather than `bucket.endpoint/key`; defaults to
    /// true when an S3 endpoint is given (emulators rarely resolve bucket subdomains).
    s3_path_style: Option<bool>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum QueueBackend {
    /// The SQLite engine inside `conveyor serve`.
    #[default]
    Embedded,
    /// Amazon SQS, or any endpoint speaking its protocol.
    Sqs,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StoreBackend {
    /// Files under the data directory.
    #[default]
    Local,
    /// Amazon S3, or any endpoint speaking its protocol.
    S3,
}

/// The effective backend settings of one environment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BackendSettings {
    pub queue: QueueBackend,
    pub store: StoreBackend,
    /// `None`: the region's AWS endpoint (or the SDK's `AWS_ENDPOINT_URL_SQS`).
    pub sqs_endpoint: Option<String>,
    /// `None`: the region's AWS endpoint.
    pub s3_endpoint: Option<String>,
    pub s3_path_style: bool,
}

impl BackendSettings {
    /// Whether this environment uses AWS (or an AWS-compatible service) for anything.
    pub fn uses_aws(&self) -> bool {
        self.queue == QueueBackend::Sqs || self.store == StoreBackend::S3
    }
}

pub(crate) fn resolve(env: &str, spec: &BackendSpec) -> Result<BackendSettings, ConfigError> {
    let endpoint = |setting: &str, value: &Option<String>| -> Result<Option<String>, ConfigError> {
        match value.as_deref().map(str::trim) {
            None | Some("") => Ok(None),
            Some(url) if url.starts_with("http://") || url.starts_with("https://") => {
                Ok(Some(url.trim_end_matches('/').to_string()))
            }
            Some(url) => Err(ConfigError::Invalid(format!(
                "environments.{env}.backend.{setting} = {url:?} is not a URL: write it like http://127.0.0.1:5000"
            ))),
        }
    };
    let shared = endpoint("endpoint", &spec.endpoint)?;
    let sqs_endpoint = endpoint("sqs_endpoint", &spec.sqs_endpoint)?.or(shared.clone());
    let s3_endpoint = endpoint("s3_endpoint", &spec.s3_endpoint)?.or(shared);
    let s3_path_style = spec.s3_path_style.unwrap_or(s3_endpoint.is_some());
    Ok(BackendSettings {
        queue: spec.queue,
        store: spec.store,
        sqs_endpoint,
        s3_endpoint,
        s3_path_style,
    })
}
