//! The files API's settings: who may call it (JWTs and where their tenant is), how much one
//! upload may carry, how long presigned URLs live, and which browser origins may call.

use serde::{Deserialize, Serialize};

use crate::{ConfigError, Secret, Span};

const MIB: u64 = 1024 * 1024;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FilesSpec {
    /// The HS256 secret tokens are signed with (Supabase: the project's JWT secret).
    #[serde(default)]
    jwt_secret: Option<Secret>,
    /// Where the tenant id sits in the token's claims, as a dotted path.
    #[serde(default = "default_tenant_claim")]
    tenant_claim: String,
    /// When set, tokens must name this audience (Supabase: `authenticated`).
    #[serde(default)]
    audience: Option<String>,
    #[serde(default = "default_leeway")]
    leeway: Span,
    #[serde(default = "default_max_file_bytes")]
    max_file_bytes: u64,
    #[serde(default = "default_max_request_bytes")]
    max_request_bytes: u64,
    #[serde(default = "default_url_expiry")]
    url_expiry: Span,
    #[serde(default = "default_max_url_expiry")]
    max_url_expiry: Span,
    /// Browser origins allowed to call the API (`*` for any).
    #[serde(default)]
    cors_origins: Vec<String>,
}

impl Default for FilesSpec {
    fn default() -> Self {
        FilesSpec {
            jwt_secret: None,
            tenant_claim: default_tenant_claim(),
            audience: None,
            leeway: default_leeway(),
            max_file_bytes: default_max_file_bytes(),
            max_request_bytes: default_max_request_bytes(),
            url_expiry: default_url_expiry(),
            max_url_expiry: default_max_url_expiry(),
            cors_origins: Vec::new(),
        }
    }
}

fn default_tenant_claim() -> String {
    "app_metadata.tenant_id".into()
}
fn default_leeway() -> Span {
    Span(std::time::Duration::from_secs(60))
}
fn default_max_file_bytes() -> u64 {
    512 * MIB
}
fn default_max_request_bytes() -> u64 {
    1024 * MIB
}
fn default_url_expiry() -> Span {
    Span(std::time::Duration::from_secs(3_600))
}
fn default_max_url_expiry() -> Span {
    Span(std::time::Duration::from_secs(7 * 86_400))
}

/// The effective files API settings of one environment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FilesSettings {
    /// `None` leaves the files API answering 503 with how to switch it on.
    pub jwt_secret: Option<Secret>,
    /// The dotted path to the tenant id in a token's claims.
    pub tenant_claim: Vec<String>,
    pub audience: Option<String>,
    pub leeway: Span,
    pub max_file_bytes: u64,
    pub max_request_bytes: u64,
    /// Presigned URLs live this long unless the caller asks for less (or more, up to the max).
    pub url_expiry: Span,
    pub max_url_expiry: Span,
    pub cors_origins: Vec<String>,
}

pub(crate) fn resolve(env: &str, spec: &FilesSpec) -> Result<FilesSettings, ConfigError> {
    let invalid = |setting: &str, why: String| {
        ConfigError::Invalid(format!("environments.{env}.files.{setting} {why}"))
    };
    // An empty secret (`CONVEYOR_JWT_SECRET=`) means none: the API stays off.
    let jwt_secret = spec.jwt_secret.clone().filter(|s| !s.expose().is_empty());
    if let Some(secret) = &jwt_secret {
        if secret.expose().len() < 32 {
            return Err(invalid(
                "jwt_secret",
                "is shorter than 32 characters: HS256 needs a long random secret".into(),
            ));
        }
    }
    let tenant_claim: Vec<String> = spec.tenant_claim.split('.').map(str::to_string).collect();
    if tenant_claim.iter().any(String::is_empty) {
        return Err(invalid(
            "tenant_claim",
            format!(
                "= {:?} is not a dotted claim path like app_metadata.tenant_id",
                spec.tenant_claim
            ),
        ));
    }
    if spec.max_file_bytes == 0 || spec.max_request_bytes < spec.max_file_bytes {
        return Err(invalid(
            "max_request_bytes",
            "must be at least max_file_bytes, and both above 0".into(),
        ));
    }
    if spec.url_expiry.0.is_zero() || spec.url_expiry > spec.max_url_expiry {
        return Err(invalid(
            "url_expiry",
            "must be above 0 and at most max_url_expiry".into(),
        ));
    }
    if spec.max_url_expiry.seconds() > 7 * 86_400 {
        return Err(invalid(
            "max_url_expiry",
            "is longer than 7d, the longest S3 honours".into(),
        ));
    }
    for origin in &spec.cors_origins {
        let ok = origin == "*"
            || ((origin.starts_with("http://") || origin.starts_with("https://"))
                && !origin.ends_with('/'));
        if !ok {
            return Err(invalid(
                "cors_origins",
                format!("has {origin:?}: write origins like https://app.example.com, or \"*\""),
            ));
        }
    }
    Ok(FilesSettings {
        jwt_secret,
        tenant_claim,
        audience: spec.audience.clone(),
        leeway: spec.leeway,
        max_file_bytes: spec.max_file_bytes,
        max_request_bytes: spec.max_request_bytes,
        url_expiry: spec.url_expiry,
        max_url_expiry: spec.max_url_expiry,
        cors_origins: spec.cors_origins.clone(),
    })
}
