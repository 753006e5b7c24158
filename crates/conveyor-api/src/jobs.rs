//! Job status: `GET /v1/jobs/{message_id}` tells where a message's work stands, from what the
//! queue service and the workers leave behind, on both backends:
//!
//! - the queue service, where it can look a message up (`Queue::locate`, the embedded engine):
//!   queued, in flight (with its receive count), or in a dead-letter queue;
//! - the result record (`results/{queue}/…/{id}.json`): succeeded, or failed for good when the
//!   handler rejected it and the queue had no dead-letter queue;
//! - the job mark a worker writes when an attempt fails, when it rejects a message into the
//!   dead-letter queue, and (where the queue service cannot be asked, as on SQS) when an
//!   attempt starts;
//! - the `steps` checkpoint: the steps already done while a job is under way.
//!
//! The result's key holds the hour the message was sent. The way to it is the job mark, or the
//! id itself: the embedded engine's ids are UUIDv7, whose first 48 bits are the send time. SQS's
//! ids are random, and a message no worker has received yet leaves no trace there, so on SQS the
//! ingest answer's status URL carries the queue and the send time (`?queue=…&sent=…`).

use axum::extract::{Path, Query, State};
use axum::Json;
use conveyor_config::{HandlerConfig, QueueSettings, Settings};
use conveyor_queue::Located;
use conveyor_store::{JobMark, MarkState, Store, StoreError};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::openapi::ErrorBody;
use crate::{ApiError, ApiState};

/// What the status URL may add to the id (see the module's notes).
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct JobHints {
    /// The queue the message was sent to.
    queue: Option<String>,
    /// When the API sent it (epoch milliseconds).
    sent: Option<i64>,
}

impl JobHints {
    /// A message sent to `queue` at about `sent_ms`.
    pub fn sent_to(queue: &str, sent_ms: i64) -> JobHints {
        JobHints {
            queue: Some(queue.to_string()),
            sent: Some(sent_ms),
        }
    }
}

/// How far a clock may be from the queue service's when guessing the send hour from the API's
/// clock: a send this close to the hour's end may have been stamped in the next one.
const CLOCK_SLACK_MS: i64 = 5 * 60 * 1000;

#[utoipa::path(get, path = "/v1/jobs/{message_id}", tag = "jobs", params(("message_id" = String, Path), JobHints),
    responses((status = 200, description = "Where the job stands", body = serde_json::Value),
        (status = 400, description = "Not a message id", body = ErrorBody),
        (status = 404, description = "No trace of this id", body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn status(
    State(state): State<ApiState>,
    Path(message_id): Path<String>,
    Query(hints): Query<JobHints>,
) -> Result<Json<Value>, ApiError> {
    match resolve(&state, &message_id, &hints).await? {
        Some(status) => Ok(Json(status)),
        None => Err(ApiError::NotFound(format!(
            "no job {message_id}: no queue holds it and no worker recorded it (or its records expired); use the status URL the ingest answer gave"
        ))),
    }
}

/// The status URL the ingest answer gives for a message sent to `queue` at `sent_ms`.
pub fn status_url(state: &ApiState, queue: &str, message_id: &str, sent_ms: i64) -> String {
    if state.queue.locates_messages() {
        format!("/v1/jobs/{message_id}")
    } else {
        format!("/v1/jobs/{message_id}?queue={queue}&sent={sent_ms}")
    }
}

/// The status of `message_id`, or `None` when nothing knows it.
pub async fn resolve(
    state: &ApiState,
    message_id: &str,
    hints: &JobHints,
) -> Result<Option<Value>, ApiError> {
    let mark_key = conveyor_store::mark_key(message_id)
        .map_err(|_| ApiError::BadRequest(format!("{message_id:?} is not a message id")))?;
    let hinted = match &hints.queue {
        Some(name) => Some(worker_queue(&state.settings, name).ok_or_else(|| {
            ApiError::BadRequest(format!("{name:?} is not one of this deployment's queues"))
        })?),
        None => None,
    };
    let located = state.queue.locate(message_id).await?;
    let mark = read_json::<JobMark>(&state.store, &mark_key).await?;
    if let Some(here) = located {
        return Ok(Some(live(state, message_id, &here, mark.as_ref()).await?));
    }
    // Where the queue service cannot be asked, a worker marks each delivery before it stores
    // a result: no mark, no result, and the lookups can be spared.
    let candidates = if mark.is_none() && !state.queue.locates_messages() {
        Vec::new()
    } else {
        result_candidates(
            &state.settings,
            message_id,
            hinted,
            hints.sent,
            mark.as_ref(),
        )
    };
    for (queue, key) in candidates {
        if let Some(record) = read_json::<Value>(&state.store, &key).await? {
            return Ok(Some(finished(queue, &key, &record)));
        }
    }
    if let Some(mark) = mark {
        return Ok(Some(marked(state, &mark).await?));
    }
    Ok(match (hinted, hints.sent) {
        // Sent (the status URL says so), not yet received by any worker.
        (Some(queue), Some(_)) if !state.queue.locates_messages() => Some(json!({
            "job_id": message_id, "status": "queued", "queue": queue.name, "receive_count": 0,
        })),
        _ => None,
    })
}

/// A configured queue by its name, its key, or its dead-letter queue's name.
fn worker_queue<'a>(settings: &'a Settings, name: &str) -> Option<&'a QueueSettings> {
    settings
        .queues
        .iter()
        .find(|q| q.name == name || q.key == name || q.dlq_name == name)
}

