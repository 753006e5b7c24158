//! Everything but the bytes: delete, list, metadata, folders, copy and move. Each takes paths
//! relative to the caller's tenant and answers with paths relative to it.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use conveyor_store::ObjectInfo;
use futures_util::stream::{self, StreamExt};
use serde::{Deserialize, Serialize};

use super::path::{self, FOLDER_MARKER};
use super::{content_type, key, relative, store_error, FilesState, Tenant};
use crate::openapi::{ErrorBody, FilesRefusals};
use crate::{ApiError, ApiJson};

const DEFAULT_PAGE: usize = 100;
const MAX_PAGE: usize = 1000;
/// The most paths one delete-multiple may name (S3's DeleteObjects limit).
const MAX_DELETE: usize = 1000;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FileEntry {
    path: String,
    size: u64,
    last_modified: String,
    etag: Option<String>,
}

impl FileEntry {
    fn new(tenant: &Tenant, info: ObjectInfo) -> FileEntry {
        FileEntry {
            path: relative(tenant, &info.key).to_string(),
            size: info.size,
            last_modified: info.last_modified.to_rfc3339(),
            etag: info.e_tag,
        }
    }
}

fn is_marker(key: &str) -> bool {
    key.rsplit('/').next() == Some(FOLDER_MARKER)
}

/// `DELETE /files/delete/{path}`.
#[utoipa::path(delete, path = "/files/delete/{*path}", tag = "files", params(("path" = String, Path, description = "The file's path below your tenant, like documents/contract.pdf")),
    responses((status = 200, description = "Deleted", body = serde_json::Value), (status = 404, description = "Not found", body = ErrorBody), FilesRefusals),
    security(("jwt" = [])))]
pub async fn delete(
    State(state): State<FilesState>,
    tenant: Tenant,
    Path(file): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let file = path::file(&file)?;
    let object = key(&tenant, &file);
    state
        .store
        .head(&object)
        .await
        .map_err(|e| store_error(e, &file))?;
    state
        .store
        .delete(&object)
        .await
        .map_err(|e| store_error(e, &file))?;
    Ok(Json(serde_json::json!({ "deleted": file })))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct DeleteMany {
    paths: Vec<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DeletedMany {
    deleted: Vec<String>,
    not_found: Vec<String>,
}

/// `POST /files/delete-multiple` with `{"paths": [...]}`. Every path is checked before anything
/// is deleted; a bad one refuses the whole request.
#[utoipa::path(post, path = "/files/delete-multiple", tag = "files", request_body = DeleteMany,
    responses((status = 200, description = "What was deleted and what was not there", body = DeletedMany), FilesRefusals),
    security(("jwt" = [])))]
