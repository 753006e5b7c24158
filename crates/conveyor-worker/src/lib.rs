//! The worker runtime: for one queue, `concurrency` loops that long-poll for a message, run the
//! queue's handler on it, store a result record under the Athena partition path, and only then
//! delete the message.
//!
//! A handler says what failed and what to do: `Retry` with an `after` (a 429's `Retry-After`)
//! makes the message visible again after that long; `Retry` without one backs off
//! exponentially with jitter (the queue's `backoff`), both through `ChangeMessageVisibility`;
//! the redrive policy's count still sends a message that keeps failing to the dead-letter queue.
//! `Reject` never retries: the message goes to its dead-letter queue at once (sent there, then
//! deleted), or is deleted with a `rejected` result where the queue has none. While a handler
//! runs, its message's visibility is extended, so a slow handler is not mistaken for a dead one. On shutdown, no new message is taken; a running
//! handler may finish within a grace period, after which its message is released (made
//! visible again) rather than held until its timeout.
//!
//! The runtime sees only the `Queue` trait and a `Store`: it does not know which queue
//! implementation runs.
//!
//! Smoke probes are never handed to the handler (`layers.rs`): `conveyor smoke`'s dead-letter
//! probe (message attribute `conveyor-smoke` = `dead-letter`) is handed back at once, so it
//! reaches the dead-letter queue after the redrive policy's count of receives, and its
//! round-trip probes (`round-trip`) are finished with a result of their own, so smoke proves a
//! live deployment without opening a ticket or sending an e-mail.

mod batch;
mod flow;
mod layers;
mod marks;
#[cfg(feature = "testing")]
pub mod testing;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use conveyor_queue::{Queue, ReceiveRequest, ReceivedMessage, SendMessage};
use conveyor_store::{AttemptOutcome, MarkState, Store};
use tokio::sync::watch;

pub use batch::BatchLimits;
pub use conveyor_queue::PAUSED_TAG;
pub use flow::{FlowLimits, RateKey};
pub use layers::{SMOKE_ATTRIBUTE, SMOKE_DEAD_LETTER, SMOKE_ROUND_TRIP};

/// Why a handler did not finish a message, and what should happen to it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HandlerError {
    /// Try again: after `after` when given (what the remote asked, e.g. a 429's `Retry-After`),
    /// else after the queue's backoff for this attempt.
    #[error("{reason}")]
    Retry {
        reason: String,
        after: Option<Duration>,
    },
    /// Never retry (a bad address, a refused request): to the dead-letter queue at once.
    #[error("{reason}")]
    Reject { reason: String },
}

impl HandlerError {
    pub fn retry(reason: impl Into<String>) -> Self {
        HandlerError::Retry {
            reason: reason.into(),
            after: None,
        }
    }

    pub fn retry_after(reason: impl Into<String>, after: Duration) -> Self {
        HandlerError::Retry {
            reason: reason.into(),
            after: Some(after),
        }
    }

    pub fn reject(reason: impl Into<String>) -> Self {
        HandlerError::Reject {
            reason: reason.into(),
        }
    }
}

/// How long a failed message waits before its next attempt, when its handler did not say:
/// `initial` after the first failure, doubling with every receive up to `max`, each wait drawn
/// at random from its upper half so that messages failing together do not return together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub initial: Duration,
    pub max: Duration,
}

impl Backoff {
    /// The wait before attempt `receive_count + 1`, before jitter.
    pub fn ceiling(&self, receive_count: u32) -> Duration {
        let doublings = receive_count.saturating_sub(1).min(30);
        self.initial
            .saturating_mul(1u32 << doublings)
            .min(self.max)
            .max(self.initial.min(self.max))
    }

    fn wait(&self, receive_count: u32) -> Duration {
        let ceiling = self.ceiling(receive_count);
        let half = ceiling / 2;
        half + ceiling.saturating_sub(half).mul_f64(rand::random::<f64>())
    }
}

