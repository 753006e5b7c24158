//! Idempotency keys: a request's key remembered with the request's fingerprint and, once
//! answered, the answer, for a window (24 hours by default), so a retried request gets the
//! first answer again instead of doing its work twice. The embedded engine keeps them in its
//! database; on AWS they live in the object store (conditional writes). Both implement
//! [`IdempotencyKeys`] and pass the same contract suite (`conformance::idempotency_contract`).

use std::time::Duration;

use crate::QueueResult;

/// What claiming a key found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// The key is new (or its record expired, or its first request was abandoned): this
    /// request does the work, then settles the key.
    Fresh,
    /// The first request with this key was answered so; answer the same.
    Replay(String),
    /// The key was used with another request (a different route or body).
    Mismatch,
    /// The first request with this key is still being served.
    InProgress,
}

/// How long keys are kept, and after how long an unanswered claim counts as abandoned (its
/// request died mid-way) and may be taken over by a retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyTimes {
    pub window: Duration,
    pub lease: Duration,
}

/// A key's stored state, as both implementations decide on it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct KeyRecord {
    pub fingerprint: String,
    pub answer: Option<String>,
    pub claimed_at_ms: i64,
    pub expires_at_ms: i64,
}

impl KeyRecord {
    /// What a claim of `fingerprint` at `now_ms` meets in this record; `None` means the claim
    /// takes the key (the record expired, or its unanswered claim outlived the lease).
    pub fn judge(&self, fingerprint: &str, now_ms: i64, lease: Duration) -> Option<Claim> {
        if self.expires_at_ms <= now_ms {
            return None;
        }
        if self.fingerprint != fingerprint {
            return Some(Claim::Mismatch);
        }
        match &self.answer {
            Some(answer) => Some(Claim::Replay(answer.clone())),
            None if self.claimed_at_ms + lease.as_millis() as i64 <= now_ms => None,
            None => Some(Claim::InProgress),
        }
    }
}

/// Where a deployment keeps its idempotency keys. `key` is an opaque digest of the key's
/// scope (caller, route, key); `fingerprint` a digest of the request.
#[async_trait::async_trait]
pub trait IdempotencyKeys: Send + Sync {
    async fn claim(&self, key: &str, fingerprint: &str, times: KeyTimes) -> QueueResult<Claim>;
    /// Record the answer of a `Fresh` claim (`Some`), or give the key up (`None`: the work
    /// failed, so a retry may do it).
    async fn settle(&self, key: &str, answer: Option<&str>) -> QueueResult<()>;
}

/// The contract every [`IdempotencyKeys`] keeps, run against each implementation (the engine's
/// database here, the object store on the local filesystem and on moto's S3 in conveyor-api).
/// Real time with short windows: the implementations read their own clocks.
#[cfg(feature = "conformance")]
pub async fn contract(keys: std::sync::Arc<dyn IdempotencyKeys>) {
    let times = KeyTimes {
        window: Duration::from_millis(2500),
        lease: Duration::from_millis(800),
    };
    let fresh = || format!("contract-{}", uuid::Uuid::new_v4().simple());

    // Answered once, replayed after; another request under the key is a mismatch.
    let k = fresh();
    assert_eq!(keys.claim(&k, "fp-a", times).await.unwrap(), Claim::Fresh);
    assert_eq!(
        keys.claim(&k, "fp-a", times).await.unwrap(),
        Claim::InProgress
    );
    keys.settle(&k, Some(r#"{"status":202}"#)).await.unwrap();
    assert_eq!(
        keys.claim(&k, "fp-a", times).await.unwrap(),
        Claim::Replay(r#"{"status":202}"#.into())
    );
    assert_eq!(
        keys.claim(&k, "fp-b", times).await.unwrap(),
        Claim::Mismatch
    );

    // Given up: the next request does the work.
    let k2 = fresh();
    assert_eq!(keys.claim(&k2, "fp", times).await.unwrap(), Claim::Fresh);
    keys.settle(&k2, None).await.unwrap();
    assert_eq!(keys.claim(&k2, "fp", times).await.unwrap(), Claim::Fresh);

    // Abandoned (never settled): taken over once the lease has passed.
    tokio::time::sleep(times.lease + Duration::from_millis(200)).await;
    assert_eq!(keys.claim(&k2, "fp", times).await.unwrap(), Claim::Fresh);

    // Many at once: exactly one claim wins a new key.
    let k3 = fresh();
    let mut racing = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let keys = keys.clone();
        let k3 = k3.clone();
        racing.spawn(async move { keys.claim(&k3, "fp", times).await.unwrap() });
    }
    let mut winners = 0;
    while let Some(claim) = racing.join_next().await {
        match claim.unwrap() {
            Claim::Fresh => winners += 1,
            Claim::InProgress => {}
            other => panic!("a racing claim got {other:?}"),
        }
    }
    assert_eq!(
        winners, 1,
        "exactly one of eight racing claims takes a new key"
    );

    // After the window, the key is new again, whatever it was used for.
    tokio::time::sleep(times.window).await;
    assert_eq!(keys.claim(&k, "fp-b", times).await.unwrap(), Claim::Fresh);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_is_judged_by_expiry_fingerprint_answer_and_lease() {
        let lease = Duration::from_secs(60);
        let pending = KeyRecord {
            fingerprint: "f".into(),
            answer: None,
            claimed_at_ms: 1_000,
            expires_at_ms: 100_000,
        };
        assert_eq!(pending.judge("f", 2_000, lease), Some(Claim::InProgress));
        assert_eq!(pending.judge("g", 2_000, lease), Some(Claim::Mismatch));
        assert_eq!(pending.judge("f", 61_000, lease), None, "abandoned");
        assert_eq!(pending.judge("g", 100_000, lease), None, "expired");
        let done = KeyRecord {
            answer: Some("a".into()),
            ..pending
        };
        assert_eq!(
            done.judge("f", 99_999, lease),
            Some(Claim::Replay("a".into()))
        );
    }
}
