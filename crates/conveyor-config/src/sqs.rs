//! The SQS endpoint's settings: where it listens, who may call it, and the region and account
//! that appear in queue URLs and ARNs.

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

use crate::{ConfigError, Secret};

/// The port local SQS users already point their tools at (ElasticMQ's default).
pub const DEFAULT_SQS_LISTEN: &str = "127.0.0.1:9324";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SqsSpec {
    /// An address, or `off` to serve no SQS endpoint.
    #[serde(default = "default_listen")]
    listen: String,
    #[serde(default)]
    access_keys: Vec<AccessKey>,
    /// Serve a non-loopback address with no access keys (anyone who can reach it may call).
    #[serde(default)]
    allow_anonymous: bool,
    /// Scheme and authority of queue URLs, when clients reach us through another name.
    #[serde(default)]
    public_url: Option<String>,
}

impl Default for SqsSpec {
    fn default() -> Self {
        SqsSpec {
            listen: default_listen(),
            access_keys: Vec::new(),
            allow_anonymous: false,
            public_url: None,
        }
    }
}

fn default_listen() -> String {
    DEFAULT_SQS_LISTEN.into()
}

/// An access key the endpoint accepts SigV4 signatures from.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AccessKey {
    pub id: String,
    pub secret: Secret,
}

/// The effective SQS endpoint settings of one environment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SqsSettings {
    /// `None` when the endpoint is switched off.
    pub listen: Option<SocketAddr>,
    pub access_keys: Vec<AccessKey>,
    pub allow_anonymous: bool,
    pub public_url: Option<String>,
}

/// An endpoint's `listen` setting: an address, or `None` for `off`.
pub(crate) fn listen_address(
    env: &str,
    section: &str,
    text: &str,
    example: &str,
) -> Result<Option<SocketAddr>, ConfigError> {
    match text {
        "off" | "" => Ok(None),
        text => text.parse().map(Some).map_err(|_| {
            ConfigError::Invalid(format!(
                "environments.{env}.{section}.listen = {text:?} is not an address like {example} (or \"off\")"
            ))
        }),
    }
}

pub(crate) fn check_access_keys(
    env: &str,
    section: &str,
    keys: &[AccessKey],
) -> Result<(), ConfigError> {
    for key in keys {
        if key.id.is_empty() || key.secret.expose().is_empty() {
            return Err(ConfigError::Invalid(format!(
                "environments.{env}.{section}.access_keys has an entry with an empty id or secret; give both"
            )));
        }
    }
    Ok(())
}

pub(crate) fn resolve(env: &str, spec: &SqsSpec) -> Result<SqsSettings, ConfigError> {
    let listen = listen_address(env, "sqs", &spec.listen, DEFAULT_SQS_LISTEN)?;
    check_access_keys(env, "sqs", &spec.access_keys)?;
    if let Some(url) = &spec.public_url {
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(ConfigError::Invalid(format!(
                "environments.{env}.sqs.public_url = {url:?} must start with http:// or https://"
            )));
        }
    }
    Ok(SqsSettings {
        listen,
        access_keys: spec.access_keys.clone(),
        allow_anonymous: spec.allow_anonymous,
        public_url: spec.public_url.clone(),
    })
}

/// `CONVEYOR_SQS_ACCESS_KEYS=id:secret,id2:secret2` as the TOML array of tables it stands for.
pub(crate) fn access_keys_variable(value: &str) -> Result<toml::Value, String> {
    let mut keys = Vec::new();
    for pair in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (id, secret) = pair
            .split_once(':')
            .ok_or("write each key as ACCESS_KEY_ID:SECRET, separated by commas")?;
        let mut table = toml::Table::new();
        table.insert("id".into(), toml::Value::String(id.trim().into()));
        table.insert("secret".into(), toml::Value::String(secret.trim().into()));
        keys.push(toml::Value::Table(table));
    }
    Ok(toml::Value::Array(keys))
}

/// An AWS region name (`us-east-1`) and 12-digit account id, as they appear in ARNs.
pub(crate) fn check_location(env: &str, region: &str, account_id: &str) -> Result<(), ConfigError> {
    let region_ok = !region.is_empty()
        && region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !region_ok {
        return Err(ConfigError::Invalid(format!(
            "environments.{env}.region = {region:?} is not a region name like us-east-1"
        )));
    }
    if account_id.len() != 12 || !account_id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ConfigError::Invalid(format!(
            "environments.{env}.account_id = {account_id:?} is not a 12-digit AWS account id"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_access_keys_from_a_variable() {
        let v = access_keys_variable("AKID1:s1, AKID2:s2").unwrap();
        let keys: Vec<AccessKey> = v.try_into().unwrap();
        assert_eq!(keys.len(), 2);
        assert_eq!(keys[1].id, "AKID2");
        assert_eq!(keys[1].secret.expose(), "s2");
        assert!(access_keys_variable("no-colon").is_err());
    }

    #[test]
    fn listen_off_disables_and_bad_addresses_are_named() {
        let spec = SqsSpec {
            listen: "off".into(),
            ..Default::default()
        };
        assert_eq!(resolve("local", &spec).unwrap().listen, None);
        let spec = SqsSpec {
            listen: "nowhere".into(),
            ..Default::default()
        };
        let e = resolve("local", &spec).unwrap_err().to_string();
        assert!(e.contains("sqs.listen"), "{e}");
        assert!(check_location("x", "us-east-1", "000000000000").is_ok());
        assert!(check_location("x", "US", "000000000000").is_err());
        assert!(check_location("x", "us-east-1", "123").is_err());
    }
}
