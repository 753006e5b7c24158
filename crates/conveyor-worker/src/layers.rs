//! What every queue's handler runs inside, as layers around it rather than code in the loops:
//! the `conveyor smoke` dead-letter probe, keeping the message (or batch) in flight while it
//! waits and works, the keyed flow limits, and the handler-duration metric. `wrap` stacks
//! them; the loops only receive, call and settle.

use std::sync::Arc;
use std::time::{Duration, Instant};

use conveyor_queue::{BatchEntry, Queue, ReceivedMessage};
use serde_json::Value;

use crate::flow::{KeyGate, RateKey, RateLimiter};
use crate::{Handler, HandlerError};

/// The message attribute by which `conveyor smoke` marks its probes, and its two values: refuse
/// this one (it must reach the dead-letter queue by the redrive policy), and finish this one
/// without the handler (it proves receive, result and delete, with no side effect).
pub const SMOKE_ATTRIBUTE: &str = "conveyor-smoke";
pub const SMOKE_DEAD_LETTER: &str = "dead-letter";
pub const SMOKE_ROUND_TRIP: &str = "round-trip";

type Outcome = Result<Value, HandlerError>;

/// The flow limits a `Paced` layer applies after the receive.
pub(crate) struct Pacing {
    pub rate: Option<Arc<RateLimiter>>,
    pub key: Option<RateKey>,
    pub gate: Option<KeyGate>,
    /// In single-message mode an unkeyed rate is spent before the receive, by the loop.
    pub unkeyed_rate_spent_by_loop: bool,
}

/// `handler` inside its layers, outermost first: smoke probes, visibility, pacing, metric.
pub(crate) fn wrap(
    handler: Arc<dyn Handler>,
    queue: Arc<dyn Queue>,
    name: &str,
    visibility: Duration,
    pacing: Pacing,
) -> Arc<dyn Handler> {
    let timed = Arc::new(Timed {
        inner: handler,
        queue: name.to_string(),
    });
    let paced = Arc::new(Paced {
        inner: timed,
        pacing,
    });
    let kept = Arc::new(KeepInFlight {
        inner: paced,
        queue,
        name: name.to_string(),
        visibility,
    });
    Arc::new(SmokeProbes { inner: kept })
}

/// Waits for the message's key slot and its rate token; the wait counts as in flight, so
/// it sits inside `KeepInFlight`.
struct Paced {
    inner: Arc<dyn Handler>,
    pacing: Pacing,
}

#[async_trait::async_trait]
impl Handler for Paced {
    fn kind(&self) -> &'static str {
        self.inner.kind()
    }
    fn result_keeps_body(&self) -> bool {
        self.inner.result_keeps_body()
    }
    async fn handle(&self, message: &ReceivedMessage) -> Outcome {
        let p = &self.pacing;
        let key = p.key.as_ref().map(|k| k.of(message));
        let _slot = match (&p.gate, &key) {
            (Some(gate), Some(key)) => gate.enter(key).await,
            _ => None,
        };
        match (&p.rate, &key) {
            (Some(rate), Some(key)) => rate.acquire(key).await,
            (Some(rate), None) if !p.unkeyed_rate_spent_by_loop => rate.acquire("").await,
            _ => {}
        }
        self.inner.handle(message).await
    }
    /// A batch spends one token per message (of its key, with `rate_key`) before it is handed
    /// over; per-key concurrency is refused with batches by the configuration.
    async fn handle_batch(&self, messages: &[ReceivedMessage]) -> Vec<Outcome> {
        if let Some(rate) = &self.pacing.rate {
            for m in messages {
                let key = self
                    .pacing
                    .key
                    .as_ref()
                    .map(|k| k.of(m))
                    .unwrap_or_default();
                rate.acquire(&key).await;
            }
        }
        self.inner.handle_batch(messages).await
    }
    async fn after_result(&self, message: &ReceivedMessage) {
        self.inner.after_result(message).await
    }
}

fn is_smoke_probe(message: &ReceivedMessage) -> bool {
    probe_answer(message).is_some()
}

/// What a smoke probe gets instead of the handler, if the message is one.
fn probe_answer(message: &ReceivedMessage) -> Option<Outcome> {
    match message
        .attributes
        .get(SMOKE_ATTRIBUTE)
        .and_then(|v| v.string_value.as_deref())?
    {
        // Handed back at once: the redrive policy's count of receives sends it to the DLQ.
        SMOKE_DEAD_LETTER => Some(Err(HandlerError::retry_after(
            "a conveyor smoke dead-letter probe, refused on purpose",
            Duration::ZERO,
        ))),
        SMOKE_ROUND_TRIP => Some(Ok(serde_json::json!({
            "smoke": "round trip; not handed to the handler",
        }))),
        _ => None,
    }
}

/// Answers `conveyor smoke`'s probes without handling them: the dead-letter probe is refused
/// (proving the redrive policy on a live deployment), the round-trip probe finished with a
/// result of its own (proving receive, result and delete without a ticket or an e-mail).
struct SmokeProbes {
    inner: Arc<dyn Handler>,
}

