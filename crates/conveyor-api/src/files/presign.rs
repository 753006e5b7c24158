//! Presigned URLs: a download link, and an upload form a browser posts straight to the store.
//! Both are S3's, signed by the store: on Amazon S3 with its credentials, on the local store
//! for Conveyor's own S3 endpoint with the key [`endpoint_key`] derives. The endpoint, like
//! S3, enforces what they allow (one key, one content type, a size limit, an expiry).

use std::collections::BTreeMap;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::Json;
use conveyor_config::Secret;
use conveyor_store::{Presign, UploadPolicy};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use super::{content_type, declared_content_type, key, path, store_error, FilesState, Tenant};
use crate::openapi::{ErrorBody, FilesRefusals};
use crate::ApiError;

/// The access key id the files API signs with on Conveyor's S3 endpoint.
pub const ENDPOINT_KEY_ID: &str = "conveyor-files";

/// The key pair the files API signs presigned URLs and forms with on Conveyor's own S3
/// endpoint, which accepts it beside the configured keys. It is derived from the environment's
/// JWT secret, so no extra secret is needed, links outlive a restart, and the token-signing key
/// is never used directly.
pub fn endpoint_key(jwt_secret: &[u8]) -> (String, Secret) {
    let mut derive = Hmac::<Sha256>::new_from_slice(jwt_secret).expect("any key length");
    derive.update(b"conveyor files s3 presigning key v1");
    let secret: String = derive
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    (ENDPOINT_KEY_ID.to_string(), Secret::new(secret))
}

/// How long the caller wants the URL to live, checked against the environment's limit.
fn expiry(state: &FilesState, asked: Option<u64>) -> Result<Duration, ApiError> {
    let max = state.settings.max_url_expiry.seconds();
    match asked {
        None => Ok(state.settings.url_expiry.0),
        Some(seconds) if (1..=max).contains(&seconds) => Ok(Duration::from_secs(seconds)),
        Some(seconds) => Err(ApiError::BadRequest(format!(
            "expires_in {seconds} is out of range: use 1 to {max} seconds"
        ))),
    }
}

/// Refuses, saying how to switch presigning on, when nothing signs for this store.
fn signing(state: &FilesState) -> Result<(), ApiError> {
    if state.store.signs_urls() {
        Ok(())
    } else {
        Err(ApiError::Unavailable(format!(
            "presigned URLs on {} are Conveyor's S3 endpoint's, which is off in this process: serve it (s3.listen, --s3-listen) from the process that serves the files API",
            state.store.description()
        )))
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DownloadUrlQuery {
    expires_in: Option<u64>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DownloadUrl {
    url: String,
    method: &'static str,
    expires_in: u64,
}

/// `GET /files/presigned-url/{path}?expires_in=…`.
#[utoipa::path(get, path = "/files/presigned-url/{*path}", tag = "files", params(("path" = String, Path, description = "The file's path below your tenant"), DownloadUrlQuery),
    responses((status = 200, description = "A download URL", body = DownloadUrl), (status = 404, description = "Not found", body = ErrorBody), FilesRefusals),
    security(("jwt" = [])))]
pub async fn download_url(
    State(state): State<FilesState>,
    tenant: Tenant,
    Path(file): Path<String>,
    Query(query): Query<DownloadUrlQuery>,
) -> Result<Json<DownloadUrl>, ApiError> {
    let file = path::file(&file)?;
    let expires_in = expiry(&state, query.expires_in)?;
    signing(&state)?;
    let object = key(&tenant, &file);
    state
        .store
        .head(&object)
        .await
        .map_err(|e| store_error(e, &file))?;
    let url = state
        .store
        .presigned_url(Presign::Get, &object, expires_in)
        .await
        .map_err(|e| store_error(e, &file))?;
    Ok(Json(DownloadUrl {
        url,
        method: "GET",
        expires_in: expires_in.as_secs(),
    }))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UploadFormQuery {
    file_path: String,
    /// The one content type the upload may have; guessed from the path when absent.
    content_type: Option<String>,
    /// The largest file the form accepts; the environment's per-file limit when absent.
    max_bytes: Option<u64>,
    expires_in: Option<u64>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UploadFormAnswer {
    /// Where the browser posts the form.
    url: String,
    /// Every field to send before the file (which goes last, in a field named `file`).
    fields: BTreeMap<String, String>,
    path: String,
    content_type: String,
    max_bytes: u64,
    expires_in: u64,
}

/// `POST /files/presigned-upload?file_path=…&content_type=…&max_bytes=…&expires_in=…`.
#[utoipa::path(post, path = "/files/presigned-upload", tag = "files", params(UploadFormQuery),
    responses((status = 200, description = "A form for a direct browser upload", body = UploadFormAnswer), FilesRefusals),
    security(("jwt" = [])))]
pub async fn upload_form(
    State(state): State<FilesState>,
    tenant: Tenant,
    Query(query): Query<UploadFormQuery>,
) -> Result<Json<UploadFormAnswer>, ApiError> {
    let file = path::file(&query.file_path)?;
    let expires_in = expiry(&state, query.expires_in)?;
    signing(&state)?;
    let content_type = match &query.content_type {
        Some(declared) => declared_content_type(declared)?,
        None => content_type(&file, None),
    };
    let limit = state.settings.max_file_bytes;
    let max_bytes = query.max_bytes.unwrap_or(limit);
    if !(1..=limit).contains(&max_bytes) {
        return Err(ApiError::BadRequest(format!(
            "max_bytes {max_bytes} is out of range: use 1 to {limit}"
        )));
    }
    let object = key(&tenant, &file);
    let form = state
        .store
        .upload_form(&UploadPolicy {
            key: object,
            content_type: content_type.clone(),
            max_bytes,
            expires_in,
        })
        .await
        .map_err(|e| store_error(e, &file))?;
    Ok(Json(UploadFormAnswer {
        url: form.url,
        fields: form.fields,
        path: file,
        content_type,
        max_bytes,
        expires_in: expires_in.as_secs(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_endpoint_key_is_stable_per_secret_and_never_the_secret_itself() {
        let (id, secret) = endpoint_key(b"one jwt secret");
        assert_eq!(id, ENDPOINT_KEY_ID);
        assert_eq!(secret.expose(), endpoint_key(b"one jwt secret").1.expose());
        assert_ne!(
            secret.expose(),
            endpoint_key(b"another jwt secret").1.expose()
        );
        assert_eq!(secret.expose().len(), 64);
        assert!(!secret.expose().contains("one jwt secret"));
    }
}
