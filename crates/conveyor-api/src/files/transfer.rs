//! Bytes in and out: multipart uploads streamed into the store (a part at a time, never the
//! whole file), and downloads streamed out with `Range`, `Content-Type` and
//! `Content-Disposition`.

use std::ops::Range;

use axum::body::Body;
use axum::extract::multipart::{Field, MultipartError};
use axum::extract::{Multipart, Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use conveyor_store::Upload;
use serde::{Deserialize, Serialize};

use super::{content_type, declared_content_type, key, path, store_error, FilesState, Tenant};
use crate::openapi::{ErrorBody, FilesRefusals, UploadForm, UploadManyForm};
use crate::ApiError;

/// Where a multi-file upload waits until every file of it has arrived.
const STAGING: &str = "_conveyor/staging";

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FolderQuery {
    /// The folder to upload into; the tenant's root when absent.
    #[serde(default)]
    folder: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UploadedFile {
    path: String,
    size: u64,
    content_type: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UploadedFiles {
    files: Vec<UploadedFile>,
}

fn multipart_error(e: MultipartError) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::PayloadTooLarge(
            "the request is larger than this server accepts in one upload (files.max_request_bytes)".into(),
        )
    } else {
        ApiError::BadRequest(format!(
            "the upload is not a valid multipart form: {}",
            e.body_text()
        ))
    }
}

fn too_large(name: &str, limit: u64) -> ApiError {
    ApiError::PayloadTooLarge(format!(
        "{name} is larger than the {limit} bytes one file may have (files.max_file_bytes)"
    ))
}

/// The content type of an uploaded part: as declared, unless it is the generic default, in
/// which case the file name decides.
fn part_content_type(field: &Field<'_>, name: &str) -> Result<String, ApiError> {
    match field.content_type() {
        Some(declared) if declared != "application/octet-stream" => declared_content_type(declared),
        _ => Ok(content_type(name, None)),
    }
}

/// Stream one part into `upload`; on any failure the upload is thrown away.
async fn stream_into(
    mut field: Field<'_>,
    mut upload: Upload,
    max_bytes: u64,
    name: &str,
) -> Result<u64, ApiError> {
    loop {
        let chunk = match field.chunk().await {
            Ok(Some(chunk)) => chunk,
            Ok(None) => break,
            Err(e) => {
                upload.abort().await;
                return Err(multipart_error(e));
            }
        };
        if upload.written() + chunk.len() as u64 > max_bytes {
            upload.abort().await;
            return Err(too_large(name, max_bytes));
        }
        if let Err(e) = upload.write(chunk).await {
            upload.abort().await;
            return Err(store_error(e, name));
        }
    }
    upload.finish().await.map_err(|e| store_error(e, name))
}

/// `POST /files/upload?folder=…`: one file, in the form field `file`.
#[utoipa::path(post, path = "/files/upload", tag = "files", request_body(content = UploadForm, content_type = "multipart/form-data"), params(FolderQuery),
    responses((status = 201, description = "Stored", body = UploadedFile), (status = 409, description = "A folder has that name", body = ErrorBody), (status = 413, description = "Too large", body = ErrorBody), FilesRefusals),
    security(("jwt" = [])))]
pub async fn upload(
    State(state): State<FilesState>,
    tenant: Tenant,
    Query(query): Query<FolderQuery>,
    mut form: Multipart,
) -> Result<(StatusCode, Json<UploadedFile>), ApiError> {
    let folder = path::folder(&query.folder)?;
    let mut stored = None;
    while let Some(field) = form.next_field().await.map_err(multipart_error)? {
        if field.name() != Some("file") {
            continue;
        }
        if stored.is_some() {
            return Err(ApiError::BadRequest(
                "the form has more than one file: use /files/upload-multiple".into(),
            ));
        }
        let name = path::file_name(field.file_name().unwrap_or_default())?;
        let path = path::join(&folder, &name)?;
        let content_type = part_content_type(&field, &name)?;
        let upload = state
            .store
            .upload(&key(&tenant, &path), Some(&content_type))
            .map_err(|e| store_error(e, &path))?;
        let size = stream_into(field, upload, state.settings.max_file_bytes, &path).await?;
        stored = Some(UploadedFile {
            path,
            size,
            content_type,
        });
    }
    let file = stored.ok_or_else(|| {
        ApiError::BadRequest("the form has no file: send it in a field named file".into())
    })?;
    Ok((StatusCode::CREATED, Json(file)))
}

