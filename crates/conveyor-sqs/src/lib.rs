//! The Amazon SQS wire protocol over any [`Queue`], so the AWS CLI, boto3 and every AWS SDK
//! talk to Conveyor unchanged.
//!
//! One HTTP handler takes both protocols SQS speaks:
//! - **AWS JSON 1.0** (`X-Amz-Target: AmazonSQS.<Action>`), what current SDKs send; errors carry
//!   the `x-amzn-query-error` header SDKs use to pick the exception class;
//! - **query** (`Action=…` form parameters, XML answers), for older SDKs and tools.
//!
//! The query protocol is converted to the JSON shape on the way in and rendered from it on the
//! way out, so each action ([`actions`]) is written once.

pub mod actions;
pub mod digest;
pub mod error;
pub mod input;
pub mod query;
pub mod sigv4;

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use conveyor_queue::{Location, Queue};
use serde_json::Value;

pub use error::ApiError;
pub use sigv4::Credentials;

/// The largest request body accepted: a batch of ten messages totalling the 1 MiB SQS allows,
/// with room for the worst-case growth of JSON escaping or form encoding.
pub const DEFAULT_MAX_REQUEST_BYTES: usize = 5 * 1024 * 1024;

const JSON_CONTENT_TYPE: &str = "application/x-amz-json-1.0";

/// How the endpoint presents itself.
#[derive(Clone)]
pub struct SqsOptions {
    /// Region and account id in queue URLs and ARNs; must be the queue engine's own.
    pub location: Location,
    /// The scheme and authority of queue URLs (`http://sqs.internal:9324`). Without it, URLs
    /// use the `Host` the client called, so they work from wherever the client is.
    pub public_url: Option<String>,
    pub credentials: Credentials,
    pub max_request_bytes: usize,
    /// Queues of regions other than `location`'s, for clients that sign for them. SQS queues
    /// are per region; without this, a request signed for another region is refused.
    pub other_regions: Option<Arc<dyn RegionalQueues>>,
}

/// The queue service of each region a client may sign for, besides the endpoint's own.
pub trait RegionalQueues: Send + Sync {
    /// The queues of `region` (already checked to be a well-formed region name); an error is
    /// said to the client as a service failure.
    fn queues(&self, region: &str) -> Result<Arc<dyn Queue>, String>;
}

impl Default for SqsOptions {
    fn default() -> Self {
        SqsOptions {
            location: Location::default(),
            public_url: None,
            credentials: Credentials::AcceptAny,
            max_request_bytes: DEFAULT_MAX_REQUEST_BYTES,
            other_regions: None,
        }
    }
}

#[derive(Clone)]
struct Service {
    queue: Arc<dyn Queue>,
    options: Arc<SqsOptions>,
}

/// The SQS endpoint: every path and method goes to one handler, as SQS queue URLs are paths.
pub fn router(queue: Arc<dyn Queue>, options: SqsOptions) -> Router {
    Router::new().fallback(handle).with_state(Service {
        queue,
        options: Arc::new(options),
    })
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Protocol {
    Json,
    Query,
}

async fn handle(State(service): State<Service>, request: Request) -> Response {
    let request_id = uuid::Uuid::new_v4().to_string();
    let protocol = if request.headers().contains_key("x-amz-target") {
        Protocol::Json
    } else {
        Protocol::Query
    };
    let (action, result) = call(&service, protocol, request).await;
    match &result {
        Ok(_) => tracing::debug!(action, "sqs request"),
        Err(e) if e.sender_fault => tracing::debug!(action, code = e.code, "sqs request refused"),
        Err(e) => tracing::warn!(action, code = e.code, error = %e.message, "sqs request failed"),
    }
    let mut response = match (protocol, result) {
        (Protocol::Json, Ok(value)) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, JSON_CONTENT_TYPE)],
            value.to_string(),
        )
            .into_response(),
        (Protocol::Json, Err(e)) => {
            let body = serde_json::json!({
                "__type": format!("com.amazonaws.sqs#{}", e.code),
                "message": e.message,
            });
            let mut response = (
                status(e.status),
                [(header::CONTENT_TYPE, JSON_CONTENT_TYPE)],
                body.to_string(),
            )
                .into_response();
            if let Ok(v) = HeaderValue::from_str(&format!("{};{}", e.query_code, e.fault())) {
                response.headers_mut().insert("x-amzn-query-error", v);
            }
            response
        }
        (Protocol::Query, Ok(value)) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/xml")],
            query::render(&action, &value, &request_id),
        )
            .into_response(),
        (Protocol::Query, Err(e)) => (
            status(e.status),
            [(header::CONTENT_TYPE, "text/xml")],
            query::render_error(&e, &request_id),
        )
            .into_response(),
    };
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert("x-amzn-requestid", v);
    }
    response
}

