//! The S3 endpoint's settings: where it serves the environment's local store, who may call
//! it, and which host names carry bucket names (virtual-hosted style).

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

use crate::sqs::{check_access_keys, listen_address};
use crate::{AccessKey, ConfigError};

/// The port local S3 users already point their tools at (MinIO's default).
pub const DEFAULT_S3_LISTEN: &str = "127.0.0.1:9000";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct S3Spec {
    /// An address, or `off` to serve no S3 endpoint.
    #[serde(default = "default_listen")]
    listen: String,
    #[serde(default)]
    access_keys: Vec<AccessKey>,
    /// Serve a non-loopback address with no access keys (anyone who can reach it may call).
    #[serde(default)]
    allow_anonymous: bool,
    /// Host names whose subdomains are bucket names (`bucket.s3.internal`), besides
    /// `localhost`.
    #[serde(default)]
    domains: Vec<String>,
    /// Scheme and authority browsers reach the endpoint by, for the files API's presigned URLs
    /// (`https://files.example.com`); `http://` and the listen address when unset.
    #[serde(default)]
    public_url: Option<String>,
}

impl Default for S3Spec {
    fn default() -> Self {
        S3Spec {
            listen: default_listen(),
            access_keys: Vec::new(),
            allow_anonymous: false,
            domains: Vec::new(),
            public_url: None,
        }
    }
}

fn default_listen() -> String {
    DEFAULT_S3_LISTEN.into()
}

/// The effective S3 endpoint settings of one environment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct S3Settings {
    /// `None` when the endpoint is switched off.
    pub listen: Option<SocketAddr>,
    pub access_keys: Vec<AccessKey>,
    pub allow_anonymous: bool,
    pub domains: Vec<String>,
    pub public_url: Option<String>,
}

pub(crate) fn resolve(env: &str, spec: &S3Spec) -> Result<S3Settings, ConfigError> {
    let listen = listen_address(env, "s3", &spec.listen, DEFAULT_S3_LISTEN)?;
    check_access_keys(env, "s3", &spec.access_keys)?;
    for domain in &spec.domains {
        let ok = !domain.is_empty()
            && domain
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
            && !domain.starts_with('.')
            && !domain.ends_with('.');
        if !ok {
            return Err(ConfigError::Invalid(format!(
                "environments.{env}.s3.domains has {domain:?}, which is not a host name like s3.internal (no port, no scheme)"
            )));
        }
    }
    if let Some(url) = &spec.public_url {
        let authority = url
            .strip_prefix("http://")
            .or_else(|| url.strip_prefix("https://"))
            .unwrap_or("");
        if authority.is_empty() || authority.contains('/') {
            return Err(ConfigError::Invalid(format!(
                "environments.{env}.s3.public_url = {url:?} must be a scheme and authority like https://files.example.com (no path)"
            )));
        }
    }
    Ok(S3Settings {
        listen,
        access_keys: spec.access_keys.clone(),
        allow_anonymous: spec.allow_anonymous,
        domains: spec.domains.clone(),
        public_url: spec.public_url.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_to_the_minio_port_and_names_bad_settings() {
        let settings = resolve("local", &S3Spec::default()).unwrap();
        assert_eq!(settings.listen, Some(DEFAULT_S3_LISTEN.parse().unwrap()));
        let off = S3Spec {
            listen: "off".into(),
            ..S3Spec::default()
        };
        assert_eq!(resolve("local", &off).unwrap().listen, None);
        let bad = S3Spec {
            listen: "port 9000".into(),
            ..S3Spec::default()
        };
        assert!(resolve("local", &bad)
            .unwrap_err()
            .to_string()
            .contains("s3.listen"));
        let bad_domain = S3Spec {
            domains: vec!["http://s3.internal:9000".into()],
            ..S3Spec::default()
        };
        assert!(resolve("local", &bad_domain)
            .unwrap_err()
            .to_string()
            .contains("s3.domains"));
        for bad_url in ["files.example.com", "https://files.example.com/", "http://"] {
            let spec = S3Spec {
                public_url: Some(bad_url.into()),
                ..S3Spec::default()
            };
            assert!(resolve("local", &spec)
                .unwrap_err()
                .to_string()
                .contains("s3.public_url"));
        }
        let spec = S3Spec {
            public_url: Some("https://files.example.com".into()),
            ..S3Spec::default()
        };
        assert!(resolve("local", &spec).is_ok());
    }
}