#[async_trait::async_trait]
impl Handler for SmokeProbes {
    fn kind(&self) -> &'static str {
        self.inner.kind()
    }
    fn result_keeps_body(&self) -> bool {
        self.inner.result_keeps_body()
    }
    async fn handle(&self, message: &ReceivedMessage) -> Outcome {
        if let Some(answer) = probe_answer(message) {
            return answer;
        }
        self.inner.handle(message).await
    }
    async fn handle_batch(&self, messages: &[ReceivedMessage]) -> Vec<Outcome> {
        if !messages.iter().any(is_smoke_probe) {
            return self.inner.handle_batch(messages).await;
        }
        let rest: Vec<ReceivedMessage> = messages
            .iter()
            .filter(|m| !is_smoke_probe(m))
            .cloned()
            .collect();
        let mut handled = self.inner.handle_batch(&rest).await.into_iter();
        messages
            .iter()
            .map(|m| {
                if let Some(answer) = probe_answer(m) {
                    answer
                } else {
                    handled.next().unwrap_or_else(|| {
                        Err(HandlerError::retry(
                            "the handler answered for fewer messages than it was given",
                        ))
                    })
                }
            })
            .collect()
    }
    async fn after_result(&self, message: &ReceivedMessage) {
        self.inner.after_result(message).await
    }
}

/// Records `conveyor_handler_duration_seconds{queue}`: per message, or per batch.
struct Timed {
    inner: Arc<dyn Handler>,
    queue: String,
}

impl Timed {
    fn record(&self, started: Instant) {
        metrics::histogram!("conveyor_handler_duration_seconds", "queue" => self.queue.clone())
            .record(started.elapsed().as_secs_f64());
    }
}

#[async_trait::async_trait]
impl Handler for Timed {
    fn kind(&self) -> &'static str {
        self.inner.kind()
    }
    fn result_keeps_body(&self) -> bool {
        self.inner.result_keeps_body()
    }
    async fn handle(&self, message: &ReceivedMessage) -> Outcome {
        let started = Instant::now();
        let out = self.inner.handle(message).await;
        self.record(started);
        out
    }
    async fn handle_batch(&self, messages: &[ReceivedMessage]) -> Vec<Outcome> {
        let started = Instant::now();
        let out = self.inner.handle_batch(messages).await;
        self.record(started);
        out
    }
    async fn after_result(&self, message: &ReceivedMessage) {
        self.inner.after_result(message).await
    }
}

/// Extends the visibility of what the handler holds every half timeout, so a slow handler is
/// not mistaken for a dead one. If an extension fails, the message may already be someone
/// else's: the handler's answer is not waited for, and the message is handed back.
struct KeepInFlight {
    inner: Arc<dyn Handler>,
    queue: Arc<dyn Queue>,
    name: String,
    visibility: Duration,
}

impl KeepInFlight {
    fn timeout(&self) -> u32 {
        self.visibility.as_secs().clamp(1, 43_200) as u32
    }

    /// Returns only when an extension fails.
    async fn extend(&self, receipts: &[&str]) {
        let timeout = self.timeout();
        let every = Duration::from_millis(u64::from(timeout) * 500);
        loop {
            tokio::time::sleep(every).await;
            for chunk in receipts.chunks(10) {
                let result = if let [one] = chunk {
                    self.queue.change_visibility(&self.name, one, timeout).await
                } else {
                    let entries =
                        BatchEntry::numbered(chunk.iter().map(|r| (r.to_string(), timeout)));
                    self.queue
                        .change_visibility_batch(&self.name, entries)
                        .await
                        .map(|_| ())
                };
                if let Err(e) = result {
                    tracing::warn!(queue = %self.name, error = %e, "cannot extend a running message's visibility; handing it back");
                    return;
                }
            }
        }
    }

    fn lost() -> Outcome {
        Err(HandlerError::retry_after(
            "its visibility could not be extended while the handler ran",
            Duration::ZERO,
        ))
    }
}

#[async_trait::async_trait]
impl Handler for KeepInFlight {
    fn kind(&self) -> &'static str {
        self.inner.kind()
    }
    fn result_keeps_body(&self) -> bool {
        self.inner.result_keeps_body()
    }
    async fn handle(&self, message: &ReceivedMessage) -> Outcome {
        let receipt = [message.receipt_handle.as_str()];
        tokio::select! {
            out = self.inner.handle(message) => out,
            () = self.extend(&receipt) => Self::lost(),
        }
    }
    async fn handle_batch(&self, messages: &[ReceivedMessage]) -> Vec<Outcome> {
        let receipts: Vec<&str> = messages.iter().map(|m| m.receipt_handle.as_str()).collect();
        tokio::select! {
            out = self.inner.handle_batch(messages) => out,
            () = self.extend(&receipts) => messages.iter().map(|_| Self::lost()).collect(),
        }
    }
    async fn after_result(&self, message: &ReceivedMessage) {
        self.inner.after_result(message).await
    }
}
