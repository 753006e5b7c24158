//! Job marks (`conveyor_store::JobMark`): what a worker writes about a delivery besides its
//! result, so `GET /v1/jobs/{id}` can tell a failing or dead-lettered job from a queued one.
//! Marks are written only where nothing else remembers: on every failure, and at the start of
//! a delivery only when the queue service cannot look messages up (SQS). A mark that cannot
//! be written is logged and the message goes on: job status is an account, not a gate.
//! Each delivery that ends without a result also leaves an `AttemptRecord` (the message's
//! timeline), and a rejected message's dead-letter copy gets a mark of its own naming where it
//! came from and why, which the dead-letter browser shows.

use conveyor_queue::ReceivedMessage;
use conveyor_store::{
    attempt_key, mark_key, AttemptOutcome, AttemptRecord, JobMark, MarkState, Store,
};

use crate::now_millis;

/// The mark for `message` in `state`, to fill in further.
pub(crate) fn mark(queue: &str, message: &ReceivedMessage, state: MarkState) -> JobMark {
    JobMark {
        message_id: message.message_id.clone(),
        queue: queue.to_string(),
        sent_timestamp: message.sent_timestamp,
        receive_count: message.approximate_receive_count,
        state,
        error: None,
        retry_at: None,
        dead_letter_queue: None,
        dead_letter_message_id: None,
        source_queue: None,
        source_message_id: None,
        at: now_millis(),
    }
}

pub(crate) async fn write(store: &Store, mark: JobMark) {
    let key = match mark_key(&mark.message_id) {
        Ok(key) => key,
        Err(e) => {
            tracing::debug!(message_id = %mark.message_id, error = %e, "no job mark for this id");
            return;
        }
    };
    let body = serde_json::to_string(&mark).expect("a job mark serializes");
    if let Err(e) = store.put(&key, body).await {
        tracing::warn!(message_id = %mark.message_id, error = %e, "cannot write the job mark; its job status may lag");
    }
}

/// Mark each message of a batch in flight, 16 writes at a time.
pub(crate) async fn started(store: &Store, queue: &str, batch: &[ReceivedMessage]) {
    for chunk in batch.chunks(16) {
        let marks: Vec<JobMark> = chunk
            .iter()
            .map(|m| mark(queue, m, MarkState::InFlight))
            .collect();
        futures_util::future::join_all(marks.into_iter().map(|m| write(store, m))).await;
    }
}

/// After a success: a mark left by an earlier failed delivery is stale. Where the queue
/// service can locate messages the result alone tells the job's end, so the mark goes; on SQS
/// it stays, as the way from the id to the result.
pub(crate) async fn clear_after_success(
    store: &Store,
    locates_messages: bool,
    message: &ReceivedMessage,
) {
    if !locates_messages || message.approximate_receive_count <= 1 {
        return;
    }
    if let Ok(key) = mark_key(&message.message_id) {
        if let Err(e) = store.delete(&key).await {
            tracing::debug!(message_id = %message.message_id, error = %e, "cannot remove a stale job mark");
        }
    }
}

/// The record of a delivery that ended without a result.
pub(crate) fn attempt(
    queue: &str,
    message: &ReceivedMessage,
    started_at: i64,
    outcome: AttemptOutcome,
) -> AttemptRecord {
    AttemptRecord {
        message_id: message.message_id.clone(),
        queue: queue.to_string(),
        receive_count: message.approximate_receive_count,
        started_at,
        finished_at: now_millis(),
        outcome,
        error: None,
        visible_again_at: None,
        dead_letter_queue: None,
        dead_letter_message_id: None,
    }
}

pub(crate) async fn write_attempt(store: &Store, record: AttemptRecord) {
    let Ok(key) = attempt_key(&record.message_id, record.receive_count) else {
        return;
    };
    let body = serde_json::to_string(&record).expect("an attempt record serializes");
    if let Err(e) = store.put(&key, body).await {
        tracing::warn!(message_id = %record.message_id, error = %e, "cannot write the attempt record; the message's timeline will lack it");
    }
}