pub async fn delete_multiple(
    State(state): State<FilesState>,
    tenant: Tenant,
    ApiJson(request): ApiJson<DeleteMany>,
) -> Result<Json<DeletedMany>, ApiError> {
    if request.paths.is_empty() || request.paths.len() > MAX_DELETE {
        return Err(ApiError::BadRequest(format!(
            "name 1 to {MAX_DELETE} paths; this request names {}",
            request.paths.len()
        )));
    }
    let mut files = request
        .paths
        .iter()
        .map(|p| path::file(p))
        .collect::<Result<Vec<_>, _>>()?;
    files.sort();
    files.dedup();
    let outcomes: Vec<(String, Result<bool, ApiError>)> = stream::iter(files)
        .map(|file| {
            let (state, object) = (state.clone(), key(&tenant, &file));
            async move {
                let outcome = async {
                    if !state
                        .store
                        .exists(&object)
                        .await
                        .map_err(|e| store_error(e, &file))?
                    {
                        return Ok(false);
                    }
                    state
                        .store
                        .delete(&object)
                        .await
                        .map_err(|e| store_error(e, &file))?;
                    Ok(true)
                }
                .await;
                (file, outcome)
            }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    let mut answer = DeletedMany {
        deleted: Vec::new(),
        not_found: Vec::new(),
    };
    for (file, outcome) in outcomes {
        match outcome? {
            true => answer.deleted.push(file),
            false => answer.not_found.push(file),
        }
    }
    answer.deleted.sort();
    answer.not_found.sort();
    Ok(Json(answer))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    #[serde(default)]
    folder: String,
    /// Every file below the folder, instead of one level with its sub-folders.
    #[serde(default)]
    recursive: bool,
    limit: Option<usize>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ListPage {
    folder: String,
    files: Vec<FileEntry>,
    folders: Vec<String>,
    /// Pass as `cursor` for the next page; absent on the last page.
    next_cursor: Option<String>,
}

/// `GET /files/list?folder=…&recursive=…&limit=…&cursor=…`: files and folders in path order.
#[utoipa::path(get, path = "/files/list", tag = "files", params(ListQuery),
    responses((status = 200, description = "One page of files and folders", body = ListPage), FilesRefusals),
    security(("jwt" = [])))]
pub async fn list(
    State(state): State<FilesState>,
    tenant: Tenant,
    Query(query): Query<ListQuery>,
) -> Result<Json<ListPage>, ApiError> {
    let folder = path::folder(&query.folder)?;
    let limit = query.limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(ApiError::BadRequest(format!(
            "limit {limit} is out of range: use 1 to {MAX_PAGE}"
        )));
    }
    let listing = state
        .store
        .list_sorted(&key(&tenant, &folder), query.recursive)
        .await
        .map_err(|e| store_error(e, &folder))?;
    // Files and folders, merged in path order, so one cursor pages through both.
    let mut entries: Vec<(String, Option<ObjectInfo>)> = listing
        .objects
        .into_iter()
        .filter(|o| !is_marker(&o.key))
        .map(|o| (relative(&tenant, &o.key).to_string(), Some(o)))
        .chain(
            listing
                .folders
                .iter()
                .map(|f| (relative(&tenant, f).to_string(), None)),
        )
        .filter(|(p, _)| query.cursor.as_ref().is_none_or(|c| p > c))
        .collect();
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    let next_cursor = (entries.len() > limit).then(|| entries[limit - 1].0.clone());
    entries.truncate(limit);
    let mut page = ListPage {
        folder,
        files: Vec::new(),
        folders: Vec::new(),
        next_cursor,
    };
    for (path, info) in entries {
        match info {
            Some(info) => page.files.push(FileEntry::new(&tenant, info)),
            None => page.folders.push(path),
        }
    }
    Ok(Json(page))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FileMetadata {
    path: String,
    size: u64,
    content_type: String,
    etag: Option<String>,
    last_modified: String,
    /// `STANDARD`, `STANDARD_IA`, `GLACIER`, … on S3; absent on the local store.
    storage_class: Option<String>,
}

/// `GET /files/metadata/{path}`.
#[utoipa::path(get, path = "/files/metadata/{*path}", tag = "files", params(("path" = String, Path, description = "The file's path below your tenant, like documents/contract.pdf")),
    responses((status = 200, description = "The file's metadata", body = FileMetadata), (status = 404, description = "Not found", body = ErrorBody), FilesRefusals),
    security(("jwt" = [])))]
pub async fn metadata(
    State(state): State<FilesState>,
    tenant: Tenant,
    Path(file): Path<String>,
) -> Result<Json<FileMetadata>, ApiError> {
    let file = path::file(&file)?;
    let object = key(&tenant, &file);
    let info = state
        .store
        .head(&object)
        .await
        .map_err(|e| store_error(e, &file))?;
    let storage_class = state
        .store
        .storage_class(&object)
        .await
        .map_err(|e| store_error(e, &file))?;
    Ok(Json(FileMetadata {
        content_type: content_type(&file, info.content_type),
        path: file,
        size: info.size,
        etag: info.e_tag,
        last_modified: info.last_modified.to_rfc3339(),
        storage_class,
    }))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct FolderRequest {
    folder: String,
}

fn named_folder(text: &str) -> Result<String, ApiError> {
    let folder = path::folder(text)?;
    if folder.is_empty() {
        return Err(ApiError::BadRequest(
            "name a folder, like documents/2026".into(),
        ));
    }
    Ok(folder)
}

/// `POST /files/folder/create` with `{"folder": "…"}`: an empty folder that lists as one.
#[utoipa::path(post, path = "/files/folder/create", tag = "files", request_body = FolderRequest,
    responses((status = 201, description = "Created", body = serde_json::Value), (status = 409, description = "A file has that name", body = ErrorBody), FilesRefusals),
    security(("jwt" = [])))]