/// `POST /files/upload-multiple?folder=…`: any number of files in fields named `files` (or
/// `file`). All of them are stored or none: each waits under a staging key until the last
/// has arrived.
#[utoipa::path(post, path = "/files/upload-multiple", tag = "files", request_body(content = UploadManyForm, content_type = "multipart/form-data"), params(FolderQuery),
    responses((status = 201, description = "All stored", body = UploadedFiles), (status = 409, description = "A folder has one of the names", body = ErrorBody), (status = 413, description = "Too large", body = ErrorBody), FilesRefusals),
    security(("jwt" = [])))]
pub async fn upload_multiple(
    State(state): State<FilesState>,
    tenant: Tenant,
    Query(query): Query<FolderQuery>,
    mut form: Multipart,
) -> Result<(StatusCode, Json<UploadedFiles>), ApiError> {
    let folder = path::folder(&query.folder)?;
    let mut staged: Vec<(String, UploadedFile)> = Vec::new();
    let outcome: Result<(), ApiError> = async {
        while let Some(field) = form.next_field().await.map_err(multipart_error)? {
            if !matches!(field.name(), Some("files" | "file")) {
                continue;
            }
            let name = path::file_name(field.file_name().unwrap_or_default())?;
            let path = path::join(&folder, &name)?;
            if staged.iter().any(|(_, f)| f.path == path) {
                return Err(ApiError::BadRequest(format!("the form names {path} twice")));
            }
            let content_type = part_content_type(&field, &name)?;
            let staging_key = format!("{STAGING}/{}", uuid::Uuid::new_v4());
            let upload = state
                .store
                .upload(&staging_key, Some(&content_type))
                .map_err(|e| store_error(e, &path))?;
            staged.push((
                staging_key,
                UploadedFile {
                    path: path.clone(),
                    size: 0,
                    content_type,
                },
            ));
            let size = stream_into(field, upload, state.settings.max_file_bytes, &path).await?;
            if let Some(last) = staged.last_mut() {
                last.1.size = size;
            }
        }
        if staged.is_empty() {
            return Err(ApiError::BadRequest(
                "the form has no files: send them in fields named files".into(),
            ));
        }
        Ok(())
    }
    .await;
    if let Err(e) = outcome {
        for (staging_key, _) in &staged {
            let _ = state.store.delete(staging_key).await;
        }
        return Err(e);
    }
    let mut files = Vec::with_capacity(staged.len());
    for (staging_key, file) in staged {
        state
            .store
            .rename(&staging_key, &key(&tenant, &file.path))
            .await
            .map_err(|e| store_error(e, &file.path))?;
        files.push(file);
    }
    Ok((StatusCode::CREATED, Json(UploadedFiles { files })))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DownloadQuery {
    /// `inline` to let a browser show the file instead of saving it.
    #[serde(default)]
    disposition: Option<String>,
}

/// `GET /files/download/{path}`.
#[utoipa::path(get, path = "/files/download/{*path}", tag = "files", params(("path" = String, Path, description = "The file's path below your tenant"), DownloadQuery, ("Range" = Option<String>, Header, description = "bytes=first-last")),
    responses((status = 200, description = "The file", content_type = "application/octet-stream", body = Vec<u8>), (status = 206, description = "The requested range", content_type = "application/octet-stream", body = Vec<u8>), (status = 404, description = "Not found", body = ErrorBody), (status = 416, description = "Range outside the file", body = ErrorBody), FilesRefusals),
    security(("jwt" = [])))]
pub async fn download(
    State(state): State<FilesState>,
    tenant: Tenant,
    Path(file): Path<String>,
    Query(query): Query<DownloadQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let file = path::file(&file)?;
    serve(
        &state,
        &key(&tenant, &file),
        &file,
        &headers,
        query.disposition,
    )
    .await
}

/// Stream the object at `object` (shown to the caller as `name`), honouring `Range`.
async fn serve(
    state: &FilesState,
    object: &str,
    name: &str,
    headers: &HeaderMap,
    disposition: Option<String>,
) -> Result<Response, ApiError> {
    let requested = headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let range = match &requested {
        Some(text) => {
            let info = state
                .store
                .head(object)
                .await
                .map_err(|e| store_error(e, name))?;
            byte_range(text, info.size)?
        }
        None => None,
    };
    let partial = range.is_some();
    let download = state
        .store
        .download(object, range)
        .await
        .map_err(|e| store_error(e, name))?;
    let info = &download.info;
    let mut response = Body::from_stream(download.body).into_response();
    *response.status_mut() = if partial {
        StatusCode::PARTIAL_CONTENT
    } else {
        StatusCode::OK
    };
    let h = response.headers_mut();
    let mut set = |name: header::HeaderName, value: String| {
        if let Ok(v) = HeaderValue::from_str(&value) {
            h.insert(name, v);
        }
    };
    set(
        header::CONTENT_TYPE,
        content_type(name, info.content_type.clone()),
    );
    set(
        header::CONTENT_LENGTH,
        (download.range.end - download.range.start).to_string(),
    );
    set(header::ACCEPT_RANGES, "bytes".into());
    set(
        header::LAST_MODIFIED,
        info.last_modified
            .format("%a, %d %b %Y %H:%M:%S GMT")
            .to_string(),
    );
    if let Some(etag) = &info.e_tag {
        set(header::ETAG, etag.clone());
    }
    if partial {
        set(
            header::CONTENT_RANGE,
            format!(
                "bytes {}-{}/{}",
                download.range.start,
                download.range.end - 1,
                info.size
            ),
        );
    }
    let file_name = name.rsplit('/').next().unwrap_or(name);
    let kind = if disposition.as_deref() == Some("inline") {
        "inline"
    } else {
        "attachment"
    };
    set(
        header::CONTENT_DISPOSITION,
        content_disposition(kind, file_name),
    );
    Ok(response)
}

