//! One error type for every HTTP answer that is not a success, rendered as
//! `{"error": {"code": "...", "message": "..."}}`. Internal failures are logged with their detail
//! and answered without it.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use conveyor_queue::QueueError;

#[derive(Debug)]
pub enum ApiError {
    BadRequest(String),
    /// No valid credential; the text says which one to send.
    Unauthorized(String),
    /// A credential that is valid but does not allow this (an expired or altered signed URL).
    Forbidden(String),
    NotFound(String),
    Conflict(String),
    /// An `Idempotency-Key` sent again with a different request.
    KeyReused(String),
    /// A `Range` outside the object; carries the object's size for `Content-Range`.
    RangeNotSatisfiable(u64),
    PayloadTooLarge(String),
    /// A request the framework refused before a handler ran (wrong content type, bad JSON).
    Rejected(StatusCode, String),
    Unavailable(String),
    /// Analytics events refused: each with its index and reason, in the error's `rejected`.
    RejectedEvents {
        message: String,
        rejected: Vec<serde_json::Value>,
    },
    Queue(QueueError),
    /// An object store failure no request can fix (logged, answered without its detail).
    Store(conveyor_store::StoreError),
}

impl From<QueueError> for ApiError {
    fn from(e: QueueError) -> Self {
        ApiError::Queue(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code, message) = match self {
            ApiError::BadRequest(m) => (StatusCode::BAD_REQUEST, "bad_request", m),
            ApiError::Unauthorized(m) => (StatusCode::UNAUTHORIZED, "unauthorized", m),
            ApiError::Forbidden(m) => (StatusCode::FORBIDDEN, "forbidden", m),
            ApiError::NotFound(m) => (StatusCode::NOT_FOUND, "not_found", m),
            ApiError::Conflict(m) => (StatusCode::CONFLICT, "conflict", m),
            ApiError::KeyReused(m) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency_key_reused",
                m,
            ),
            ApiError::RangeNotSatisfiable(size) => {
                let mut response = (
                    StatusCode::RANGE_NOT_SATISFIABLE,
                    Json(serde_json::json!({ "error": {
                        "code": "range_not_satisfiable",
                        "message": format!("the requested range is outside the file's {size} bytes"),
                    } })),
                )
                    .into_response();
                if let Ok(v) = axum::http::HeaderValue::from_str(&format!("bytes */{size}")) {
                    response.headers_mut().insert("content-range", v);
                }
                return response;
            }
            ApiError::PayloadTooLarge(m) => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", m),
            ApiError::RejectedEvents { message, rejected } => {
                return (
                    StatusCode::BAD_REQUEST,
                    Json(serde_json::json!({ "error": {
                        "code": "events_rejected", "message": message, "rejected": rejected,
                    } })),
                )
                    .into_response();
            }
            ApiError::Rejected(status, m) => (
                status,
                match status {
                    StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
                    _ => "bad_request",
                },
                m,
            ),
            ApiError::Unavailable(m) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable", m),
            ApiError::Queue(e) if e.is_sender_fault() => {
                let status = match e {
                    QueueError::QueueDoesNotExist { .. } => StatusCode::NOT_FOUND,
                    _ => StatusCode::BAD_REQUEST,
                };
                (status, e.aws_code(), e.to_string())
            }
            ApiError::Store(e @ conveyor_store::StoreError::Full { .. }) => {
                tracing::error!(error = %e, "object store full");
                (
                    StatusCode::INSUFFICIENT_STORAGE,
                    "insufficient_storage",
                    "the server has no space left to store this; nothing was stored, retry later"
                        .to_string(),
                )
            }
            ApiError::Queue(QueueError::Unavailable(detail)) => {
                tracing::error!(error = %detail, "queue service unavailable");
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "the queue service cannot take this request right now; nothing was stored, retry later"
                        .to_string(),
                )
            }
            ApiError::Store(e) => {
                tracing::error!(error = %e, "object store failure");
                (
                    StatusCode::BAD_GATEWAY,
                    "store_failed",
                    "the object store failed; retry the request".to_string(),
                )
            }
            ApiError::Queue(e) => {
                tracing::error!(error = %e, "queue failure");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "the request could not be stored; retry it".to_string(),
                )
            }
        };
        let mut response = (
            status,
            Json(serde_json::json!({ "error": { "code": code, "message": message } })),
        )
            .into_response();
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                "www-authenticate",
                axum::http::HeaderValue::from_static("Bearer"),
            );
        }
        response
    }
}
