//! Operator routes under `/v1/admin` (API keys apply): what `conveyor queue …` calls on a running
//! server, since the server holds the queue database. Queues are named by their full names here.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use conveyor_queue::{BatchEntry, ReceiveRequest, SendMessage, PAUSED_TAG};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::openapi::{ApiRefusals, ErrorBody};
use crate::{ApiError, ApiJson, ApiState};

/// Every queue with its counts.
#[utoipa::path(get, path = "/v1/admin/queues", tag = "admin",
    responses((status = 200, description = "Done", body = serde_json::Value), ApiRefusals, (status = 404, description = "Not found", body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn list(State(state): State<ApiState>) -> Result<Json<Value>, ApiError> {
    let mut rows = Vec::new();
    let mut token = None;
    loop {
        let page = state
            .queue
            .list_queues(None, Some(1000), token.as_deref())
            .await?;
        for q in page.items {
            let c = state.queue.counts(&q.name).await?;
            rows.push(json!({
                "name": q.name, "arn": q.arn, "visible": c.visible, "in_flight": c.in_flight,
                "delayed": c.delayed, "oldest_age_seconds": c.oldest_age_seconds,
            }));
        }
        match page.next_token {
            Some(t) => token = Some(t),
            None => break,
        }
    }
    Ok(Json(json!({ "queues": rows })))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct Create {
    name: String,
    #[serde(default)]
    attributes: BTreeMap<String, String>,
}

#[utoipa::path(post, path = "/v1/admin/queues", tag = "admin", request_body = Create,
    responses((status = 201, description = "Done", body = serde_json::Value), ApiRefusals, (status = 404, description = "Not found", body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn create(
    State(state): State<ApiState>,
    ApiJson(c): ApiJson<Create>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let info = state
        .queue
        .create_queue(&c.name, &c.attributes, &BTreeMap::new())
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "name": info.name, "arn": info.arn })),
    ))
}

