//! `Idempotency-Key` on the ingest routes: the first request's answer is kept for the window
//! (`idempotency_window`, 24 hours by default) and returned again to every retry; the same key
//! with another request is refused (422). Keys are scoped per caller (API key) and route, so two
//! callers never see each other's answers. They live in the queue engine's database on the
//! embedded default (`EmbeddedEngine`) and in the object store elsewhere ([`StoreKeys`]).

use std::future::Future;
use std::time::Duration;

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use conveyor_queue::idempotency::{Claim, IdempotencyKeys, KeyRecord, KeyTimes};
use conveyor_queue::{QueueError, QueueResult};
use conveyor_store::{Store, StoreError};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::{ApiError, ApiState};

/// An unanswered claim older than this belongs to a request that died; a retry takes it over.
/// Twice the API's request timeout, so a request still running is never taken over.
const LEASE: Duration = Duration::from_secs(60);

/// Where keys live on the object store.
const PREFIX: &str = "_conveyor/idempotency";

/// A request's key, scoped: a digest of the caller, the route and the key.
#[derive(Debug, Clone)]
pub struct ScopedKey {
    digest: String,
}

impl ScopedKey {
    /// The key the request carries, if any, scoped to its caller and `route`.
    pub fn from_request(headers: &HeaderMap, route: &str) -> Result<Option<ScopedKey>, ApiError> {
        let Some(value) = headers.get("idempotency-key") else {
            return Ok(None);
        };
        let key = value
            .to_str()
            .ok()
            .filter(|k| !k.is_empty() && k.len() <= 100 && k.bytes().all(|b| b.is_ascii_graphic()))
            .ok_or_else(|| {
                ApiError::BadRequest(
                    "Idempotency-Key must be 1 to 100 printable ASCII characters".into(),
                )
            })?;
        // The caller is its API key, digested (never stored); without keys, everyone is one caller.
        let caller = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .map(|v| hex(&Sha256::digest(v.as_bytes())))
            .unwrap_or_else(|| "anonymous".into());
        Ok(Some(ScopedKey {
            digest: hex(&Sha256::digest(format!("{caller}\n{route}\n{key}"))),
        }))
    }

    /// The digest, usable as a FIFO deduplication id (64 characters) and an object name.
    pub fn digest(&self) -> &str {
        &self.digest
    }
}

/// A digest of what a request asks for, to tell a retry from another request under one key.
pub fn fingerprint<'a>(parts: impl IntoIterator<Item = &'a str>) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update((part.len() as u64).to_be_bytes());
        hasher.update(part.as_bytes());
    }
    hex(&hasher.finalize())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Run `work` once per key: a retry gets the first answer (with `Idempotent-Replayed: true`).
pub async fn once(
    state: &ApiState,
    key: Option<&ScopedKey>,
    fingerprint: &str,
    work: impl Future<Output = Result<(StatusCode, Json<Value>), ApiError>>,
) -> Result<Response, ApiError> {
    let Some(key) = key else {
        return work.await.map(IntoResponse::into_response);
    };
    let times = KeyTimes {
        window: state.settings.idempotency_window.0,
        lease: LEASE,
    };
    match state
        .idempotency
        .claim(key.digest(), fingerprint, times)
        .await?
    {
        Claim::Fresh => match work.await {
            Ok((status, Json(body))) => {
                let answer = serde_json::json!({ "status": status.as_u16(), "body": body });
                if let Err(e) = state
                    .idempotency
                    .settle(key.digest(), Some(&answer.to_string()))
                    .await
                {
                    // The work is done and acknowledged; only a retry's replay is at stake.
                    tracing::error!(error = %e, "cannot record an idempotency key's answer");
                }
                Ok((status, Json(body)).into_response())
            }
            Err(refused) => {
                if let Err(e) = state.idempotency.settle(key.digest(), None).await {
                    tracing::warn!(error = %e, "cannot release an idempotency key");
                }
                Err(refused)
            }
        },
        Claim::Replay(answer) => Ok(replay(&answer)),
        Claim::Mismatch => Err(ApiError::KeyReused(format!(
            "this Idempotency-Key was used for a different request within the last {}; send a new key for a new request",
            state.settings.idempotency_window
        ))),
        Claim::InProgress => Err(ApiError::Conflict(
            "the first request with this Idempotency-Key is still being processed; retry in a moment".into(),
        )),
    }
}