/// What a worker does with a message. `Ok` carries the output stored in the result record.
#[async_trait::async_trait]
pub trait Handler: Send + Sync {
    /// A short name for logs, metrics and result records (`log`, `http`, …).
    fn kind(&self) -> &'static str;
    async fn handle(&self, message: &ReceivedMessage) -> Result<serde_json::Value, HandlerError>;
    /// A batch at once (batch mode), one answer per message in order. By default each message
    /// is handled in turn; handlers that gain from batching (one upload, one call) override it.
    async fn handle_batch(
        &self,
        messages: &[ReceivedMessage],
    ) -> Vec<Result<serde_json::Value, HandlerError>> {
        let mut out = Vec::with_capacity(messages.len());
        for m in messages {
            out.push(self.handle(m).await);
        }
        out
    }
    /// Called once the message's result is stored (and before it is deleted): where a handler
    /// kept state for a redelivery, such as step checkpoints, it can let go of it now.
    async fn after_result(&self, _message: &ReceivedMessage) {}
    /// Whether the result record repeats the message body. A handler whose output already holds
    /// the body's substance (analytics: the events are in Parquet) says no, so nothing is
    /// stored twice; the record still exists, with `body_bytes` instead.
    fn result_keeps_body(&self) -> bool {
        true
    }
}

/// How to run the workers of one queue.
#[derive(Clone)]
pub struct QueueWorker {
    /// The queue's name as the queue service knows it.
    pub queue: String,
    pub handler: Arc<dyn Handler>,
    /// Messages processed at once.
    pub concurrency: usize,
    /// The queue's visibility timeout: handlers running longer are kept in flight by extending it.
    pub visibility: Duration,
    /// Long-poll wait per receive; also the longest a stop request waits for an idle loop.
    pub poll_wait: Duration,
    /// After a stop request, how long a running handler may take before its message is released.
    pub shutdown_grace: Duration,
    /// When a handler fails without saying when to retry.
    pub backoff: Backoff,
    /// Where a rejected message goes at once; without one it is deleted with a `rejected` result.
    pub dead_letter_queue: Option<String>,
    /// Rate and per-key concurrency, shared by this process's loops.
    pub flow: FlowLimits,
    /// Batch mode: each loop hands its handler up to `max_messages` at once.
    pub batch: Option<BatchLimits>,
}

/// What every loop of one queue shares: the rate spent before receiving, and whether the
/// queue is paused.
struct Shared {
    unkeyed_rate: Option<Arc<flow::RateLimiter>>,
    paused: watch::Receiver<bool>,
}

/// Outcome counters, shared with whoever reports metrics, and the last few failures (what the
/// dashboard lists as recent failures).
#[derive(Debug, Default)]
pub struct WorkerStats {
    pub processed: AtomicU64,
    pub failed: AtomicU64,
    pub released: AtomicU64,
    recent: std::sync::Mutex<std::collections::VecDeque<Failure>>,
}

/// One handler failure, as the dashboard shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Failure {
    /// Unix milliseconds.
    pub at: i64,
    pub queue: String,
    pub message_id: String,
    pub receive_count: u32,
    /// `retrying` or `dead_lettered` (or `rejected`, with no dead-letter queue).
    pub outcome: &'static str,
    pub error: String,
}

/// Failures kept per queue.
const RECENT_FAILURES: usize = 50;

impl WorkerStats {
    /// The one place an outcome is counted: here, and in `/metrics` as
    /// `conveyor_worker_messages_total{queue,outcome}`.
    fn count(&self, queue: &str, outcome: &'static str) {
        let field = match outcome {
            "processed" => Some(&self.processed),
            "released" => Some(&self.released),
            "retried" | "rejected" | "failed" => Some(&self.failed),
            _ => None,
        };
        if let Some(field) = field {
            field.fetch_add(1, Ordering::Relaxed);
        }
        metrics::counter!("conveyor_worker_messages_total", "queue" => queue.to_string(), "outcome" => outcome).increment(1);
    }

