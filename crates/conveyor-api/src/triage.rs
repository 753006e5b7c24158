//! Dead-letter triage for operators: a queue's messages peeked without being consumed (with
//! each one's source queue and last error, from the engine and the workers' job marks), chosen
//! ones redriven, and a message's timeline: sent, each delivery that did not end in a result
//! (its attempt, duration, error and when it became visible again), the move to a dead-letter
//! queue, a redrive, and the result.

use axum::extract::{Path, Query, State};
use axum::Json;
use conveyor_queue::PeekState;
use conveyor_store::{AttemptOutcome, AttemptRecord, JobMark, MarkState};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::jobs::{read_json, resolve, JobHints};
use crate::openapi::{ApiRefusals, ErrorBody};
use crate::{ApiError, ApiState};

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct PeekQuery {
    /// How many (1–100, default 20).
    max: Option<u32>,
    /// The `next` of the page before.
    after: Option<String>,
}

/// A body as JSON when it is JSON, else as its text.
fn body_value(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|_| Value::String(body.to_string()))
}

/// The queue name an ARN ends with.
fn queue_of_arn(arn: &str) -> &str {
    arn.rsplit(':').next().unwrap_or(arn)
}

/// The configured queue whose dead-letter queue `name` is: where its messages go back to.
pub(crate) fn source_of_dlq(state: &ApiState, name: &str) -> Option<String> {
    state
        .settings
        .queues
        .iter()
        .find(|q| q.dlq_name == name)
        .map(|q| q.name.clone())
}