/// `attachment; filename="…"; filename*=UTF-8''…` (RFC 6266): an ASCII fallback for old
/// clients and the exact name for the rest.
fn content_disposition(kind: &str, name: &str) -> String {
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let exact = percent_encoding::utf8_percent_encode(name, percent_encoding::NON_ALPHANUMERIC);
    format!("{kind}; filename=\"{ascii}\"; filename*=UTF-8''{exact}")
}

/// The bytes one `Range: bytes=…` header asks for. Several ranges, or a header that is not a
/// byte range, are ignored (the whole file is served), as RFC 9110 allows; a range wholly
/// outside the file is a 416.
fn byte_range(text: &str, size: u64) -> Result<Option<Range<u64>>, ApiError> {
    let Some(spec) = text.trim().strip_prefix("bytes=") else {
        return Ok(None);
    };
    if spec.contains(',') {
        return Ok(None);
    }
    let Some((start, end)) = spec.trim().split_once('-') else {
        return Ok(None);
    };
    let (start, end) = (start.trim(), end.trim());
    let parse = |s: &str| s.parse::<u64>().ok();
    let range = match (start.is_empty(), end.is_empty()) {
        // `bytes=-N`: the last N bytes.
        (true, false) => match parse(end) {
            Some(0) => return Err(ApiError::RangeNotSatisfiable(size)),
            Some(n) => size.saturating_sub(n)..size,
            None => return Ok(None),
        },
        (false, true) => match parse(start) {
            Some(first) => first..size,
            None => return Ok(None),
        },
        (false, false) => match (parse(start), parse(end)) {
            (Some(first), Some(last)) if first <= last => first..last.saturating_add(1).min(size),
            _ => return Ok(None),
        },
        (true, true) => return Ok(None),
    };
    if range.start >= size {
        return Err(ApiError::RangeNotSatisfiable(size));
    }
    Ok(Some(range))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_byte_ranges_as_rfc_9110_does() {
        assert_eq!(byte_range("bytes=0-9", 100).unwrap(), Some(0..10));
        assert_eq!(byte_range("bytes=90-200", 100).unwrap(), Some(90..100));
        assert_eq!(byte_range("bytes=95-", 100).unwrap(), Some(95..100));
        assert_eq!(byte_range("bytes=-5", 100).unwrap(), Some(95..100));
        assert_eq!(byte_range("bytes=-500", 100).unwrap(), Some(0..100));
        assert_eq!(
            byte_range("bytes=5-18446744073709551615", 100).unwrap(),
            Some(5..100),
            "the largest last byte does not overflow"
        );
        for ignored in [
            "bytes=0-1,5-6",
            "items=0-1",
            "bytes=x-y",
            "bytes=5-1",
            "bytes=-",
        ] {
            assert_eq!(byte_range(ignored, 100).unwrap(), None, "{ignored}");
        }
        for unsatisfiable in ["bytes=100-", "bytes=100-200", "bytes=-0"] {
            assert!(matches!(
                byte_range(unsatisfiable, 100),
                Err(ApiError::RangeNotSatisfiable(100))
            ));
        }
        assert!(
            byte_range("bytes=0-", 0).is_err(),
            "an empty file has no bytes to range over"
        );
    }

    #[test]
    fn names_the_download_safely_in_both_forms() {
        assert_eq!(
            content_disposition("attachment", "report 2026.pdf"),
            "attachment; filename=\"report 2026.pdf\"; filename*=UTF-8''report%202026%2Epdf"
        );
        let tricky = content_disposition("inline", "été\"\r\n.txt");
        assert!(
            tricky.starts_with("inline; filename=\"_t____.txt\""),
            "{tricky}"
        );
        assert!(!tricky.contains('\r') && !tricky.contains('\n'));
    }
}