fn status(code: u16) -> StatusCode {
    StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// Decode, authenticate and run one request; returns the action name (for logs and the query
/// protocol's XML element names) with the result.
async fn call(
    service: &Service,
    protocol: Protocol,
    request: Request,
) -> (String, Result<Value, ApiError>) {
    let (parts, body) = request.into_parts();
    let options = &service.options;
    // A declared length over the limit is refused before any of the body is read.
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > options.max_request_bytes as u64) {
        return (
            String::new(),
            Err(ApiError::too_large(options.max_request_bytes)),
        );
    }
    let body = match read_body(body, options.max_request_bytes).await {
        Ok(body) => body,
        Err(e) => return (String::new(), Err(e)),
    };
    if let Credentials::Keys(keys) = &options.credentials {
        let signed = sigv4::SignedRequest {
            method: &parts.method,
            uri: &parts.uri,
            headers: &parts.headers,
            body: &body,
        };
        if let Err(e) = sigv4::verify(&signed, keys, unix_now()) {
            return (String::new(), Err(e));
        }
    }
    // The region comes from the credential scope (signed or not), else it is the endpoint's.
    let (queue, location) = match region_queues(service, &parts.headers) {
        Ok(found) => found,
        Err(e) => return (String::new(), Err(e)),
    };
    let decoded = match protocol {
        Protocol::Json => decode_json(&parts.method, &parts.headers, &body),
        Protocol::Query => decode_query(&parts.method, &parts.uri, &body),
    };
    let (action, mut parameters) = match decoded {
        Ok(decoded) => decoded,
        Err(e) => return (String::new(), Err(e)),
    };
    let base_url = base_url(options, &parts.headers);
    // The query protocol may address the queue by the request path instead of a parameter.
    if protocol == Protocol::Query && parts.uri.path().len() > 1 {
        if let Value::Object(map) = &mut parameters {
            map.entry("QueueUrl")
                .or_insert_with(|| format!("{base_url}{}", parts.uri.path()).into());
        }
    }
    let cx = actions::Context {
        queue: queue.as_ref(),
        location: &location,
        base_url: &base_url,
    };
    let result = match input::Input::new(&parameters) {
        Ok(input) => actions::dispatch(&cx, &action, input).await,
        Err(e) => Err(e),
    };
    (action, result)
}

/// The queues and location of the region the request is signed for.
fn region_queues(
    service: &Service,
    headers: &HeaderMap,
) -> Result<(Arc<dyn Queue>, Location), ApiError> {
    let home = &service.options.location;
    let region = match sigv4::credential_region(headers) {
        Some(region) if region != home.region => region,
        _ => return Ok((service.queue.clone(), home.clone())),
    };
    let Some(regions) = &service.options.other_regions else {
        return Err(ApiError::signature_mismatch(format!(
            "the credential is scoped to the region {region}; this endpoint serves {}: set the client's region to it",
            home.region
        )));
    };
    if !is_region_name(region) {
        return Err(ApiError::signature_mismatch(format!(
            "{region:?} is not a region name like us-west-2"
        )));
    }
    let queue = regions
        .queues(region)
        .map_err(|e| ApiError::from(conveyor_queue::QueueError::Unavailable(e)))?;
    Ok((
        queue,
        Location {
            region: region.to_string(),
            account_id: home.account_id.clone(),
        },
    ))
}

/// `us-west-2`, `us-gov-east-1`, `cn-north-1`: lowercase words and digits joined by hyphens.
/// Checked before a region becomes a directory name.
fn is_region_name(region: &str) -> bool {
    (2..=32).contains(&region.len())
        && region.split('-').all(|part| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
}

async fn read_body(body: Body, limit: usize) -> Result<Bytes, ApiError> {
    axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| ApiError::too_large(limit))
}

fn decode_json(
    method: &Method,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(String, Value), ApiError> {
    if method != Method::POST {
        return Err(ApiError::malformed(
            "JSON protocol requests must be POSTs of the parameters",
        ));
    }
    let target = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let action = target
        .strip_prefix("AmazonSQS.")
        .ok_or_else(|| ApiError::invalid_action(target))?;
    let parameters = if body.iter().all(u8::is_ascii_whitespace) {
        Value::Null
    } else {
        serde_json::from_slice(body)
            .map_err(|e| ApiError::malformed(format!("the request body is not valid JSON: {e}")))?
    };
    Ok((action.to_string(), parameters))
}

fn decode_query(
    method: &Method,
    uri: &axum::http::Uri,
    body: &[u8],
) -> Result<(String, Value), ApiError> {
    if method != Method::POST && method != Method::GET {
        return Err(ApiError::malformed(format!(
            "{method} is not an SQS request: POST form parameters (or send JSON with X-Amz-Target)"
        )));
    }
    let mut pairs = query::form_pairs(uri.query().unwrap_or("").as_bytes())?;
    pairs.extend(query::form_pairs(body)?);
    query::parse(&pairs)
}

fn base_url(options: &SqsOptions, headers: &HeaderMap) -> String {
    if let Some(url) = &options.public_url {
        return url.trim_end_matches('/').to_string();
    }
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .filter(|h| !h.is_empty() && h.bytes().all(|b| b.is_ascii_graphic()))
        .unwrap_or("localhost");
    format!("http://{host}")
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}