fn replay(answer: &str) -> Response {
    let answer: Value = serde_json::from_str(answer).unwrap_or(Value::Null);
    let status = answer["status"]
        .as_u64()
        .and_then(|s| StatusCode::from_u16(s as u16).ok())
        .unwrap_or(StatusCode::ACCEPTED);
    let mut response = (status, Json(answer["body"].clone())).into_response();
    response
        .headers_mut()
        .insert("idempotent-replayed", HeaderValue::from_static("true"));
    response
}

/// Idempotency keys as objects under `_conveyor/idempotency/`, created with a conditional
/// write so two racing claims cannot both win. Records carry their expiry and are judged by it
/// when read; the bucket's lifecycle rule (infra/modules/s3) deletes old ones.
#[derive(Clone)]
pub struct StoreKeys {
    store: Store,
}

impl StoreKeys {
    pub fn new(store: Store) -> StoreKeys {
        StoreKeys { store }
    }

    fn object(key: &str) -> String {
        format!("{PREFIX}/{key}.json")
    }

    async fn read(&self, key: &str) -> QueueResult<Option<KeyRecord>> {
        match self.store.get(&Self::object(key)).await {
            Ok(bytes) => Ok(serde_json::from_slice(&bytes).ok()),
            Err(StoreError::NotFound(_)) => Ok(None),
            Err(e) => Err(unavailable(e)),
        }
    }
}

fn unavailable(e: StoreError) -> QueueError {
    QueueError::Unavailable(format!(
        "the idempotency keys cannot be read or written: {e}"
    ))
}

#[async_trait::async_trait]
impl IdempotencyKeys for StoreKeys {
    async fn claim(&self, key: &str, fingerprint: &str, times: KeyTimes) -> QueueResult<Claim> {
        let object = Self::object(key);
        // A lost race re-reads and judges again; three rounds settle any realistic contention.
        for _ in 0..3 {
            let now = crate::now_millis();
            let record = KeyRecord {
                fingerprint: fingerprint.to_string(),
                answer: None,
                claimed_at_ms: now,
                expires_at_ms: now + times.window.as_millis() as i64,
            };
            let bytes = serde_json::to_vec(&record).unwrap_or_default();
            match self.read(key).await? {
                None => {
                    if self
                        .store
                        .put_if_absent(&object, bytes)
                        .await
                        .map_err(unavailable)?
                    {
                        return Ok(Claim::Fresh);
                    }
                }
                Some(existing) => match existing.judge(fingerprint, now, times.lease) {
                    Some(claim) => return Ok(claim),
                    // Expired or abandoned: replaced. Two retries taking over the same
                    // abandoned key at the same instant can both win here; the store offers
                    // no compare-and-swap on every backend (the filesystem has none).
                    None => {
                        self.store.put(&object, bytes).await.map_err(unavailable)?;
                        return Ok(Claim::Fresh);
                    }
                },
            }
        }
        Ok(Claim::InProgress)
    }

    async fn settle(&self, key: &str, answer: Option<&str>) -> QueueResult<()> {
        let object = Self::object(key);
        match answer {
            Some(answer) => {
                let mut record = self.read(key).await?.ok_or_else(|| {
                    QueueError::Unavailable(format!(
                        "the idempotency key {key} vanished before its answer was recorded"
                    ))
                })?;
                record.answer = Some(answer.to_string());
                let bytes = serde_json::to_vec(&record).unwrap_or_default();
                self.store.put(&object, bytes).await.map_err(unavailable)
            }
            None => self.store.delete(&object).await.map_err(unavailable),
        }
    }
}
