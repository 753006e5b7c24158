//! Conveyor's HTTP API: ingest routes that validate their JSON, enqueue durably and answer `202`
//! with the message ids, plus `/health` and `/ready`.
//!
//! `router(state, limits)` builds the whole app without a socket, so tests can call it directly;
//! the binary serves it. Handlers reach queues only through the `Queue` trait.

mod admin;
pub mod alarms;
pub mod analytics;
pub mod campaigns;
pub mod dashboard;
mod error;
pub mod files;
mod idempotency;
mod ingest;
mod jobs;
pub mod metrics;
pub mod openapi;
mod triage;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, FromRequest, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::{Json, Router};
use conveyor_config::{Secret, Settings};
use conveyor_queue::Queue;
use conveyor_store::Store;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use utoipa_swagger_ui::SwaggerUi;

pub use error::ApiError;
pub use idempotency::StoreKeys;

/// What the handlers share.
#[derive(Clone)]
pub struct ApiState {
    pub queue: Arc<dyn Queue>,
    pub store: Store,
    pub settings: Arc<Settings>,
    /// The Prometheus recorder's handle (`metrics::install`); `None` leaves `/metrics` off.
    pub metrics: Option<metrics_exporter_prometheus::PrometheusHandle>,
    /// Where `Idempotency-Key`s are kept: the engine's database, or the object store.
    pub idempotency: Arc<dyn conveyor_queue::idempotency::IdempotencyKeys>,
    /// Campaign recipients' jobs seen finished by this process (`campaigns.rs`).
    pub finished_jobs: campaigns::FinishedJobs,
    /// The alarms this process evaluates, as the alarm loop last saw them.
    pub alarms: alarms::AlarmBoard,
    /// The dashboard's sampled picture and its browser sessions.
    pub dashboard: dashboard::DashboardState,
}

/// Request limits.
#[derive(Debug, Clone, Copy)]
pub struct ApiLimits {
    /// Largest request body accepted (413 beyond).
    pub body_bytes: usize,
    /// Longest a request may take (408 beyond).
    pub timeout: Duration,
}

impl Default for ApiLimits {
    fn default() -> Self {
        ApiLimits {
            body_bytes: 1024 * 1024,
            timeout: Duration::from_secs(30),
        }
    }
}

/// The ingest, admin and health routes, each with its OpenAPI operation.
fn core_routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .routes(routes!(health))
        .routes(routes!(ready))
        .routes(routes!(metrics::render))
}

fn v1_routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(ingest::feedback))
        .routes(routes!(ingest::email))
        .routes(routes!(analytics::analytics_events))
        .routes(routes!(ingest::testflight_invitation))
        .routes(routes!(ingest::generic_message))
        .routes(routes!(jobs::status))
        .routes(routes!(campaigns::metrics))
}

/// The operator routes: `/v1/admin`, behind operator keys.
fn admin_routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(admin::list, admin::create))
        .routes(routes!(admin::attributes))
        .routes(routes!(admin::send))
        .routes(routes!(admin::receive))
        .routes(routes!(admin::purge))
        .routes(routes!(admin::pause))
        .routes(routes!(admin::resume))
        .routes(routes!(admin::redrive, admin::redrive_status))
        .routes(routes!(triage::peek))
        .routes(routes!(triage::timeline))
        .routes(routes!(alarms::list))
        .routes(routes!(alarms::history))
        .routes(routes!(dashboard::overview))
}

/// Routes with a body limit of their own: a campaign's recipient list.
fn large_body_routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new().routes(routes!(campaigns::create))
}

/// The OpenAPI document of the whole API (`GET /openapi.json`, `conveyor openapi`).
pub fn openapi_document() -> utoipa::openapi::OpenApi {
    let mut doc = core_routes()
        .merge(v1_routes())
        .merge(admin_routes())
        .merge(large_body_routes())
        .into_openapi();
    doc.merge(files::routes().into_openapi());
    openapi::openapi_paths(doc)
}