/// A queue's messages in order, whatever their state, without receiving them (on SQS a peek is
/// a receive at visibility 0: `counted_as_receive` says so).
#[utoipa::path(get, path = "/v1/admin/queues/{name}/messages", tag = "admin",
    params(("name" = String, Path, description = "The queue's full name"), PeekQuery),
    responses((status = 200, description = "A page of messages", body = serde_json::Value), ApiRefusals, (status = 404, description = "Not found", body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn peek(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    Query(q): Query<PeekQuery>,
) -> Result<Json<Value>, ApiError> {
    let page = state
        .queue
        .peek(&name, q.max.unwrap_or(20), q.after.as_deref())
        .await?;
    let default_source = source_of_dlq(&state, &name);
    let marks = futures_util::future::join_all(page.messages.iter().map(|m| {
        let store = state.store.clone();
        let id = m.message_id.clone();
        async move {
            match conveyor_store::mark_key(&id) {
                Ok(key) => read_json::<JobMark>(&store, &key).await,
                Err(_) => Ok(None),
            }
        }
    }))
    .await;
    let mut rows = Vec::with_capacity(page.messages.len());
    for (m, mark) in page.messages.into_iter().zip(marks) {
        let mark = mark?;
        let source = m
            .dead_letter_source_arn
            .as_deref()
            .map(|arn| queue_of_arn(arn).to_string())
            .or_else(|| mark.as_ref().and_then(|k| k.source_queue.clone()))
            .or_else(|| default_source.clone());
        rows.push(json!({
            "message_id": m.message_id,
            "body": body_value(&m.body),
            "attributes": m.attributes.iter().map(|(k, v)| (k.clone(), json!({
                "data_type": v.data_type, "string_value": v.string_value,
            }))).collect::<serde_json::Map<String, Value>>(),
            "group_id": m.group_id,
            "sent_timestamp": m.sent_timestamp,
            "receive_count": m.receive_count,
            "state": match m.state {
                PeekState::Visible => "visible",
                PeekState::InFlight => "in_flight",
                PeekState::Delayed => "delayed",
            },
            "source_queue": source,
            "source_message_id": mark.as_ref().and_then(|k| k.source_message_id.clone()),
            "last_error": mark.as_ref().and_then(|k| k.error.clone()),
        }));
    }
    Ok(Json(json!({
        "queue": name,
        "messages": rows,
        "next": page.next,
        "counted_as_receive": page.counted_as_receive,
    })))
}

/// Everything known about one message, oldest first.
#[utoipa::path(get, path = "/v1/admin/messages/{message_id}/timeline", tag = "admin",
    params(("message_id" = String, Path), JobHints),
    responses((status = 200, description = "Its timeline", body = serde_json::Value), ApiRefusals,
        (status = 404, description = "No trace of this id", body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn timeline(
    State(state): State<ApiState>,
    Path(message_id): Path<String>,
    Query(hints): Query<JobHints>,
) -> Result<Json<Value>, ApiError> {
    let job = resolve(&state, &message_id, &hints).await?;
    let prefix = conveyor_store::attempts_prefix(&message_id)
        .map_err(|_| ApiError::BadRequest(format!("{message_id:?} is not a message id")))?;
    let mut keys = state.store.list(&prefix).await.map_err(ApiError::Store)?;
    keys.sort();
    let mut attempts = Vec::new();
    for key in keys {
        if let Some(a) = read_json::<AttemptRecord>(&state.store, &key).await? {
            attempts.push(a);
        }
    }
    let mark = read_json::<JobMark>(
        &state.store,
        &conveyor_store::mark_key(&message_id)
            .map_err(|_| ApiError::BadRequest(format!("{message_id:?} is not a message id")))?,
    )
    .await?;
    if job.is_none() && attempts.is_empty() {
        return Err(ApiError::NotFound(format!(
            "no message {message_id}: no queue holds it and no worker recorded it (or its records expired)"
        )));
    }
    let events = events(job.as_ref(), &attempts, mark.as_ref());
    Ok(Json(json!({
        "message_id": message_id,
        "status": job,
        "events": events,
    })))
}

/// The timeline's events, oldest first.
fn events(job: Option<&Value>, attempts: &[AttemptRecord], mark: Option<&JobMark>) -> Vec<Value> {
    let mut out = Vec::new();
    let sent = job
        .and_then(|j| j["sent_timestamp"].as_i64())
        .or_else(|| mark.map(|m| m.sent_timestamp));
    let home = job.and_then(|j| j["queue"].as_str()).map(str::to_string);
    if let Some(m) = mark.filter(|m| m.source_message_id.is_some()) {
        out.push(json!({
            "at": m.at, "event": "sent",
            "detail": format!("a dead-letter copy of {} from {}, rejected: {}",
                m.source_message_id.as_deref().unwrap_or("?"),
                m.source_queue.as_deref().unwrap_or("?"),
                m.error.as_deref().unwrap_or("")),
            "queue": m.queue,
        }));
    } else if let Some(at) = sent {
        out.push(json!({ "at": at, "event": "sent", "queue": attempts.first().map(|a| a.queue.clone()).or(home.clone()) }));
    }
    for a in attempts {
        out.push(json!({
            "at": a.started_at, "event": "received", "attempt": a.receive_count, "queue": a.queue,
        }));
        let duration = a.finished_at - a.started_at;
        match a.outcome {
            AttemptOutcome::Failed => {
                out.push(json!({
                    "at": a.finished_at, "event": "failed", "attempt": a.receive_count,
                    "duration_ms": duration, "error": a.error,
                }));
                if let Some(v) = a.visible_again_at {
                    out.push(json!({
                        "at": a.finished_at, "event": "visibility_changed", "attempt": a.receive_count,
                        "visible_at": v, "detail": format!("retry in {} s", (v - a.finished_at).max(0) / 1000),
                    }));
                }
            }
            AttemptOutcome::Released => out.push(json!({
                "at": a.finished_at, "event": "released", "attempt": a.receive_count,
                "duration_ms": duration, "detail": "the worker stopped; handed back at once",
            })),
            AttemptOutcome::DeadLettered => out.push(json!({
                "at": a.finished_at, "event": "dead_lettered", "attempt": a.receive_count,
                "duration_ms": duration, "error": a.error, "queue": a.dead_letter_queue,
                "dead_letter_message_id": a.dead_letter_message_id,
            })),
        }
    }
    if let Some(j) = job {
        let status = j["status"].as_str().unwrap_or_default();
        let queue = j["queue"].as_str().unwrap_or_default();
        let was_copy_in = mark
            .filter(|m| m.source_message_id.is_some())
            .map(|m| m.queue.as_str());
        let last_seen = was_copy_in.or(attempts.last().map(|a| a.queue.as_str()));
        if let Some(from) = last_seen.filter(|q| *q != queue && status != "dead_lettered") {
            out.push(json!({ "event": "redriven", "from": from, "queue": queue }));
        }
        let moved_by_policy = status == "dead_lettered"
            && !attempts
                .iter()
                .any(|a| a.outcome == AttemptOutcome::DeadLettered)
            && mark.is_none_or(|m| {
                m.state != MarkState::DeadLettered || m.source_message_id.is_some()
            });
        if moved_by_policy && was_copy_in.is_none() {
            out.push(json!({
                "event": "dead_lettered", "queue": queue,
                "detail": "moved by the queue's redrive policy (maxReceiveCount)",
            }));
        }
        match status {
            "succeeded" | "failed" if j.get("result_key").is_some() => out.push(json!({
                "at": j["processed_timestamp"], "event": if status == "succeeded" { "succeeded" } else { "rejected" },
                "attempt": j["receive_count"], "result_key": j["result_key"], "error": j["error"],
                "duration_ms": j["processed_timestamp"].as_i64().zip(j["started_timestamp"].as_i64()).map(|(end, start)| end - start),
            })),
            "in_flight" => out.push(json!({ "event": "in_flight", "attempt": j["receive_count"], "queue": queue })),
            "queued" => out.push(json!({ "event": "waiting", "queue": queue })),
            _ => {}
        }
    }
    out
}