/// A message the queue service still holds.
async fn live(
    state: &ApiState,
    message_id: &str,
    here: &Located,
    mark: Option<&JobMark>,
) -> Result<Value, ApiError> {
    let mut status = json!({
        "job_id": message_id,
        "queue": here.queue,
        "receive_count": here.receive_count,
        "sent_timestamp": here.sent_timestamp,
    });
    let is_dlq = here.dead_letter_source_arn.is_some()
        || state
            .settings
            .queues
            .iter()
            .any(|q| q.dlq_name == here.queue);
    let failed_last =
        mark.filter(|m| m.state == MarkState::Retrying && m.receive_count == here.receive_count);
    if is_dlq {
        status["status"] = "dead_lettered".into();
        status["rejected"] = mark
            .is_some_and(|m| m.state == MarkState::DeadLettered)
            .into();
        if let Some(m) = mark {
            status["error"] = m.error.clone().into();
        }
    } else if let (Some(m), false) = (failed_last, here.in_flight) {
        status["status"] = "failed".into();
        status["error"] = m.error.clone().into();
        status["retry_at"] = m.retry_at.into();
        status["will_retry"] = true.into();
    } else if here.in_flight {
        status["status"] = "in_flight".into();
        add_steps_done(&state.store, &here.queue, message_id, &mut status).await?;
    } else {
        status["status"] = "queued".into();
    }
    Ok(status)
}

/// Where the result may be: first exactly, from a mark; then every hour the send may fall in
/// (from the hint's send time, or the id's own time when it is a UUIDv7) for the hinted queue,
/// or for every configured queue.
fn result_candidates<'a>(
    settings: &'a Settings,
    message_id: &str,
    hinted: Option<&'a QueueSettings>,
    sent_hint: Option<i64>,
    mark: Option<&JobMark>,
) -> Vec<(&'a QueueSettings, String)> {
    // The mark names the queue and send time exactly; a message redriven elsewhere since has
    // its result under another queue, which the id's time (or the hint) finds.
    let mut out: Vec<(&QueueSettings, String)> = Vec::new();
    if let Some(m) = mark {
        if let Some(q) = worker_queue(settings, &m.queue) {
            for at in [Some(m.sent_timestamp), uuid_v7_millis(message_id)]
                .into_iter()
                .flatten()
            {
                if let Ok(key) = conveyor_store::result_key(&q.name, message_id, at) {
                    if !out.iter().any(|(_, k)| *k == key) {
                        out.push((q, key));
                    }
                }
            }
        }
    }
    let Some(sent) = uuid_v7_millis(message_id).or(sent_hint) else {
        return out;
    };
    let queues: Vec<&QueueSettings> = match hinted {
        Some(q) => vec![q],
        None => settings.queues.iter().collect(),
    };
    let mut hours = vec![sent];
    let next = sent + CLOCK_SLACK_MS;
    if conveyor_store::Hour::of_millis(next) != conveyor_store::Hour::of_millis(sent) {
        hours.push(next);
    }
    for q in queues {
        for at in &hours {
            if let Ok(key) = conveyor_store::result_key(&q.name, message_id, *at) {
                if !out.iter().any(|(_, k)| *k == key) {
                    out.push((q, key));
                }
            }
        }
    }
    out
}

/// The send time a UUIDv7 carries (its first 48 bits, Unix milliseconds).
fn uuid_v7_millis(id: &str) -> Option<i64> {
    let uuid = uuid::Uuid::parse_str(id).ok()?;
    if uuid.get_version_num() != 7 {
        return None;
    }
    let (secs, nanos) = uuid.get_timestamp()?.to_unix();
    Some(secs as i64 * 1000 + i64::from(nanos / 1_000_000))
}