    /// The newest failures, newest first.
    pub fn recent_failures(&self) -> Vec<Failure> {
        let recent = self.recent.lock().unwrap_or_else(|e| e.into_inner());
        recent.iter().rev().cloned().collect()
    }

    fn note_failure(
        &self,
        queue: &str,
        message: &ReceivedMessage,
        outcome: &'static str,
        error: &str,
    ) {
        let mut recent = self.recent.lock().unwrap_or_else(|e| e.into_inner());
        if recent.len() == RECENT_FAILURES {
            recent.pop_front();
        }
        recent.push_back(Failure {
            at: now_millis(),
            queue: queue.to_string(),
            message_id: message.message_id.clone(),
            receive_count: message.approximate_receive_count,
            outcome,
            error: error.chars().take(2_000).collect(),
        });
    }

    pub fn processed(&self) -> u64 {
        self.processed.load(Ordering::Relaxed)
    }
    pub fn failed(&self) -> u64 {
        self.failed.load(Ordering::Relaxed)
    }
    pub fn released(&self) -> u64 {
        self.released.load(Ordering::Relaxed)
    }
}

fn now_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Run `worker` until `stop` turns true; returns when every loop has stopped.
pub async fn run(
    queue: Arc<dyn Queue>,
    store: Store,
    worker: QueueWorker,
    stats: Arc<WorkerStats>,
    stop: watch::Receiver<bool>,
) {
    let (pause, paused) = watch::channel(false);
    let watcher = tokio::spawn(watch_pause(
        queue.clone(),
        worker.queue.clone(),
        worker.poll_wait,
        pause,
        stop.clone(),
    ));
    let rate = worker
        .flow
        .rate
        .map(|r| Arc::new(flow::RateLimiter::new(r)));
    let single = worker.batch.is_none();
    let spent_by_loop = single && worker.flow.key.is_none();
    let pacing = layers::Pacing {
        rate: rate.clone(),
        key: worker.flow.key.clone(),
        gate: worker
            .flow
            .key_concurrency
            .filter(|_| worker.flow.key.is_some() && single)
            .map(flow::KeyGate::new),
        unkeyed_rate_spent_by_loop: spent_by_loop,
    };
    let shared = Arc::new(Shared {
        unkeyed_rate: rate.filter(|_| spent_by_loop),
        paused,
    });
    let mut worker = worker;
    worker.handler = layers::wrap(
        worker.handler.clone(),
        queue.clone(),
        &worker.queue,
        worker.visibility,
        pacing,
    );
    let loops: Vec<_> = (0..worker.concurrency.max(1))
        .map(|_| {
            let (queue, store, worker, stats, stop, shared) = (
                queue.clone(),
                store.clone(),
                worker.clone(),
                stats.clone(),
                stop.clone(),
                shared.clone(),
            );
            tokio::spawn(async move { poll_loop(queue, store, worker, stats, stop, shared).await })
        })
        .collect();
    for l in loops {
        if let Err(e) = l.await {
            tracing::error!(error = %e, "a worker loop panicked");
        }
    }
    watcher.abort();
}

/// Follow the queue's pause tag, read once per poll interval.
async fn watch_pause(
    queue: Arc<dyn Queue>,
    name: String,
    every: Duration,
    pause: watch::Sender<bool>,
    mut stop: watch::Receiver<bool>,
) {
    let every = every.clamp(Duration::from_millis(200), Duration::from_secs(2));
    loop {
        match queue.list_tags(&name).await {
            Ok(tags) => {
                let paused = tags.get(PAUSED_TAG).is_some_and(|v| v == "true");
                pause.send_if_modified(|p| {
                    let changed = *p != paused;
                    if changed {
                        tracing::info!(queue = %name, paused, "queue pause changed");
                    }
                    *p = paused;
                    changed
                });
            }
            Err(e) => tracing::debug!(queue = %name, error = %e, "cannot read the pause tag"),
        }
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            _ = stop.changed() => return,
        }
    }
}

