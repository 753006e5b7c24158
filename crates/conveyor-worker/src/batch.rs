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

use crate::{released_after_grace, settle, store_result, QueueWorker, WorkerStats};

/// How a queue's messages are gathered into batches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchLimits {
    pub max_messages: usize,
    /// How long the first message of a batch waits for others (below half the visibility
    /// timeout, which the configuration checks).
    pub max_wait: Duration,
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
    while batch.len() < limits.max_messages && !*stop.borrow() {
        let wait = match deadline {
            None => poll,
            Some(d) => match d.checked_duration_since(Instant::now()) {
                Some(left) => left.as_secs().min(20) as u32,
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

/// Keep every message of the batch in flight, every half timeout; returns only on failure.
async fn keep_batch_in_flight(queue: &dyn Queue, worker: &QueueWorker, batch: &[ReceivedMessage]) {
    let timeout = worker.visibility.as_secs().max(1);
    loop {
        tokio::time::sleep(Duration::from_millis(timeout * 500)).await;
        for chunk in batch.chunks(10) {
            let entries = BatchEntry::numbered(
                chunk
                    .iter()
                    .map(|m| (m.receipt_handle.clone(), timeout as u32)),
            );
            if let Err(e) = queue.change_visibility_batch(&worker.queue, entries).await {
                tracing::warn!(queue = %worker.queue, error = %e, "cannot extend a running batch's visibility");
                return;
            }
        }
    }
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
        let outcomes = tokio::select! {
            out = worker.handler.handle_batch(&batch) => Some(out),
            () = keep_batch_in_flight(queue, worker, &batch) => None,
            () = released_after_grace(stop.clone(), worker.shutdown_grace) => None,
        };
        let Some(outcomes) = outcomes.filter(|o| o.len() == batch.len()) else {
            // Unfinished (or a handler that answered for the wrong number): let them go now.
            for m in &batch {
                let _ = queue
                    .change_visibility(&worker.queue, &m.receipt_handle, 0)
                    .await;
                stats.count(&worker.queue, "released");
            }
            continue;
        };
        // Results are written 16 at a time: one by one, a batch of 100 waited on 100 writes.
        let mut failed = Vec::new();
        let mut writes = Vec::new();
        for (message, outcome) in batch.iter().zip(outcomes) {
            match outcome {
                Ok(output) => writes.push(async move {
                    (
                        message,
                        store_result(store, worker, message, "processed", output).await,
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
            settle(queue, store, worker, stats, message, outcome).await;
        }
        for chunk in done.chunks(10) {
            for m in chunk.iter() {
                worker.handler.after_result(m).await;
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