/// A job with a result record: succeeded, or (a `rejected` result) failed for good.
fn finished(queue: &QueueSettings, key: &str, record: &Value) -> Value {
    let mut status = json!({
        "job_id": record["message_id"],
        "queue": queue.name,
        "receive_count": record["receive_count"],
        "sent_timestamp": record["sent_timestamp"],
        "processed_timestamp": record["processed_timestamp"],
        "started_timestamp": record["started_timestamp"],
        "result_key": key,
    });
    if record["status"] == "rejected" {
        status["status"] = "failed".into();
        status["error"] = record["output"]["rejected"].clone();
        status["will_retry"] = false.into();
        status["rejected"] = true.into();
        return status;
    }
    status["status"] = "succeeded".into();
    status["output"] = record["output"].clone();
    if record["handler"] == "steps" {
        if let Value::Object(outputs) = &record["output"] {
            status["steps"] = steps_list(outputs, step_order(queue));
        }
    }
    status
}

/// `[{name, output}]` from a steps output object, in the queue's step order when known.
fn steps_list(outputs: &Map<String, Value>, order: Option<Vec<&str>>) -> Value {
    let mut steps: Vec<(&String, &Value)> = outputs.iter().collect();
    if let Some(order) = order {
        steps.sort_by_key(|(name, _)| order.iter().position(|o| o == name));
    }
    steps
        .into_iter()
        .map(|(name, output)| json!({ "name": name, "output": output }))
        .collect()
}

/// A job known only by its mark: the queue service cannot say where it is (SQS) or no longer
/// holds it (moved to a dead-letter queue by a rejection).
async fn marked(state: &ApiState, mark: &JobMark) -> Result<Value, ApiError> {
    let mut status = json!({
        "job_id": mark.message_id,
        "queue": mark.queue,
        "receive_count": mark.receive_count,
        "sent_timestamp": mark.sent_timestamp,
    });
    let max_receives = worker_queue(&state.settings, &mark.queue).map(|q| q.max_receive_count);
    match mark.state {
        MarkState::DeadLettered => {
            status["status"] = "dead_lettered".into();
            status["rejected"] = true.into();
            status["error"] = mark.error.clone().into();
            status["dead_letter_queue"] = mark.dead_letter_queue.clone().into();
            status["dead_letter_message_id"] = mark.dead_letter_message_id.clone().into();
        }
        MarkState::Retrying if max_receives.is_some_and(|max| mark.receive_count >= max) => {
            // Its next receive finds it over the redrive policy's count: the queue service
            // moves it to the dead-letter queue instead of delivering it.
            status["status"] = "failed".into();
            status["error"] = mark.error.clone().into();
            status["will_retry"] = false.into();
            status["rejected"] = false.into();
        }
        MarkState::Retrying => {
            status["status"] = "failed".into();
            status["error"] = mark.error.clone().into();
            status["retry_at"] = mark.retry_at.into();
            status["will_retry"] = true.into();
        }
        MarkState::InFlight => {
            status["status"] = "in_flight".into();
            add_steps_done(&state.store, &mark.queue, &mark.message_id, &mut status).await?;
        }
    }
    Ok(status)
}

/// A `steps` job under way: the steps finished so far, from its checkpoint.
async fn add_steps_done(
    store: &Store,
    queue: &str,
    message_id: &str,
    status: &mut Value,
) -> Result<(), ApiError> {
    let Ok(key) = conveyor_store::checkpoint_key(queue, message_id) else {
        return Ok(());
    };
    if let Some(Value::Object(done)) = read_json::<Value>(store, &key).await? {
        status["steps_done"] = steps_list(&done, None);
    }
    Ok(())
}

/// A stored JSON record, `None` when absent. One that does not parse (written by something
/// else) is logged and passed over: the other records may still tell the status.
pub(crate) async fn read_json<T: serde::de::DeserializeOwned>(
    store: &Store,
    key: &str,
) -> Result<Option<T>, ApiError> {
    match store.get(key).await {
        Ok(bytes) => Ok(serde_json::from_slice(&bytes)
            .inspect_err(|e| tracing::warn!(key, error = %e, "a job record does not parse"))
            .ok()),
        Err(StoreError::NotFound(_)) => Ok(None),
        Err(e) => Err(ApiError::Store(e)),
    }
}

/// The configured steps of a queue, in order, to order a steps result's outputs by.
fn step_order(queue: &QueueSettings) -> Option<Vec<&str>> {
    match &queue.handler {
        HandlerConfig::Steps(s) => Some(s.steps.iter().map(|s| s.name.as_str()).collect()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_uuid_v7_tells_its_time_and_a_v4_does_not() {
        let at = uuid::Timestamp::from_unix(uuid::NoContext, 1_764_590_400, 123_000_000);
        let v7 = uuid::Uuid::new_v7(at).to_string();
        assert_eq!(uuid_v7_millis(&v7), Some(1_764_590_400_123));
        assert_eq!(uuid_v7_millis(&uuid::Uuid::new_v4().to_string()), None);
        assert_eq!(uuid_v7_millis("not-a-uuid"), None);
    }
}
