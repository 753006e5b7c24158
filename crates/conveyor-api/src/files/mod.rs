//! The multi-tenant files API (`/files/…`, the seeds' file-management service) on the object
//! store: streamed uploads and ranged downloads, listings, folders, copies, moves and
//! presigned URLs. Every object a tenant reaches lives under `tenants/{tenant_id}/`, where the
//! tenant is read from the caller's verified JWT (`auth`) and every path is checked first
//! (`path`). Presigned URLs are S3's (`presign`): Amazon S3's, or those of Conveyor's own S3
//! endpoint in front of the local store, so a browser uploads and downloads the same way on
//! both.

pub mod auth;
mod manage;
pub mod path;
mod presign;
mod transfer;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::Router;
use conveyor_config::FilesSettings;
use conveyor_store::{Store, StoreError};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::ApiError;
pub use auth::{sign_token, Tenant, TokenVerifier};
pub use presign::{endpoint_key, ENDPOINT_KEY_ID};

/// What the files handlers share.
#[derive(Clone)]
pub struct FilesState {
    pub(crate) store: Store,
    pub(crate) settings: Arc<FilesSettings>,
    /// `None` until a JWT secret is configured; every route then answers 503 saying so.
    pub(crate) verifier: Option<Arc<TokenVerifier>>,
}

impl FilesState {
    pub fn new(store: Store, settings: &FilesSettings) -> FilesState {
        let secret = settings.jwt_secret.as_ref().map(|s| s.expose().as_bytes());
        FilesState {
            store,
            verifier: secret.map(|s| Arc::new(TokenVerifier::new(s, settings))),
            settings: Arc::new(settings.clone()),
        }
    }
}

/// The `/files` routes, each with its OpenAPI operation.
pub(crate) fn routes() -> OpenApiRouter<FilesState> {
    OpenApiRouter::new()
        .routes(routes!(transfer::upload))
        .routes(routes!(transfer::upload_multiple))
        .routes(routes!(transfer::download))
        .routes(routes!(manage::delete))
        .routes(routes!(manage::delete_multiple))
        .routes(routes!(manage::list))
        .routes(routes!(manage::metadata))
        .routes(routes!(manage::create_folder))
        .routes(routes!(manage::delete_folder))
        .routes(routes!(manage::copy))
        .routes(routes!(manage::move_file))
        .routes(routes!(presign::download_url))
        .routes(routes!(presign::upload_form))
}

/// The `/files` routes with their state. Their bodies are limited by the files settings, not
/// the API's 1 MiB, and they have no request timeout: a large upload on a slow link is not an
/// error.
pub fn router(state: FilesState) -> Router {
    let limit = usize::try_from(state.settings.max_request_bytes).unwrap_or(usize::MAX);
    let (router, _) = routes().split_for_parts();
    let declared = (state.settings.max_request_bytes, "files.max_request_bytes");
    router
        .layer(DefaultBodyLimit::max(limit))
        .layer(axum::middleware::from_fn_with_state(
            declared,
            crate::refuse_declared_oversize,
        ))
        .with_state(state)
}

/// The object key of a tenant's path.
fn key(tenant: &Tenant, path: &str) -> String {
    if path.is_empty() {
        tenant.root()
    } else {
        format!("{}/{path}", tenant.root())
    }
}

/// A key as the tenant sees it (its path below `tenants/{id}/`).
fn relative<'k>(tenant: &Tenant, key: &'k str) -> &'k str {
    key.strip_prefix(&tenant.root())
        .map(|rest| rest.trim_start_matches('/'))
        .unwrap_or(key)
}

/// A store failure as the caller should see it; `path` is the tenant's own name for the object.
fn store_error(e: StoreError, path: &str) -> ApiError {
    match e {
        StoreError::NotFound(_) => ApiError::NotFound(format!("no file at {path}")),
        StoreError::InvalidKey(m) => ApiError::BadRequest(m),
        StoreError::Conflict(_) => ApiError::Conflict(format!(
            "{path} cannot be written: a file and a folder cannot share a name here"
        )),
        other => ApiError::Store(other),
    }
}

/// The content type to serve `path` with: the stored one, else one guessed from its name.
fn content_type(path: &str, stored: Option<String>) -> String {
    stored.unwrap_or_else(|| {
        mime_guess::from_path(path)
            .first_raw()
            .unwrap_or("application/octet-stream")
            .to_string()
    })
}

/// A `Content-Type` a client declared, if it is one we can store and serve back safely.
fn declared_content_type(text: &str) -> Result<String, ApiError> {
    let valid = text.len() <= 200
        && text
            .split_once('/')
            .is_some_and(|(kind, sub)| !kind.is_empty() && !sub.is_empty() && !sub.contains('/'))
        && text.bytes().all(|b| (0x20..0x7f).contains(&b));
    if valid {
        Ok(text.to_string())
    } else {
        Err(ApiError::BadRequest(format!(
            "{:?} is not a content type like image/jpeg",
            text.chars().take(100).collect::<String>()
        )))
    }
}
