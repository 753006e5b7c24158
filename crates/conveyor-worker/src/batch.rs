//! Batch mode (`[queues.X.worker] batch = { max_messages, max_wait }`): a loop gathers up to
//! `max_messages` for at most `max_wait` after the first arrives, keeps the whole batch in
//! flight with `ChangeMessageVisibilityBatch`, hands it to `Handler::handle_batch`, stores the
//! successes' results and deletes them with `DeleteMessageBatch`; each failure is settled on its
//! own (Retry or Reject), so a partial failure deletes only what succeeded.

use std::time::{Duration, Instant};

use conveyor_queue::{BatchEntry, Queue, ReceiveRequest, ReceivedMessage};
use conveyor_store::Store;
use futures_util::StreamExt;
use tokio::sync::watch;

use crate::{
    marks, release, released_after_grace, settle, store_result, HandlerError, QueueWorker,
    WorkerStats,
};

/// How a queue's messages are gathered into batches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchLimits {
    pub max_messages: usize,
    /// How long the first message of a batch waits for others (below half the visibility
    /// timeout, which the configuration checks).
    pub max_wait: Duration,
    /// The batch ends once its bodies reach this many bytes (the analytics handler's buffer).
    pub max_bytes: Option<usize>,
}

/// Gather one batch; empty when nothing arrived within one poll.
async fn gather(
    queue: &dyn Queue,
    worker: &QueueWorker,
    limits: BatchLimits,
    stop: &watch::Receiver<bool>,
) -> Vec<ReceivedMessage> {
    let poll = worker.poll_wait.as_secs().clamp(0, 20) as u32;
    let mut batch: Vec<ReceivedMessage> = Vec::new();
    let mut deadline: Option<Instant> = None;
    let mut bytes = 0;
    while batch.len() < limits.max_messages
        && limits.max_bytes.is_none_or(|most| bytes < most)
        && !*stop.borrow()
    {
        let wait = match deadline {
            None => poll,
            // A second at a time while gathering, so a stop is seen within one and the batch
            // so far is handled (an analytics buffer flushed) instead of waiting out max_wait.
            Some(d) => match d.checked_duration_since(Instant::now()) {
                Some(left) => left.as_secs().min(1) as u32,
                None => break,
            },
        };
        let want = (limits.max_messages - batch.len()).min(10) as u32;
        match queue
            .receive(&worker.queue, ReceiveRequest::up_to(want).wait(wait))
            .await
        {
            Ok(got) if got.is_empty() && deadline.is_none() => return batch,
            Ok(got) => {
                if deadline.is_none() {
                    deadline = Some(Instant::now() + limits.max_wait);
                }
                bytes += got.iter().map(|m| m.body.len()).sum::<usize>();
                batch.extend(got);
            }
            Err(e) => {
                tracing::warn!(queue = %worker.queue, error = %e, "receive failed; retrying in a second");
                tokio::time::sleep(Duration::from_secs(1)).await;
                if deadline.is_none() {
                    return batch;
                }
            }
        }
    }
    batch
}

/// On a FIFO queue, a message that will be retried must still come before the later messages
/// of its group: those are retried with it (made visible again at once; the group stays
/// locked while the failed one waits), even where the handler finished them, as Lambda does
/// for FIFO batches. A rejected message is gone for good and holds nothing back.
fn keep_group_order(
    batch: &[ReceivedMessage],
    outcomes: Vec<Result<serde_json::Value, HandlerError>>,
) -> Vec<Result<serde_json::Value, HandlerError>> {
    let mut held: Vec<&str> = Vec::new();
    batch
        .iter()
        .zip(outcomes)
        .map(|(m, outcome)| {
            let Some(group) = m.group_id.as_deref() else {
                return outcome;
            };
            if held.contains(&group) {
                return Err(HandlerError::retry_after(
                    format!("an earlier message of group {group} in this batch will be retried; this one follows it"),
                    Duration::ZERO,
                ));
            }
            if matches!(outcome, Err(HandlerError::Retry { .. })) {
                held.push(group);
            }
            outcome
        })
        .collect()
}