#[utoipa::path(get, path = "/v1/admin/queues/{name}/attributes", tag = "admin", params(("name" = String, Path, description = "The queue's full name")),
    responses((status = 200, description = "Done", body = serde_json::Value), ApiRefusals, (status = 404, description = "Not found", body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn attributes(
    State(state): State<ApiState>,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(
        json!({ "attributes": state.queue.get_attributes(&name).await? }),
    ))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct Send {
    body: String,
    #[serde(default)]
    group_id: Option<String>,
    #[serde(default)]
    deduplication_id: Option<String>,
    #[serde(default)]
    delay_seconds: Option<u32>,
}

#[utoipa::path(post, path = "/v1/admin/queues/{name}/send", tag = "admin", request_body = Send, params(("name" = String, Path, description = "The queue's full name")),
    responses((status = 201, description = "Done", body = serde_json::Value), ApiRefusals, (status = 404, description = "Not found", body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn send(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    ApiJson(s): ApiJson<Send>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let message = SendMessage {
        body: s.body,
        group_id: s.group_id,
        deduplication_id: s.deduplication_id,
        delay_seconds: s.delay_seconds,
        ..Default::default()
    };
    let sent = state.queue.send(&name, message).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({ "message_id": sent.message_id, "sequence_number": sent.sequence_number })),
    ))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct Receive {
    #[serde(default = "one")]
    max: u32,
    #[serde(default)]
    visibility_timeout: Option<u32>,
    #[serde(default)]
    wait_seconds: u32,
    /// Delete what was received (an operator draining a queue).
    #[serde(default)]
    delete: bool,
}

fn one() -> u32 {
    1
}

#[utoipa::path(post, path = "/v1/admin/queues/{name}/receive", tag = "admin", request_body = Receive, params(("name" = String, Path, description = "The queue's full name")),
    responses((status = 200, description = "Done", body = serde_json::Value), ApiRefusals, (status = 404, description = "Not found", body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn receive(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    ApiJson(r): ApiJson<Receive>,
) -> Result<Json<Value>, ApiError> {
    let request = ReceiveRequest {
        max_messages: r.max,
        visibility_timeout: r.visibility_timeout,
        wait_time_seconds: Some(r.wait_seconds),
        attempt_id: None,
    };
    let messages = state.queue.receive(&name, request).await?;
    if r.delete && !messages.is_empty() {
        let entries = BatchEntry::numbered(messages.iter().map(|m| m.receipt_handle.clone()));
        state.queue.delete_batch(&name, entries).await?;
    }
    let rows: Vec<Value> = messages
        .into_iter()
        .map(|m| {
            json!({
                "message_id": m.message_id, "body": m.body, "receive_count": m.approximate_receive_count,
                "sent_timestamp": m.sent_timestamp, "group_id": m.group_id, "receipt_handle": m.receipt_handle,
                "dead_letter_queue_source_arn": m.dead_letter_queue_source_arn,
            })
        })
        .collect();
    Ok(Json(json!({ "messages": rows, "deleted": r.delete })))
}

#[utoipa::path(post, path = "/v1/admin/queues/{name}/purge", tag = "admin", params(("name" = String, Path, description = "The queue's full name")),
    responses((status = 200, description = "Done", body = serde_json::Value), ApiRefusals, (status = 404, description = "Not found", body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn purge(
    State(state): State<ApiState>,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    state.queue.purge(&name).await?;
    Ok(Json(json!({ "purged": name })))
}

/// Stop the queue's workers taking messages, in every process, until resumed.
#[utoipa::path(post, path = "/v1/admin/queues/{name}/pause", tag = "admin", params(("name" = String, Path, description = "The queue's full name")),
    responses((status = 200, description = "Paused", body = serde_json::Value), ApiRefusals, (status = 404, description = "Not found", body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn pause(
    State(state): State<ApiState>,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let tag = BTreeMap::from([(PAUSED_TAG.to_string(), "true".to_string())]);
    state.queue.tag(&name, &tag).await?;
    Ok(Json(json!({ "queue": name, "paused": true })))
}

/// Let the queue's workers take messages again.
#[utoipa::path(post, path = "/v1/admin/queues/{name}/resume", tag = "admin", params(("name" = String, Path, description = "The queue's full name")),
    responses((status = 200, description = "Resumed", body = serde_json::Value), ApiRefusals, (status = 404, description = "Not found", body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn resume(
    State(state): State<ApiState>,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    state.queue.untag(&name, &[PAUSED_TAG.to_string()]).await?;
    Ok(Json(json!({ "queue": name, "paused": false })))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Redrive {
    /// Move to this queue instead of each message's source queue (by default, for a configured
    /// queue's dead-letter queue, that queue).
    #[serde(default)]
    destination: Option<String>,
    #[serde(default)]
    max_per_second: Option<u32>,
    /// Move only these messages, now (they must be visible); the answer lists those moved and
    /// those not found.
    #[serde(default)]
    message_ids: Option<Vec<String>>,
}

/// Most messages one selected redrive takes, and most it looks through on a service that must
/// receive to find them (SQS).
const MAX_SELECTED: usize = 1000;
const MAX_SCAN: usize = 10_000;

/// Move a dead-letter queue's messages back (to their sources, or to `destination`): all of
/// them as a move task (202), or the chosen `message_ids` at once (200).
#[utoipa::path(post, path = "/v1/admin/queues/{name}/redrive", tag = "admin", request_body = Redrive, params(("name" = String, Path, description = "The queue's full name")),
    responses((status = 202, description = "A move task started", body = serde_json::Value),
        (status = 200, description = "The chosen messages moved", body = serde_json::Value),
        ApiRefusals, (status = 404, description = "Not found", body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn redrive(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    ApiJson(r): ApiJson<Redrive>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let source = state.queue.get_queue(&name).await?;
    // Messages a worker rejected were sent to the dead-letter queue, not moved there by a
    // redrive policy, so they name no source: the configured queue is theirs.
    let destination_name = r
        .destination
        .clone()
        .or_else(|| crate::triage::source_of_dlq(&state, &name));
    if let Some(ids) = &r.message_ids {
        if ids.is_empty() || ids.len() > MAX_SELECTED {
            return Err(ApiError::BadRequest(format!(
                "message_ids takes 1 to {MAX_SELECTED} ids, not {}; leave it out to redrive every message",
                ids.len()
            )));
        }
        let Some(to) = destination_name else {
            return Err(ApiError::BadRequest(format!(
                "{name} is not a configured queue's dead-letter queue: name the destination"
            )));
        };
        state.queue.get_queue(&to).await?;
        let outcome = state.queue.move_messages(&name, ids, &to, MAX_SCAN).await?;
        return Ok((
            StatusCode::OK,
            Json(json!({
                "destination": to, "moved": outcome.moved, "not_found": outcome.not_found,
            })),
        ));
    }
    let destination = match &destination_name {
        Some(d) => Some(state.queue.get_queue(d).await?.arn),
        None => None,
    };
    let handle = state
        .queue
        .start_message_move_task(&source.arn, destination.as_deref(), r.max_per_second)
        .await?;
    Ok((StatusCode::ACCEPTED, Json(json!({ "task_handle": handle }))))
}

#[utoipa::path(get, path = "/v1/admin/queues/{name}/redrive", tag = "admin", params(("name" = String, Path, description = "The queue's full name")),
    responses((status = 200, description = "Done", body = serde_json::Value), ApiRefusals, (status = 404, description = "Not found", body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn redrive_status(
    State(state): State<ApiState>,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let source = state.queue.get_queue(&name).await?;
    let tasks = state
        .queue
        .list_message_move_tasks(&source.arn, Some(10))
        .await?;
    let rows: Vec<Value> = tasks
        .into_iter()
        .map(|t| {
            json!({
                "status": t.status.as_str(), "moved": t.approximate_number_of_messages_moved,
                "to_move": t.approximate_number_of_messages_to_move, "destination_arn": t.destination_arn,
                "failure_reason": t.failure_reason, "started_timestamp": t.started_timestamp,
            })
        })
        .collect();
    Ok(Json(json!({ "tasks": rows })))
}
