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
}

/// Keyed token buckets holding up to one second of tokens each.
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
                });
                let refill = now.duration_since(bucket.at).as_secs_f64() * self.rate;
                bucket.tokens = (bucket.tokens + refill).min(capacity);
                bucket.at = now;
                if bucket.tokens >= 1.0 {
                    bucket.tokens -= 1.0;
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
}