/// Now, in Unix milliseconds.
pub(crate) fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// The whole HTTP app.
pub fn router(state: ApiState, limits: ApiLimits) -> Router {
    let files = files::router(files::FilesState::new(
        state.store.clone(),
        &state.settings.files,
    ))
    .route_layer(middleware::from_fn(metrics::track));
    let cors = cors(&state.settings.files.cors_origins);
    let keys = Arc::new(state.settings.api_keys.clone());
    let (v1, _) = v1_routes()
        .route_layer(middleware::from_fn_with_state(
            keys.clone(),
            require_api_key,
        ))
        .split_for_parts();
    let operators = Arc::new(Operators {
        operator_keys: state.settings.operator_keys.clone(),
        api_keys: state.settings.api_keys.clone(),
        sessions: state.dashboard.sessions.clone(),
    });
    let dashboard = dashboard::router(state.clone());
    let (admin, _) = admin_routes()
        .route_layer(middleware::from_fn_with_state(
            operators,
            require_operator_key,
        ))
        .split_for_parts();
    let (large, _) = large_body_routes()
        .route_layer(middleware::from_fn_with_state(keys, require_api_key))
        .split_for_parts();
    let large = large
        .route_layer(middleware::from_fn(metrics::track))
        .with_state(state.clone())
        .layer(DefaultBodyLimit::max(campaigns::BODY_LIMIT))
        .layer(middleware::from_fn_with_state(
            (
                campaigns::BODY_LIMIT as u64,
                "a campaign's request body limit",
            ),
            refuse_declared_oversize,
        ))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            limits.timeout,
        ));
    let (core, _) = core_routes().split_for_parts();
    let document = openapi_document();
    // Files have their own body limits and no timeout; everything else has both.
    let app = core
        .merge(v1)
        .merge(admin)
        .fallback(not_found)
        .route_layer(middleware::from_fn(metrics::track))
        .with_state(state)
        .layer(DefaultBodyLimit::max(limits.body_bytes))
        .layer(middleware::from_fn_with_state(
            (limits.body_bytes as u64, "the API's request body limit"),
            refuse_declared_oversize,
        ))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            limits.timeout,
        ))
        .merge(files)
        .merge(large)
        .merge(dashboard)
        .merge(SwaggerUi::new("/docs").url("/openapi.json", document))
        .layer(TraceLayer::new_for_http())
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid));
    match cors {
        Some(cors) => app.layer(cors),
        None => app,
    }
}

/// Browser access from the configured origins (the seeds' frontend), or none.
fn cors(origins: &[String]) -> Option<tower_http::cors::CorsLayer> {
    use tower_http::cors::{AllowOrigin, CorsLayer};
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
                axum::http::Method::GET,
                axum::http::Method::POST,
                axum::http::Method::PUT,
                axum::http::Method::DELETE,
                axum::http::Method::HEAD,
            ])
            .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE, header::RANGE])
            .expose_headers([
                header::CONTENT_DISPOSITION,
                header::CONTENT_LENGTH,
                header::CONTENT_RANGE,
                header::ETAG,
            ])
            .max_age(Duration::from_secs(3600)),
    )
}

#[utoipa::path(get, path = "/health", tag = "health",
    responses((status = 200, description = "The process is up", body = serde_json::Value)))]
async fn health() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "ok" }))
}

/// Ready when the queue service and the object store both answer.
#[utoipa::path(get, path = "/ready", tag = "health",
    responses((status = 200, description = "Queues and store answer", body = serde_json::Value),
        (status = 503, description = "A dependency does not answer", body = openapi::ErrorBody)))]
async fn ready(State(state): State<ApiState>) -> Result<Json<serde_json::Value>, ApiError> {
    state
        .queue
        .list_queues(None, Some(1), None)
        .await
        .map_err(|e| ApiError::Unavailable(format!("the queue service does not answer: {e}")))?;
    state
        .store
        .check()
        .await
        .map_err(|e| ApiError::Unavailable(format!("the object store does not answer: {e}")))?;
    Ok(Json(serde_json::json!({ "status": "ready" })))
}

