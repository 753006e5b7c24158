//! The Amazon S3 REST protocol over an environment's local object store, so the AWS CLI,
//! boto3, DuckDB's httpfs and every S3 SDK read and write the same objects as Conveyor's
//! workers and files API.
//!
//! The protocol (routing, XML, SigV4, chunked uploads) is the `s3s` library's; this crate says
//! what each operation means for the local store ([`service`]), which keys the filesystem can
//! hold ([`names`]), and keeps what S3 has and files do not (ETags, content types, user
//! metadata, tags, checksums, created buckets) in a small database beside the queues
//! ([`sidecar`]).

pub mod body;
pub mod buckets;
pub mod digests;
pub mod form_head;
pub mod listing;
pub mod multipart;
pub mod names;
pub mod service;
pub mod sidecar;
pub mod unsigned;

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use axum::Router;
use s3s::auth::{S3Auth, SecretKey};
use s3s::host::{S3Host, VirtualHost};
use s3s::service::S3ServiceBuilder;
use s3s::{s3_error, S3Result};

pub use buckets::BucketsLayout;

/// The largest file a browser POST upload may carry (larger ones: PUT, or multipart).
pub const MAX_POST_FILE_BYTES: u64 = 64 * 1024 * 1024;

/// The endpoint could not be set up (its directories or metadata database).
#[derive(Debug, thiserror::Error)]
#[error("cannot serve S3: {0}")]
pub struct S3SetupError(pub String);

/// Who may call the endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credentials {
    /// Any request, signed with any key or not at all (loopback development).
    AcceptAny,
    /// Only requests signed (SigV4, header or query) by one of these access key ids with its
    /// secret.
    Keys(Vec<(String, String)>),
}

#[derive(Debug, Clone)]
pub struct S3Options {
    pub layout: BucketsLayout,
    /// The region buckets report (`GetBucketLocation`, `x-amz-bucket-region`).
    pub region: String,
    pub credentials: Credentials,
    /// Host names whose subdomains are buckets (virtual-hosted style); `localhost` always is.
    pub domains: Vec<String>,
    /// Browser origins that may call the endpoint (the files API's `cors_origins`, so a page
    /// that may ask for a presigned form may also post it); `*` for any.
    pub cors_origins: Vec<String>,
}

/// The S3 endpoint as a router, for the same listener the API and the SQS endpoint run on.
pub fn router(options: S3Options) -> Result<Router, S3SetupError> {
    let buckets = buckets::Buckets::open(options.layout)?;
    let mut builder = S3ServiceBuilder::new(service::LocalS3 {
        buckets,
        region: options.region,
    });
    let mut config = s3s::config::S3Config::default();
    // s3s holds a browser POST's file in memory to check its policy; S3 allows 5 GiB there,
    // which no form upload needs and no server should buffer.
    config.post_object_max_file_size = MAX_POST_FILE_BYTES;
    builder.set_config(Arc::new(s3s::config::StaticConfigProvider::new(Arc::new(
        config,
    ))));
    let mut domains = options.domains;
    domains.push("localhost".into());
    builder.set_host(Hosts { domains });
    let verifies = match options.credentials {
        Credentials::Keys(keys) => {
            builder.set_auth(Keys(keys.into_iter().collect()));
            true
        }
        Credentials::AcceptAny => false,
    };
    let s3 = builder.build();
    let endpoint = tower::service_fn(move |request: Request| {
        let s3 = s3.clone();
        async move {
            let request = if verifies {
                form_head::read_form_head(request, false).await
            } else {
                match unsigned::strip_signature(request, buckets::now_ms() / 1000) {
                    Ok(request) => form_head::read_form_head(request, true).await,
                    Err(unsigned::Expired) => return Ok(expired()),
                }
            };
            let (request, body_read) = body::track_end(request);
            let request = request.map(s3s::Body::http_body_unsync);
            let mut response = match s3.call(request).await {
                Ok(response) => response.map(Body::new),
                Err(e) => {
                    tracing::warn!(error = ?e, "S3 request failed");
                    (
                        http::StatusCode::INTERNAL_SERVER_ERROR,
                        [(http::header::CONTENT_TYPE, "application/xml")],
                        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>InternalError</Code><Message>We encountered an internal error. Please try again.</Message></Error>",
                    )
                        .into_response()
                }
            };
            // An answer given before the body was read (a refused condition, a bad key): what
            // is left of the body must not be taken for the next request on this connection.
            if !body_read.is_ended() {
                response.headers_mut().insert(
                    http::header::CONNECTION,
                    http::HeaderValue::from_static("close"),
                );
            }
            Ok::<Response, Infallible>(response)
        }
    });
    let router = Router::new().fallback_service(endpoint);
    Ok(match cors(&options.cors_origins) {
        Some(layer) => router.layer(layer),
        None => router,
    })
}

