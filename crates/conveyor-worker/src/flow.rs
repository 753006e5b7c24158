//! Flow control for one queue's worker loops, shared by every loop of the process: a rate in
//! messages per second (a token bucket, optionally one per key, e.g. per recipient domain) and
//! at most N messages in flight per key. On SQS with several worker processes each applies its
//! own share (`rate / processes`): the limits are per process.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use conveyor_queue::ReceivedMessage;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Which part of a message picks its bucket and its concurrency slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RateKey {
    /// The FIFO message group id (or none).
    Group,
    /// The text at a JSON pointer into the body (`/to`); `domain` keeps what follows its last `@`.
    Pointer { pointer: String, domain: bool },
}

impl RateKey {
    /// The key of `message`; messages without one share the empty key.
    pub fn of(&self, message: &ReceivedMessage) -> String {
        match self {
            RateKey::Group => message.group_id.clone().unwrap_or_default(),
            RateKey::Pointer { pointer, domain } => {
                let body: serde_json::Value =
                    serde_json::from_str(&message.body).unwrap_or(serde_json::Value::Null);
                let value = match body.pointer(pointer) {
                    Some(serde_json::Value::String(s)) => s.clone(),
                    Some(serde_json::Value::Null) | None => String::new(),
                    Some(other) => other.to_string(),
                };
                if *domain {
                    value
                        .rsplit_once('@')
                        .map_or(value.clone(), |(_, d)| d.to_ascii_lowercase())
                } else {
                    value
                }
            }
        }
    }
}

/// The flow limits of one queue.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FlowLimits {
    /// Messages per second for this process (per key with `key`).
    pub rate: Option<f64>,
    pub key: Option<RateKey>,
    /// At most this many messages of one key handled at once (needs `key`).
    pub key_concurrency: Option<usize>,
}

struct Bucket {
    tokens: f64,
    at: Instant,
    /// Tokens taken by loops that are still waiting for a message to spend them on (`hold`).
    held: u32,
}

impl Bucket {
    /// Add what `rate` gave since the last look, up to `capacity` less the held tokens.
    fn refill(&mut self, now: Instant, rate: f64, capacity: f64) {
        let gained = now.duration_since(self.at).as_secs_f64() * rate;
        let room = (capacity - f64::from(self.held)).max(0.0);
        self.tokens = (self.tokens + gained).min(room.max(self.tokens));
        self.at = now;
    }
}

/// Keyed token buckets holding up to one second of tokens each, counting the held ones: an
/// idle queue's loops each hold a token through their long poll, and those must not add to
/// the burst a full bucket gives when work arrives.
pub(crate) struct RateLimiter {
    rate: f64,
    buckets: Mutex<HashMap<String, Bucket>>,
}

/// Buckets kept before full (idle) ones are dropped.
const MAX_IDLE_BUCKETS: usize = 10_000;