async fn not_found() -> ApiError {
    ApiError::NotFound("no such route; see the README for the API".into())
}

/// With API keys configured, every `/v1` request needs `Authorization: Bearer <key>`.
/// Refuse a request whose declared `Content-Length` is over the limit at once, before reading
/// any of its body: a client declaring a huge body and sending nothing must not hold a
/// connection until the body limit is reached. The state is the limit and its name.
pub(crate) async fn refuse_declared_oversize(
    State((limit, what)): State<(u64, &'static str)>,
    request: Request,
    next: Next,
) -> Response {
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    match declared {
        Some(n) if n > limit => {
            // Answered at once; what the client is still sending is read and dropped for a
            // bounded while, so the connection closes cleanly instead of resetting under the
            // client before it has read the answer.
            tokio::spawn(discard(request.into_body()));
            let mut response = axum::response::IntoResponse::into_response(
                ApiError::PayloadTooLarge(format!(
                    "the request declares {n} bytes, over the {limit} bytes this route accepts ({what}); send less"
                )),
            );
            response.headers_mut().insert(
                header::CONNECTION,
                axum::http::HeaderValue::from_static("close"),
            );
            response
        }
        _ => next.run(request).await,
    }
}

/// Read and drop up to 16 MiB of a refused body, for at most 5 s.
async fn discard(body: axum::body::Body) {
    use futures_util::StreamExt;
    let mut stream = body.into_data_stream();
    let mut left: usize = 16 * 1024 * 1024;
    let _ = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(Ok(chunk)) = stream.next().await {
            left = left.saturating_sub(chunk.len());
            if left == 0 {
                break;
            }
        }
    })
    .await;
}

async fn require_api_key(
    State(keys): State<Arc<Vec<Secret>>>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    if keys.is_empty() {
        return Ok(next.run(request).await);
    }
    match bearer(&request) {
        Some(p) if one_of(&keys, p) => Ok(next.run(request).await),
        _ => Err(ApiError::Unauthorized(
            "send a valid API key as `Authorization: Bearer <key>`".into(),
        )),
    }
}

/// Who may call the operator routes: holders of an operator key, and browsers signed in to
/// the dashboard.
struct Operators {
    operator_keys: Vec<Secret>,
    api_keys: Vec<Secret>,
    sessions: dashboard::Sessions,
}

/// A browser's request made by another site's page: its `Origin` is not this host, or the
/// browser says so (`Sec-Fetch-Site: cross-site`). Scripts and the CLI send neither.
pub(crate) fn cross_site(headers: &axum::http::HeaderMap) -> bool {
    if headers
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == "cross-site")
    {
        return true;
    }
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let origin_host = origin.split_once("://").map_or(origin, |(_, h)| h);
    origin == "null" || !origin_host.eq_ignore_ascii_case(host)
}

fn bearer(request: &Request) -> Option<&str> {
    request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
}

pub(crate) fn one_of(keys: &[Secret], presented: &str) -> bool {
    keys.iter()
        .any(|k| constant_time_eq(k.expose().as_bytes(), presented.as_bytes()))
}