/// What a browser page on an allowed origin needs to GET, PUT and POST objects with presigned
/// URLs and forms, and to read the answer's ETag.
fn cors(origins: &[String]) -> Option<tower_http::cors::CorsLayer> {
    use tower_http::cors::{AllowHeaders, AllowOrigin, CorsLayer};
    if origins.is_empty() {
        return None;
    }
    let allow = if origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(origins.iter().filter_map(|o| o.parse().ok()))
    };
    Some(
        CorsLayer::new()
            .allow_origin(allow)
            .allow_methods([
                http::Method::GET,
                http::Method::HEAD,
                http::Method::PUT,
                http::Method::POST,
                http::Method::DELETE,
            ])
            // Presigned PUTs carry Content-Type and any x-amz-* header the signer named.
            .allow_headers(AllowHeaders::mirror_request())
            .expose_headers([
                http::header::ETAG,
                http::header::CONTENT_LENGTH,
                http::header::CONTENT_RANGE,
                http::HeaderName::from_static("x-amz-version-id"),
            ])
            .max_age(std::time::Duration::from_secs(600)),
    )
}

/// S3's answer to a presigned URL past its expiry.
fn expired() -> Response {
    (
        http::StatusCode::FORBIDDEN,
        [(http::header::CONTENT_TYPE, "application/xml")],
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>",
    )
        .into_response()
}

/// Path-style on any host, virtual-hosted (`bucket.localhost:9000`) on the configured domains.
struct Hosts {
    domains: Vec<String>,
}

impl S3Host for Hosts {
    fn parse_host_header<'a>(&'a self, host: &'a str) -> S3Result<VirtualHost<'a>> {
        let name = match host.rsplit_once(':') {
            // An IPv6 literal ([::1]:9000) keeps its brackets; a port is digits.
            Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
            _ => host,
        };
        for domain in &self.domains {
            if name.eq_ignore_ascii_case(domain) {
                return Ok(VirtualHost::new(domain.as_str()));
            }
            let bucket = name
                .len()
                .checked_sub(domain.len() + 1)
                .filter(|&at| {
                    name.as_bytes()[at] == b'.' && name[at + 1..].eq_ignore_ascii_case(domain)
                })
                .map(|at| &name[..at]);
            if let Some(bucket) = bucket.filter(|b| !b.is_empty()) {
                return Ok(VirtualHost::new(domain.as_str()).with_bucket(bucket));
            }
        }
        // An IP address or another name clients reach us by: the bucket is in the path.
        Ok(VirtualHost::new(name))
    }
}

struct Keys(HashMap<String, String>);

#[async_trait::async_trait]
impl S3Auth for Keys {
    async fn get_secret_key(&self, access_key: &str) -> S3Result<SecretKey> {
        match self.0.get(access_key) {
            Some(secret) => Ok(SecretKey::from(secret.as_str())),
            None => Err(s3_error!(
                InvalidAccessKeyId,
                "The AWS Access Key Id you provided does not exist in our records."
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_name_buckets_only_below_a_known_domain() {
        let hosts = Hosts {
            domains: vec!["s3.internal".into(), "localhost".into()],
        };
        let bucket = |h: &str| {
            hosts
                .parse_host_header(h)
                .unwrap()
                .bucket()
                .map(str::to_string)
        };
        assert_eq!(bucket("localhost:9000"), None);
        assert_eq!(bucket("127.0.0.1:9000"), None);
        assert_eq!(bucket("[::1]:9000"), None);
        assert_eq!(bucket("conveyor:9000"), None);
        assert_eq!(bucket("results.localhost:9000").as_deref(), Some("results"));
        assert_eq!(
            bucket("my.dotted.bucket.s3.internal").as_deref(),
            Some("my.dotted.bucket")
        );
        assert_eq!(bucket("notlocalhost:9000"), None);
    }
}