impl RateLimiter {
    pub(crate) fn new(rate: f64) -> RateLimiter {
        RateLimiter {
            rate,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Wait for a token of `key`'s bucket.
    pub(crate) async fn acquire(&self, key: &str) {
        self.take(key, false).await
    }

    /// Wait for a token to spend on a message not received yet; `release` says whether it was.
    pub(crate) async fn hold(&self, key: &str) {
        self.take(key, true).await
    }

    /// The end of a `hold`: a token not spent (the receive found nothing) goes back.
    pub(crate) fn release(&self, key: &str, spent: bool) {
        let capacity = self.rate.max(1.0);
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(bucket) = buckets.get_mut(key) {
            // Refilled up to now first, while the token still counts as held.
            bucket.refill(Instant::now(), self.rate, capacity);
            bucket.held = bucket.held.saturating_sub(1);
            if !spent {
                bucket.tokens = (bucket.tokens + 1.0).min(capacity - f64::from(bucket.held));
            }
        }
    }

    async fn take(&self, key: &str, hold: bool) {
        let capacity = self.rate.max(1.0);
        loop {
            let wait = {
                let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
                let now = Instant::now();
                if buckets.len() > MAX_IDLE_BUCKETS {
                    let rate = self.rate;
                    buckets.retain(|_, b| {
                        b.tokens + now.duration_since(b.at).as_secs_f64() * rate < capacity
                    });
                }
                let bucket = buckets.entry(key.to_string()).or_insert(Bucket {
                    tokens: 1.0,
                    at: now,
                    held: 0,
                });
                bucket.refill(now, self.rate, capacity);
                if bucket.tokens >= 1.0 {
                    bucket.tokens -= 1.0;
                    if hold {
                        bucket.held += 1;
                    }
                    return;
                }
                Duration::from_secs_f64((1.0 - bucket.tokens) / self.rate)
            };
            tokio::time::sleep(wait).await;
        }
    }
}

/// At most N holders per key.
pub(crate) struct KeyGate {
    limit: usize,
    slots: Mutex<HashMap<String, Arc<Semaphore>>>,
}

impl KeyGate {
    pub(crate) fn new(limit: usize) -> KeyGate {
        KeyGate {
            limit,
            slots: Mutex::new(HashMap::new()),
        }
    }

    pub(crate) async fn enter(&self, key: &str) -> Option<OwnedSemaphorePermit> {
        let semaphore = {
            let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
            if slots.len() > MAX_IDLE_BUCKETS {
                let limit = self.limit;
                slots.retain(|_, s| s.available_permits() < limit);
            }
            slots
                .entry(key.to_string())
                .or_insert_with(|| Arc::new(Semaphore::new(self.limit)))
                .clone()
        };
        semaphore.acquire_owned().await.ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(body: &str, group: Option<&str>) -> ReceivedMessage {
        ReceivedMessage {
            body: body.into(),
            group_id: group.map(str::to_string),
            ..ReceivedMessage::default()
        }
    }

    #[test]
    fn keys_come_from_the_group_or_a_pointer_into_the_body() {
        let m = message(r#"{"to":"Ada@Example.com","n":3}"#, Some("g1"));
        let pointer = |p: &str, domain| RateKey::Pointer {
            pointer: p.into(),
            domain,
        };
        assert_eq!(RateKey::Group.of(&m), "g1");
        assert_eq!(pointer("/to", false).of(&m), "Ada@Example.com");
        assert_eq!(pointer("/to", true).of(&m), "example.com");
        assert_eq!(pointer("/n", false).of(&m), "3");
        assert_eq!(pointer("/missing", false).of(&m), "");
    }

    #[tokio::test]
    async fn a_bucket_gives_its_rate_after_one_second_of_burst() {
        let limiter = RateLimiter::new(20.0);
        let started = Instant::now();
        for _ in 0..30 {
            limiter.acquire("k").await;
        }
        // One token to start, then 20 per second: 29 more take about 1.45 s.
        let took = started.elapsed();
        assert!(took >= Duration::from_millis(1350), "{took:?}");
        // Another key has its own bucket.
        let other = Instant::now();
        limiter.acquire("other").await;
        assert!(other.elapsed() < Duration::from_millis(50));
    }

    #[tokio::test]
    async fn held_tokens_count_against_the_burst_and_unspent_ones_come_back() {
        let limiter = RateLimiter::new(10.0);
        // Eight idle loops hold a token each through a second of polling.
        for _ in 0..8 {
            limiter.hold("").await;
        }
        tokio::time::sleep(Duration::from_millis(1100)).await;
        // Work arrives: the holders spend theirs, and the bucket has only the rest of a second.
        for _ in 0..8 {
            limiter.release("", true);
        }
        let started = Instant::now();
        for _ in 0..2 {
            limiter.acquire("").await;
        }
        assert!(started.elapsed() < Duration::from_millis(50));
        limiter.acquire("").await;
        assert!(
            started.elapsed() >= Duration::from_millis(80),
            "a third is a refill away"
        );
        // A hold released unspent gives its token back.
        limiter.hold("").await;
        limiter.release("", false);
        let again = Instant::now();
        limiter.acquire("").await;
        assert!(again.elapsed() < Duration::from_millis(50));
    }

    #[tokio::test]
    async fn another_key_has_its_own_bucket() {
        let limiter = RateLimiter::new(20.0);
        limiter.acquire("k").await;
        // Another key has its own bucket.
        let other = Instant::now();
        limiter.acquire("other").await;
        assert!(other.elapsed() < Duration::from_millis(50));
    }
}