/// `/v1/admin` needs an operator key: an ingest key is 403 (it is valid, just not for this),
/// anything else 401. With no operator keys the routes are open only where no API key is set
/// either (the loopback development default); a deployment with API keys and no operator keys
/// has them closed, saying what to set.
async fn require_operator_key(
    State(who): State<Arc<Operators>>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let changes = !matches!(
        *request.method(),
        axum::http::Method::GET | axum::http::Method::HEAD
    );
    // A page of another site may make a browser post a form here (no CORS check stops a form):
    // refused, whatever the keys, so even the open loopback default cannot be purged that way.
    if changes && cross_site(request.headers()) {
        return Err(ApiError::Forbidden(
            "a cross-site request cannot reach the operator routes".into(),
        ));
    }
    // A signed-in dashboard: its cookie, and for a change also the session's CSRF token.
    if let Some(csrf) = who.sessions.csrf_of(request.headers()) {
        let token = request
            .headers()
            .get(dashboard::session::CSRF_HEADER)
            .map(|v| v.as_bytes());
        if !changes || token.is_some_and(|t| constant_time_eq(t, csrf.as_bytes())) {
            return Ok(next.run(request).await);
        }
        if bearer(&request).is_none() {
            return Err(ApiError::Forbidden(
                "a dashboard change needs the page's CSRF token (X-CSRF-Token); reload the dashboard".into(),
            ));
        }
    }
    if who.operator_keys.is_empty() && who.api_keys.is_empty() {
        return Ok(next.run(request).await);
    }
    match bearer(&request) {
        Some(p) if one_of(&who.operator_keys, p) => Ok(next.run(request).await),
        Some(p) if one_of(&who.api_keys, p) => Err(ApiError::Forbidden(
            "an ingest API key cannot reach the operator routes; send an operator key (operator_keys, CONVEYOR_OPERATOR_KEYS)".into(),
        )),
        _ if who.operator_keys.is_empty() => Err(ApiError::Forbidden(
            "this deployment has API keys but no operator keys, so the operator routes are closed: set operator_keys (or CONVEYOR_OPERATOR_KEYS)".into(),
        )),
        _ => Err(ApiError::Unauthorized(
            "send an operator key as `Authorization: Bearer <key>`".into(),
        )),
    }
}

/// Compares without stopping at the first difference, so timing does not reveal a key's prefix.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// `Json` whose refusals (bad JSON, wrong content type, too large) come back in our error shape.
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    Json<T>: FromRequest<S, Rejection = axum::extract::rejection::JsonRejection>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(request, state).await {
            Ok(Json(v)) => Ok(ApiJson(v)),
            Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                Err(ApiError::PayloadTooLarge(
                    "the request body is larger than this server accepts".into(),
                ))
            }
            // Missing fields and wrong types (axum's 422) are a bad request like every other
            // invalid value the API refuses: one status and code for all of them.
            Err(rejection) if rejection.status() == StatusCode::UNSUPPORTED_MEDIA_TYPE => {
                Err(ApiError::Rejected(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "send the body as JSON with content-type: application/json".into(),
                ))
            }
            Err(rejection) => Err(ApiError::BadRequest(plain_json_error(
                &rejection.body_text(),
            ))),
        }
    }
}

/// serde's message with Rust's type names said in words (`expected u8` → `expected a whole
/// number from 0 to 255`), so the caller is not told about the server's types.
fn plain_json_error(text: &str) -> String {
    let mut out = text
        .replace(
            "Failed to deserialize the JSON body into the target type: ",
            "the JSON body does not fit: ",
        )
        .replace(
            "Failed to parse the request body as JSON: ",
            "the body is not valid JSON: ",
        );
    for (rust, words) in [
        ("expected u8", "expected a whole number from 0 to 255"),
        ("expected u16", "expected a whole number from 0 to 65535"),
        (
            "expected u32",
            "expected a whole number from 0 to 4294967295",
        ),
        ("expected u64", "expected a whole number of 0 or more"),
        ("expected i64", "expected a whole number"),
        ("expected i32", "expected a whole number"),
        ("expected f64", "expected a number"),
        ("expected usize", "expected a whole number of 0 or more"),
        ("expected a sequence", "expected a list"),
        ("expected a map", "expected an object"),
    ] {
        out = out.replace(rust, words);
    }
    if let Some(start) = out.find("expected struct ") {
        let end = out[start + 16..]
            .find(|c: char| !c.is_alphanumeric())
            .map_or(out.len(), |e| start + 16 + e);
        out.replace_range(start..end, "expected an object");
    }
    out
}
