//! What every HTTP listener (the API, the SQS endpoint) allows a client connection: how many at
//! once, and how long a client may take to send a request's headers, stay idle between requests,
//! or pause in the middle of a body.

use serde::{Deserialize, Serialize};

use crate::{ConfigError, Span};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ConnectionsSpec {
    #[serde(default = "default_max_connections")]
    max_connections: u64,
    #[serde(default = "default_header_timeout")]
    header_timeout: Span,
    #[serde(default = "default_body_timeout")]
    body_timeout: Span,
    #[serde(default = "default_idle_timeout")]
    idle_timeout: Span,
}

impl Default for ConnectionsSpec {
    fn default() -> Self {
        ConnectionsSpec {
            max_connections: default_max_connections(),
            header_timeout: default_header_timeout(),
            body_timeout: default_body_timeout(),
            idle_timeout: default_idle_timeout(),
        }
    }
}

fn default_max_connections() -> u64 {
    1024
}
fn default_header_timeout() -> Span {
    Span(std::time::Duration::from_secs(10))
}
fn default_body_timeout() -> Span {
    Span(std::time::Duration::from_secs(30))
}
fn default_idle_timeout() -> Span {
    Span(std::time::Duration::from_secs(60))
}

/// The effective connection limits of one environment, the same on every listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ConnectionSettings {
    /// Connections served at once per listener; further clients wait to be accepted.
    pub max_connections: usize,
    /// From a request's first byte to its last header line; 408 beyond.
    pub header_timeout: Span,
    /// The longest pause while a request body is being read; 408 beyond.
    pub body_timeout: Span,
    /// A kept-alive connection with no request for this long is closed.
    pub idle_timeout: Span,
}

pub(crate) fn resolve(
    env: &str,
    spec: &ConnectionsSpec,
) -> Result<ConnectionSettings, ConfigError> {
    let invalid = |key: &str, why: &str| {
        ConfigError::Invalid(format!("environments.{env}.connections.{key} {why}"))
    };
    if !(1..=1_000_000).contains(&spec.max_connections) {
        return Err(invalid("max_connections", "must be between 1 and 1000000"));
    }
    for (key, span) in [
        ("header_timeout", spec.header_timeout),
        ("body_timeout", spec.body_timeout),
        ("idle_timeout", spec.idle_timeout),
    ] {
        if span.0.is_zero() {
            return Err(invalid(key, "must be longer than 0s"));
        }
    }
    Ok(ConnectionSettings {
        max_connections: spec.max_connections as usize,
        header_timeout: spec.header_timeout,
        body_timeout: spec.body_timeout,
        idle_timeout: spec.idle_timeout,
    })
}
