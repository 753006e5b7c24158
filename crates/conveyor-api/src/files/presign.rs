//! Presigned URLs: a download link, and an upload form a browser posts straight to the store.
//! On S3 the store signs them (and S3 enforces their conditions); on the local store Conveyor
//! signs URLs to its own `/files/signed…` routes, which enforce the same conditions.

use std::collections::BTreeMap;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap};
use axum::Json;
use conveyor_store::{Presign, UploadPolicy};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde::{Deserialize, Serialize};

use super::signed::{unix_now, UploadGrant};
use super::{content_type, declared_content_type, key, path, store_error, FilesState, Tenant};
use crate::openapi::{ErrorBody, FilesRefusals};
use crate::ApiError;

/// Characters a key segment keeps unescaped in Conveyor's own signed URLs.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

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

/// Scheme and authority of Conveyor's own URLs: configured, else the request's `Host`.
fn base_url(state: &FilesState, headers: &HeaderMap) -> Result<String, ApiError> {
    if let Some(url) = &state.settings.public_url {
        return Ok(url.clone());
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| !h.is_empty() && h.bytes().all(|b| b.is_ascii_graphic()))
        .ok_or_else(|| {
            ApiError::BadRequest(
                "the request has no Host header to build the URL from; set files.public_url".into(),
            )
        })?;
    Ok(format!("http://{host}"))
}

fn encoded_key(object: &str) -> String {
    object
        .split('/')
        .map(|s| utf8_percent_encode(s, SEGMENT).to_string())
        .collect::<Vec<_>>()
        .join("/")
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
    headers: HeaderMap,
) -> Result<Json<DownloadUrl>, ApiError> {
    let file = path::file(&file)?;
    let expires_in = expiry(&state, query.expires_in)?;
    let object = key(&tenant, &file);
    state
        .store
        .head(&object)
        .await
        .map_err(|e| store_error(e, &file))?;
    let url = if state.store.signs_urls() {
        state
            .store
            .presigned_url(Presign::Get, &object, expires_in)
            .await
            .map_err(|e| store_error(e, &file))?
    } else {
        let expires = unix_now() + expires_in.as_secs();
        format!(
            "{}/files/signed/{}?{}",
            base_url(&state, &headers)?,
            encoded_key(&object),
            state.url_signer()?.download_query(&object, expires)
        )
    };
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
    headers: HeaderMap,
) -> Result<Json<UploadFormAnswer>, ApiError> {
    let file = path::file(&query.file_path)?;
    let expires_in = expiry(&state, query.expires_in)?;
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
    let (url, fields) = if state.store.signs_urls() {
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
        (form.url, form.fields)
    } else {
        let grant = UploadGrant {
            key: object,
            content_type: content_type.clone(),
            max_bytes,
            expires: unix_now() + expires_in.as_secs(),
        };
        (
            format!("{}/files/signed-upload", base_url(&state, &headers)?),
            state.url_signer()?.upload_fields(&grant),
        )
    };
    Ok(Json(UploadFormAnswer {
        url,
        fields,
        path: file,
        content_type,
        max_bytes,
        expires_in: expires_in.as_secs(),
    }))
}