pub async fn create_folder(
    State(state): State<FilesState>,
    tenant: Tenant,
    ApiJson(request): ApiJson<FolderRequest>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let folder = named_folder(&request.folder)?;
    let marker = format!("{}/{FOLDER_MARKER}", key(&tenant, &folder));
    state
        .store
        .put(&marker, bytes::Bytes::new())
        .await
        .map_err(|e| store_error(e, &folder))?;
    Ok((
        StatusCode::CREATED,
        Json(serde_json::json!({ "folder": folder })),
    ))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FolderQuery {
    folder: String,
}

/// `DELETE /files/folder/delete?folder=…`: the folder and everything in it.
#[utoipa::path(delete, path = "/files/folder/delete", tag = "files", params(FolderQuery),
    responses((status = 200, description = "Deleted, with how many files", body = serde_json::Value), (status = 404, description = "Not found", body = ErrorBody), FilesRefusals),
    security(("jwt" = [])))]
pub async fn delete_folder(
    State(state): State<FilesState>,
    tenant: Tenant,
    Query(query): Query<FolderQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let folder = named_folder(&query.folder)?;
    let deleted = state
        .store
        .delete_prefix(&key(&tenant, &folder))
        .await
        .map_err(|e| store_error(e, &folder))?;
    if deleted.is_empty() {
        return Err(ApiError::NotFound(format!("no folder at {folder}")));
    }
    let files = deleted.iter().filter(|k| !is_marker(k)).count();
    Ok(Json(
        serde_json::json!({ "folder": folder, "deleted_files": files }),
    ))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct Transfer {
    source: String,
    destination: String,
    /// Replace a file already at the destination (refused with 409 otherwise).
    #[serde(default)]
    overwrite: bool,
}

/// Check a copy or move; returns the source and destination keys.
async fn prepare(
    state: &FilesState,
    tenant: &Tenant,
    request: &Transfer,
) -> Result<(String, String), ApiError> {
    let source = path::file(&request.source)?;
    let destination = path::file(&request.destination)?;
    if source == destination {
        return Err(ApiError::BadRequest(
            "the source and the destination are the same file".into(),
        ));
    }
    let (from, to) = (key(tenant, &source), key(tenant, &destination));
    state
        .store
        .head(&from)
        .await
        .map_err(|e| store_error(e, &source))?;
    if !request.overwrite
        && state
            .store
            .exists(&to)
            .await
            .map_err(|e| store_error(e, &destination))?
    {
        return Err(ApiError::Conflict(format!(
            "{destination} exists already: send \"overwrite\": true to replace it"
        )));
    }
    Ok((from, to))
}

/// `POST /files/copy` with `{"source", "destination", "overwrite"}`.
#[utoipa::path(post, path = "/files/copy", tag = "files", request_body = Transfer,
    responses((status = 200, description = "Copied", body = serde_json::Value), (status = 404, description = "Not found", body = ErrorBody), (status = 409, description = "The destination exists", body = ErrorBody), FilesRefusals),
    security(("jwt" = [])))]
pub async fn copy(
    State(state): State<FilesState>,
    tenant: Tenant,
    ApiJson(request): ApiJson<Transfer>,
) -> Result<Json<serde_json::Value>, ApiError> {
    carry(&state, &tenant, request, Carry::Copy).await
}

/// `POST /files/move` with `{"source", "destination", "overwrite"}`.
#[utoipa::path(post, path = "/files/move", tag = "files", request_body = Transfer,
    responses((status = 200, description = "Moved", body = serde_json::Value), (status = 404, description = "Not found", body = ErrorBody), (status = 409, description = "The destination exists", body = ErrorBody), FilesRefusals),
    security(("jwt" = [])))]
pub async fn move_file(
    State(state): State<FilesState>,
    tenant: Tenant,
    ApiJson(request): ApiJson<Transfer>,
) -> Result<Json<serde_json::Value>, ApiError> {
    carry(&state, &tenant, request, Carry::Move).await
}

enum Carry {
    Copy,
    Move,
}

async fn carry(
    state: &FilesState,
    tenant: &Tenant,
    request: Transfer,
    how: Carry,
) -> Result<Json<serde_json::Value>, ApiError> {
    let (from, to) = prepare(state, tenant, &request).await?;
    let done = match how {
        Carry::Copy => state.store.copy(&from, &to).await,
        Carry::Move => state.store.rename(&from, &to).await,
    };
    done.map_err(|e| store_error(e, &request.destination))?;
    Ok(Json(serde_json::json!({
        "source": request.source, "destination": request.destination
    })))
}
