//! The OpenAPI document of the whole HTTP API. Routes are registered from their
//! `#[utoipa::path]` annotations (`utoipa_axum::routes!`), so the document is the routing table
//! and cannot leave a route out; `docs/openapi.json` is its checked-in copy, compared in CI.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

/// Every error answer: `{"error": {"code": "...", "message": "..."}}`.
#[derive(ToSchema)]
#[allow(dead_code)] // a schema: the answers are built in `error.rs`
pub struct ErrorBody {
    error: ErrorDetail,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ErrorDetail {
    /// Stable and machine-readable, one per kind of refusal across the whole API:
    /// `bad_request` (400: invalid JSON, a missing field, a wrong type or value),
    /// `unauthorized` (401), `forbidden` (403), `not_found` (404), `conflict` (409),
    /// `idempotency_key_reused` (422: the key came with another request), `payload_too_large` (413), `unsupported_media_type` (415), `range_not_satisfiable` (416),
    /// `request_timeout` (408: headers or body sent too slowly), `unavailable` (503: the queue
    /// service cannot take requests, e.g. its disk is full), `insufficient_storage` (507),
    /// `store_failed` (502), `internal` (500), or a queue's own SQS error code (400/404).
    code: String,
    /// What was wrong and what to do.
    message: String,
}

/// The `Idempotency-Key` header of the ingest routes.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Header)]
#[allow(dead_code)]
pub struct IdempotencyHeader {
    /// Makes a retried request count once: for the idempotency window (24 hours unless
    /// `idempotency_window` says otherwise) every request with the same key, from the same API
    /// key to the same route, gets the first request's answer again (marked
    /// `Idempotent-Replayed: true`) and enqueues nothing; the same key with a different body is
    /// refused with 422, and while the first request is still running, with 409. 1 to 100
    /// printable ASCII characters.
    #[param(rename = "Idempotency-Key")]
    idempotency_key: Option<String>,
}

/// The refusals every files route can give (listed once, used by each route's document).
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)]
pub enum FilesRefusals {
    #[response(status = 400, description = "Invalid request")]
    BadRequest(ErrorBody),
    #[response(status = 401, description = "Missing or invalid credential")]
    Unauthorized(ErrorBody),
    #[response(status = 503, description = "The files API is off (no JWT secret)")]
    Off(ErrorBody),
}

/// The refusals every ingest and admin route can give.
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)]
pub enum ApiRefusals {
    #[response(status = 400, description = "Invalid request")]
    BadRequest(ErrorBody),
    #[response(status = 401, description = "Missing or invalid credential")]
    Unauthorized(ErrorBody),
}

/// `202 Accepted`: the id of each message enqueued (`message_id` when there is one) and where
/// its job status is (`GET` the URL).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct AcceptedBody {
    message_id: Option<String>,
    status_url: Option<String>,
    message_ids: Option<Vec<String>>,
    status_urls: Option<Vec<String>>,
}

/// One file, as a browser form sends it.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct UploadForm {
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
}

/// Several files, each in a field named `files`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct UploadManyForm {
    #[schema(value_type = Vec<String>, format = Binary)]
    files: Vec<Vec<u8>>,
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Conveyor",
        description = "Ingest routes that enqueue durably and answer 202, operator routes for the queues, and the multi-tenant files API. Ingest and admin routes take an API key, files routes a user's JWT, both as `Authorization: Bearer …`.",
        license(name = "Apache-2.0")
    ),
    modifiers(&Security),
    components(schemas(ErrorBody, ErrorDetail, AcceptedBody, UploadForm, UploadManyForm)),
    tags(
        (name = "ingest", description = "Hand work to the queues"),
        (name = "jobs", description = "Where each message's work stands"),
        (name = "admin", description = "Operate the queues of this server"),
        (name = "files", description = "Each tenant's files, under tenants/{tenant_id}/"),
        (name = "health", description = "Liveness, readiness and metrics"),
    )
)]
pub struct ApiDoc;

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let bearer = |format: &str, description: &str| {
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format(format)
                    .description(Some(description))
                    .build(),
            )
        };
        components.add_security_scheme(
            "api_key",
            bearer(
                "API key",
                "One of the environment's api_keys (none configured: open)",
            ),
        );
        components.add_security_scheme(
            "jwt",
            bearer("JWT", "A user's HS256 JWT whose claims name the tenant"),
        );
    }
}

/// axum writes a path that takes the rest of the URL as `{*name}`; OpenAPI calls the same
/// parameter `{name}`.
pub fn openapi_paths(mut doc: utoipa::openapi::OpenApi) -> utoipa::openapi::OpenApi {
    let paths = std::mem::take(&mut doc.paths.paths);
    doc.paths.paths = paths
        .into_iter()
        .map(|(path, item)| (path.replace("{*", "{"), item))
        .collect();
    doc
}