async fn poll_loop(
    queue: Arc<dyn Queue>,
    store: Store,
    worker: QueueWorker,
    stats: Arc<WorkerStats>,
    stop: watch::Receiver<bool>,
    shared: Arc<Shared>,
) {
    let wait = worker.poll_wait.as_secs().clamp(0, 20) as u32;
    let mut paused = shared.paused.clone();
    if let Some(limits) = worker.batch {
        return batch::batch_loop(&*queue, &store, &worker, limits, &stats, &stop, &mut paused)
            .await;
    }
    while !*stop.borrow() {
        if *paused.borrow() {
            // Paused: take nothing until resumed (or stopped), checking at least once per poll.
            let _ = tokio::time::timeout(worker.poll_wait, paused.changed()).await;
            continue;
        }
        // Without a key, the rate is spent before receiving, so no message waits in flight.
        if let Some(rate) = &shared.unkeyed_rate {
            rate.hold("").await;
        }
        // The receive is never abandoned half-way: a dropped receive could leave a message in
        // flight with nobody working on it until its timeout. Stopping waits for the poll instead.
        let received = queue
            .receive(&worker.queue, ReceiveRequest::up_to(1).wait(wait))
            .await;
        if let Some(rate) = &shared.unkeyed_rate {
            rate.release("", received.as_ref().is_ok_and(|r| !r.is_empty()));
        }
        let received = match received {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(queue = %worker.queue, error = %e, "receive failed; retrying in a second");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        if *stop.borrow() {
            // A stop request arrived during the poll: hand these back rather than start on them.
            for message in received {
                let _ = queue
                    .change_visibility(&worker.queue, &message.receipt_handle, 0)
                    .await;
                stats.count(&worker.queue, "released");
            }
            return;
        }
        for message in received {
            if !process(&*queue, &store, &worker, &stats, &stop, message).await {
                return;
            }
        }
    }
}

/// Handle one message; false when it was released because of a stop request.
async fn process(
    queue: &dyn Queue,
    store: &Store,
    worker: &QueueWorker,
    stats: &WorkerStats,
    stop: &watch::Receiver<bool>,
    message: ReceivedMessage,
) -> bool {
    if !queue.locates_messages() {
        // Nothing else will say this job is under way: the queue service cannot be asked.
        marks::started(store, &worker.queue, std::slice::from_ref(&message)).await;
    }
    let started = now_millis();
    let outcome = tokio::select! {
        out = worker.handler.handle(&message) => out,
        () = released_after_grace(stop.clone(), worker.shutdown_grace) => {
            release(queue, store, worker, stats, &message, started).await;
            return false;
        }
    };
    settle(queue, store, worker, stats, &message, started, outcome).await;
    true
}

/// Out of grace: let another worker have it now rather than after its timeout.
pub(crate) async fn release(
    queue: &dyn Queue,
    store: &Store,
    worker: &QueueWorker,
    stats: &WorkerStats,
    message: &ReceivedMessage,
    started: i64,
) {
    let _ = queue
        .change_visibility(&worker.queue, &message.receipt_handle, 0)
        .await;
    stats.count(&worker.queue, "released");
    tracing::info!(queue = %worker.queue, message_id = %message.message_id, "released unfinished message");
    let mut record = marks::attempt(&worker.queue, message, started, AttemptOutcome::Released);
    record.visible_again_at = Some(record.finished_at);
    marks::write_attempt(store, record).await;
}

/// What a handler's answer means for its message: stored and deleted, scheduled for a retry,
/// or rejected.
async fn settle(
    queue: &dyn Queue,
    store: &Store,
    worker: &QueueWorker,
    stats: &WorkerStats,
    message: &ReceivedMessage,
    started: i64,
    outcome: Result<serde_json::Value, HandlerError>,
) {
    match outcome {
        Ok(output) => {
            finish(
                queue,
                store,
                worker,
                stats,
                message,
                started,
                "processed",
                output,
            )
            .await
        }
        Err(HandlerError::Retry { reason, after }) => {
            let wait =
                after.unwrap_or_else(|| worker.backoff.wait(message.approximate_receive_count));
            // Visibility is in whole seconds (rounded up, so a backoff never collapses to an
            // immediate retry); SQS keeps a message in flight at most 12 hours from its receive.
            let seconds = (wait.as_secs_f64().ceil() as u64).min(43_200) as u32;
            if let Err(e) = queue
                .change_visibility(&worker.queue, &message.receipt_handle, seconds)
                .await
            {
                tracing::warn!(queue = %worker.queue, message_id = %message.message_id, error = %e, "cannot schedule the retry; the message returns after its visibility timeout");
            }
            let mut retrying = marks::mark(&worker.queue, message, MarkState::Retrying);
            retrying.retry_at = Some(retrying.at + i64::from(seconds) * 1000);
            retrying.error = Some(reason.clone());
            let mut record =
                marks::attempt(&worker.queue, message, started, AttemptOutcome::Failed);
            record.error = Some(reason.clone());
            record.visible_again_at = retrying.retry_at;
            tokio::join!(
                marks::write(store, retrying),
                marks::write_attempt(store, record)
            );
            stats.count(&worker.queue, "retried");
            stats.note_failure(&worker.queue, message, "retrying", &reason);
            tracing::warn!(
                queue = %worker.queue, message_id = %message.message_id, receive_count = message.approximate_receive_count,
                retry_in_seconds = seconds, error = %reason, "handler failed; retrying"
            );
        }
        Err(HandlerError::Reject { reason }) => {
            tracing::warn!(queue = %worker.queue, message_id = %message.message_id, error = %reason, "handler rejected the message");
            let outcome = if worker.dead_letter_queue.is_some() {
                "dead_lettered"
            } else {
                "rejected"
            };
            stats.note_failure(&worker.queue, message, outcome, &reason);
            reject(queue, store, worker, stats, message, started, reason).await;
        }
    }
}

/// Store the result record, then delete the message: every deleted message has its result.
// The first four are the loop's shared context, passed as settle and reject pass them.
#[allow(clippy::too_many_arguments)]
async fn finish(
    queue: &dyn Queue,
    store: &Store,
    worker: &QueueWorker,
    stats: &WorkerStats,
    message: &ReceivedMessage,
    started: i64,
    status: &'static str,
    output: serde_json::Value,
) {
    match store_result(store, worker, message, started, status, output).await {
        Ok(()) => {
            worker.handler.after_result(message).await;
            marks::clear_after_success(store, queue.locates_messages(), message).await;
            if let Err(e) = queue.delete(&worker.queue, &message.receipt_handle).await {
                tracing::warn!(queue = %worker.queue, message_id = %message.message_id, error = %e, "processed but not deleted; it will be delivered again");
            }
            stats.count(&worker.queue, status);
        }
        Err(e) => {
            stats.count(&worker.queue, "failed");
            tracing::warn!(queue = %worker.queue, message_id = %message.message_id, error = %e, "result not stored; the message will be retried");
        }
    }
}

/// A message its handler will never accept: to the dead-letter queue now (a copy sent there,
/// then the original deleted, so a crash in between can only leave it in both), or, without
/// one, deleted with a `rejected` result.
async fn reject(
    queue: &dyn Queue,
    store: &Store,
    worker: &QueueWorker,
    stats: &WorkerStats,
    message: &ReceivedMessage,
    started: i64,
    reason: String,
) {
    let Some(dlq) = &worker.dead_letter_queue else {
        let output = serde_json::json!({ "rejected": reason });
        return finish(
            queue, store, worker, stats, message, started, "rejected", output,
        )
        .await;
    };
    let mut copy = SendMessage::new(message.body.clone());
    copy.attributes = message.attributes.clone();
    if dlq.ends_with(".fifo") {
        copy.group_id = Some(
            message
                .group_id
                .clone()
                .unwrap_or_else(|| "rejected".into()),
        );
        copy.deduplication_id = Some(message.message_id.clone());
    }
    match queue.send(dlq, copy).await {
        Ok(sent) => {
            let mut moved = marks::mark(&worker.queue, message, MarkState::DeadLettered);
            moved.error = Some(reason.clone());
            moved.dead_letter_queue = Some(dlq.clone());
            moved.dead_letter_message_id = Some(sent.message_id.clone());
            // The copy's own mark: what the dead-letter browser shows as its source and error.
            let mut copy = moved.clone();
            copy.message_id = sent.message_id.clone();
            copy.queue = dlq.clone();
            copy.receive_count = 0;
            copy.sent_timestamp = moved.at;
            copy.dead_letter_queue = None;
            copy.dead_letter_message_id = None;
            copy.source_queue = Some(worker.queue.clone());
            copy.source_message_id = Some(message.message_id.clone());
            let mut record = marks::attempt(
                &worker.queue,
                message,
                started,
                AttemptOutcome::DeadLettered,
            );
            record.error = Some(reason);
            record.dead_letter_queue = Some(dlq.clone());
            record.dead_letter_message_id = Some(sent.message_id);
            tokio::join!(
                marks::write(store, moved),
                marks::write(store, copy),
                marks::write_attempt(store, record)
            );
            if let Err(e) = queue.delete(&worker.queue, &message.receipt_handle).await {
                tracing::warn!(queue = %worker.queue, message_id = %message.message_id, error = %e, "rejected to the dead-letter queue but not deleted; it will be delivered again");
            }
            stats.count(&worker.queue, "rejected");
        }
        Err(e) => {
            stats.count(&worker.queue, "failed");
            tracing::warn!(queue = %worker.queue, message_id = %message.message_id, error = %e, "cannot move a rejected message to its dead-letter queue; it returns after its visibility timeout");
        }
    }
}

/// Completes `grace` after a stop request; never without one.
async fn released_after_grace(mut stop: watch::Receiver<bool>, grace: Duration) {
    while !*stop.borrow() {
        if stop.changed().await.is_err() {
            // The stop sender is gone: nobody can ask us to stop any more.
            std::future::pending::<()>().await;
        }
    }
    tokio::time::sleep(grace).await;
}

async fn store_result(
    store: &Store,
    worker: &QueueWorker,
    message: &ReceivedMessage,
    started: i64,
    status: &str,
    output: serde_json::Value,
) -> Result<(), conveyor_store::StoreError> {
    let processed_at = now_millis();
    // Partitioned by when the message was sent, not processed: a message delivered again (its
    // worker died after storing, before deleting) overwrites its own result instead of adding one.
    let key =
        conveyor_store::result_key(&worker.queue, &message.message_id, message.sent_timestamp)?;
    let body = if worker.handler.result_keeps_body() {
        serde_json::from_str::<serde_json::Value>(&message.body)
            .unwrap_or_else(|_| serde_json::Value::String(message.body.clone()))
    } else {
        serde_json::Value::Null
    };
    let record = serde_json::json!({
        "body_bytes": message.body.len(),
        "message_id": message.message_id,
        "queue": worker.queue,
        "status": status,
        "handler": worker.handler.kind(),
        "sent_timestamp": message.sent_timestamp,
        "started_timestamp": started,
        "processed_timestamp": processed_at,
        "receive_count": message.approximate_receive_count,
        "group_id": message.group_id,
        "body": body,
        "output": output,
    });
    store.put(&key, record.to_string()).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_per_receive_within_its_bounds_and_jitters_in_the_upper_half() {
        let b = Backoff {
            initial: Duration::from_secs(2),
            max: Duration::from_secs(60),
        };
        let ceilings: Vec<u64> = (1..=7).map(|n| b.ceiling(n).as_secs()).collect();
        assert_eq!(ceilings, [2, 4, 8, 16, 32, 60, 60]);
        for n in 1..=7 {
            let w = b.wait(n);
            assert!(w >= b.ceiling(n) / 2 && w <= b.ceiling(n), "{w:?} for {n}");
        }
        assert_eq!(b.ceiling(u32::MAX).as_secs(), 60, "no overflow");
    }
}