/// One loop of batch mode; returns once stopped.
pub(crate) async fn batch_loop(
    queue: &dyn Queue,
    store: &Store,
    worker: &QueueWorker,
    limits: BatchLimits,
    stats: &WorkerStats,
    stop: &watch::Receiver<bool>,
    paused: &mut watch::Receiver<bool>,
) {
    while !*stop.borrow() {
        if *paused.borrow() {
            let _ = tokio::time::timeout(worker.poll_wait, paused.changed()).await;
            continue;
        }
        let batch = gather(queue, worker, limits, stop).await;
        if batch.is_empty() {
            continue;
        }
        if !queue.locates_messages() {
            marks::started(store, &worker.queue, &batch).await;
        }
        let started = crate::now_millis();
        let outcomes = tokio::select! {
            out = worker.handler.handle_batch(&batch) => Some(out),
            () = released_after_grace(stop.clone(), worker.shutdown_grace) => None,
        };
        let Some(outcomes) = outcomes.filter(|o| o.len() == batch.len()) else {
            // Unfinished (or a handler that answered for the wrong number): let them go now.
            for m in &batch {
                release(queue, store, worker, stats, m, started).await;
            }
            continue;
        };
        let outcomes = keep_group_order(&batch, outcomes);
        // Results are written 16 at a time: one by one, a batch of 100 waited on 100 writes.
        let mut failed = Vec::new();
        let mut writes = Vec::new();
        for (message, outcome) in batch.iter().zip(outcomes) {
            match outcome {
                Ok(output) => writes.push(async move {
                    (
                        message,
                        store_result(store, worker, message, started, "processed", output).await,
                    )
                }),
                other => failed.push((message, other)),
            }
        }
        let written: Vec<_> = futures_util::stream::iter(writes)
            .buffer_unordered(16)
            .collect()
            .await;
        let mut done = Vec::new();
        for (message, stored) in written {
            match stored {
                Ok(()) => done.push(message),
                Err(e) => {
                    stats.count(&worker.queue, "failed");
                    tracing::warn!(queue = %worker.queue, message_id = %message.message_id, error = %e, "result not stored; the message will be retried");
                }
            }
        }
        for (message, outcome) in failed {
            settle(queue, store, worker, stats, message, started, outcome).await;
        }
        for chunk in done.chunks(10) {
            for m in chunk.iter() {
                worker.handler.after_result(m).await;
                marks::clear_after_success(store, queue.locates_messages(), m).await;
            }
            let entries = BatchEntry::numbered(chunk.iter().map(|m| m.receipt_handle.clone()));
            match queue.delete_batch(&worker.queue, entries).await {
                Ok(outcome) => {
                    for _ in &outcome.successful {
                        stats.count(&worker.queue, "processed");
                    }
                    for (_, e) in &outcome.failed {
                        tracing::warn!(queue = %worker.queue, error = %e, "processed but not deleted; it will be delivered again");
                    }
                }
                Err(e) => {
                    tracing::warn!(queue = %worker.queue, error = %e, "processed but not deleted; they will be delivered again")
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(id: &str, group: Option<&str>) -> ReceivedMessage {
        ReceivedMessage {
            message_id: id.into(),
            group_id: group.map(str::to_string),
            ..ReceivedMessage::default()
        }
    }

    #[test]
    fn a_retried_fifo_message_holds_back_the_later_ones_of_its_group_only() {
        let batch = [
            message("a1", Some("a")),
            message("b1", Some("b")),
            message("a2", Some("a")),
            message("b2", Some("b")),
            message("a3", Some("a")),
            message("c1", Some("c")),
            message("c2", Some("c")),
        ];
        let outcomes = vec![
            Ok(serde_json::json!(1)),
            Err(HandlerError::retry("b1 failed")),
            Err(HandlerError::retry("a2 failed")),
            Ok(serde_json::json!(2)),
            Ok(serde_json::json!(3)),
            Err(HandlerError::reject("c1 is bad")),
            Ok(serde_json::json!(4)),
        ];
        let kept: Vec<&str> = keep_group_order(&batch, outcomes)
            .iter()
            .map(|o| match o {
                Ok(_) => "done",
                Err(HandlerError::Retry { after: Some(d), .. }) if d.is_zero() => "held",
                Err(HandlerError::Retry { .. }) => "retry",
                Err(HandlerError::Reject { .. }) => "reject",
            })
            .collect();
        assert_eq!(
            kept,
            ["done", "retry", "retry", "held", "held", "reject", "done"]
        );
        // Standard queues have no groups: nothing is held back.
        let plain = [message("x", None), message("y", None)];
        let out = keep_group_order(
            &plain,
            vec![Err(HandlerError::retry("x")), Ok(serde_json::json!(1))],
        );
        assert!(out[1].is_ok());
    }
}
