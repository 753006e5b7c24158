//! `analytics`: a batch handler, as Firehose is to S3. The worker's batch is the buffer (up to
//! `max_bytes` of messages or `max_age` after the first); each flush writes one Parquet file per
//! event name and event hour, `{prefix}/{name}/year=…/month=…/day=…/hour=…/{first event}-{batch}.parquet`,
//! so a late event lands in its own hour. Nothing is lost and, on the embedded default, nothing
//! is published twice:
//!
//! 1. each file is written under a temporary key (`_conveyor/analytics/{queue}/tmp/…`), where
//!    no query looks;
//! 2. a manifest (`_conveyor/analytics/{queue}/manifests/{batch}.json`) names the batch's
//!    message ids and each file's temporary and final key;
//! 3. each file is renamed to its final key: it appears whole or not at all;
//! 4. the worker deletes the messages.
//!
//! A crash before 2 leaves only temporary files and the messages come back to be flushed
//! again. From 2 on the manifest decides: when the handler starts it reads the manifests,
//! finishes any rename a crash interrupted, and answers a message it names as done without
//! writing it again. On SQS + S3 the same steps run, but delivery is at least once (a message
//! redelivered to another process may be written before that process reads the manifest), so
//! every row carries its `event_id` and a query deduplicates on it.

pub mod parquet;
pub mod results;

use std::borrow::Cow;
use std::collections::{BTreeMap, HashSet};

use conveyor_config::{AnalyticsColumnType, AnalyticsConfig};
use conveyor_queue::ReceivedMessage;
use conveyor_store::{Hour, Store, StoreError};
use conveyor_worker::{Handler, HandlerError};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tokio::sync::Mutex;

use self::parquet::{ColumnKind, Event, TypedColumn};
use crate::HandlerEnv;

/// A message body as the API wrote it: `{"events": [...]}`, each event stamped.
#[derive(Deserialize)]
struct StampedBatch<'a> {
    #[serde(borrow)]
    events: Vec<StampedEvent<'a>>,
}

#[derive(Deserialize)]
struct StampedEvent<'a> {
    #[serde(borrow)]
    name: Cow<'a, str>,
    timestamp: i64,
    #[serde(default)]
    received_at: Option<i64>,
    #[serde(borrow, default)]
    user_id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    event_id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    properties: Option<&'a serde_json::value::RawValue>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Manifest {
    batch: String,
    messages: Vec<String>,
    /// (temporary key, final key) of each file.
    files: Vec<(String, String)>,
}

/// The typed columns a configuration names, each with its pointer into the properties.
pub fn typed_columns(config: &AnalyticsConfig) -> Vec<TypedColumn> {
    config
        .columns
        .iter()
        .map(|c| TypedColumn {
            name: c.name.clone(),
            pointer: c.pointer.clone().unwrap_or_else(|| format!("/{}", c.name)),
            kind: match c.kind {
                AnalyticsColumnType::String => ColumnKind::String,
                AnalyticsColumnType::Int64 => ColumnKind::Int64,
                AnalyticsColumnType::Double => ColumnKind::Double,
                AnalyticsColumnType::Boolean => ColumnKind::Boolean,
            },
        })
        .collect()
}

pub struct AnalyticsHandler {
    store: Store,
    queue: String,
    prefix: String,
    columns: Vec<TypedColumn>,
    /// Message ids some manifest names, while they are wanted: read at the first batch and
    /// whenever a redelivered message needs them (again after a failed publish, so the next
    /// batch finishes what was begun), forgotten after [`FORGET_AFTER`] without a redelivery,
    /// so a busy pipeline does not hold every id it ever published.
    published: Mutex<Published>,
}

#[derive(Default)]
struct Published {
    ids: Option<HashSet<String>>,
    read_at: Option<std::time::Instant>,
    started: bool,
}

/// How long the manifests' ids stay in memory after the last batch that needed them.
const FORGET_AFTER: std::time::Duration = std::time::Duration::from_secs(600);

/// A message first delivered now cannot have been published: only a message received before
/// (or whose count the queue did not say, 0) is looked up in the manifests.
fn maybe_redelivered(message: &ReceivedMessage) -> bool {
    message.approximate_receive_count != 1
}

impl AnalyticsHandler {
    pub fn new(config: &AnalyticsConfig, env: &HandlerEnv) -> AnalyticsHandler {
        AnalyticsHandler {
            store: env.store.clone(),
            queue: env.queue.clone(),
            prefix: config.prefix.clone(),
            columns: typed_columns(config),
            published: Mutex::new(Published::default()),
        }
    }

    fn area(&self) -> String {
        format!("_conveyor/analytics/{}", self.queue)
    }

    /// Every manifest's messages, each interrupted publish finished on the way.
    async fn read_manifests(&self) -> Result<HashSet<String>, StoreError> {
        let mut ids = HashSet::new();
        for key in self
            .store
            .list(&format!("{}/manifests/", self.area()))
            .await?
        {
            let manifest: Manifest = match self.store.get(&key).await {
                Ok(bytes) => match serde_json::from_slice(&bytes) {
                    Ok(m) => m,
                    Err(e) => {
                        tracing::warn!(key, error = %e, "an analytics manifest does not parse; ignoring it");
                        continue;
                    }
                },
                Err(StoreError::NotFound(_)) => continue,
                Err(e) => return Err(e),
            };
            for (temporary, published) in &manifest.files {
                if self.store.head(published).await.is_err() {
                    match self.store.rename(temporary, published).await {
                        Ok(()) => {
                            tracing::info!(key = %published, "finished an interrupted analytics publish")
                        }
                        Err(StoreError::NotFound(_)) => {
                            tracing::warn!(key = %published, "an analytics file named by a manifest is missing; its events stay as the messages left them")
                        }
                        Err(e) => return Err(e),
                    }
                }
            }
            ids.extend(manifest.messages);
        }
        Ok(ids)
    }

    /// A message's events, each with its event id (its own, or `{message id}-{index}`). The
    /// API stamped and checked them; the properties stay JSON text, as they are written.
    fn events(message: &ReceivedMessage) -> Result<Vec<Event>, String> {
        let body: StampedBatch = serde_json::from_str(&message.body)
            .map_err(|e| format!("the message is not an events batch: {e}"))?;
        Ok(body
            .events
            .into_iter()
            .enumerate()
            .map(|(i, e)| Event {
                event_id: e
                    .event_id
                    .map_or_else(|| format!("{}-{i}", message.message_id), Cow::into_owned),
                name: e.name.into_owned(),
                user_id: e.user_id.map(Cow::into_owned),
                timestamp_ms: e.timestamp,
                received_at_ms: e.received_at.unwrap_or(e.timestamp),
                properties: e
                    .properties
                    .map_or_else(|| "{}".to_string(), |p| p.get().to_string()),
            })
            .collect())
    }

    /// Write, record and publish one batch's new messages; the files published.
    async fn flush(
        &self,
        batch: &str,
        messages: &[&ReceivedMessage],
        events: Vec<Event>,
    ) -> Result<Vec<String>, HandlerError> {
        let mut partitions: BTreeMap<(String, String), Vec<Event>> = BTreeMap::new();
        for e in events {
            let hour = Hour::of_millis(e.timestamp_ms).partition();
            partitions
                .entry((e.name.clone(), hour))
                .or_default()
                .push(e);
        }
        let failed = |what: &str, e: &dyn std::fmt::Display| {
            HandlerError::retry(format!("analytics: {what}: {e}"))
        };
        let mut files = Vec::new();
        for (n, ((name, hour), events)) in partitions.into_iter().enumerate() {
            let first = events.iter().map(|e| e.timestamp_ms).min().unwrap_or(0);
            let bytes = parquet::write(&events, &self.columns)
                .map_err(|e| failed("cannot write Parquet", &e))?;
            let temporary = format!("{}/tmp/{batch}/{n}.parquet", self.area());
            let published = format!("{}/{name}/{hour}/{first}-{batch}.parquet", self.prefix);
            let size = bytes.len() as u64;
            self.store
                .put(&temporary, bytes)
                .await
                .map_err(|e| failed("cannot store a file", &e))?;
            metrics::counter!("conveyor_analytics_events_flushed_total", "name" => name.clone())
                .increment(events.len() as u64);
            metrics::counter!("conveyor_analytics_bytes_written_total", "name" => name.clone())
                .increment(size);
            files.push((temporary, published));
        }
        let manifest = Manifest {
            batch: batch.to_string(),
            messages: messages.iter().map(|m| m.message_id.clone()).collect(),
            files: files.clone(),
        };
        let key = format!("{}/manifests/{batch}.json", self.area());
        self.store
            .put(&key, serde_json::to_vec(&manifest).unwrap_or_default())
            .await
            .map_err(|e| failed("cannot store the manifest", &e))?;
        for (temporary, published) in &files {
            if let Err(e) = self.store.rename(temporary, published).await {
                // The manifest holds the batch now: whoever reads it next finishes this.
                self.published.lock().await.ids = None;
                return Err(failed("cannot publish a file", &e));
            }
        }
        Ok(files.into_iter().map(|(_, published)| published).collect())
    }
}

#[async_trait::async_trait]
impl Handler for AnalyticsHandler {
    fn kind(&self) -> &'static str {
        "analytics"
    }

    fn result_keeps_body(&self) -> bool {
        false
    }

    async fn handle(&self, message: &ReceivedMessage) -> Result<Value, HandlerError> {
        self.handle_batch(std::slice::from_ref(message))
            .await
            .pop()
            .unwrap_or_else(|| Err(HandlerError::retry("analytics: no answer")))
    }

    async fn handle_batch(&self, messages: &[ReceivedMessage]) -> Vec<Result<Value, HandlerError>> {
        let started = std::time::Instant::now();
        let mut published = self.published.lock().await;
        let redelivered = messages.iter().any(maybe_redelivered);
        if published.ids.is_none() && (redelivered || !published.started) {
            match self.read_manifests().await {
                Ok(ids) => {
                    published.ids = Some(ids);
                    published.started = true;
                }
                Err(e) => {
                    let reason = format!("analytics: cannot read the manifests: {e}");
                    return messages
                        .iter()
                        .map(|_| Err(HandlerError::retry(reason.clone())))
                        .collect();
                }
            }
        }
        if redelivered || published.read_at.is_none() {
            published.read_at = Some(std::time::Instant::now());
        } else if published
            .read_at
            .is_some_and(|t| t.elapsed() > FORGET_AFTER)
        {
            published.ids = None;
        }
        let seen: Vec<bool> = messages
            .iter()
            .map(|m| {
                maybe_redelivered(m)
                    && published
                        .ids
                        .as_ref()
                        .is_some_and(|ids| ids.contains(&m.message_id))
            })
            .collect();
        drop(published);
        let mut answers: Vec<Option<Result<Value, HandlerError>>> =
            Vec::with_capacity(messages.len());
        let mut fresh = Vec::new();
        let mut events = Vec::new();
        for (m, seen) in messages.iter().zip(seen) {
            if seen {
                answers.push(Some(Ok(json!({ "published_before": true }))));
                continue;
            }
            match Self::events(m) {
                Ok(mut e) => {
                    answers.push(None);
                    fresh.push(m);
                    events.append(&mut e);
                }
                Err(reason) => answers.push(Some(Err(HandlerError::reject(reason)))),
            }
        }
        if !fresh.is_empty() {
            let batch = uuid::Uuid::now_v7().simple().to_string();
            let count = events.len();
            let outcome = self.flush(&batch, &fresh, events).await;
            if outcome.is_ok() {
                if let Some(set) = self.published.lock().await.ids.as_mut() {
                    set.extend(fresh.iter().map(|m| m.message_id.clone()));
                }
                metrics::histogram!("conveyor_analytics_flush_seconds")
                    .record(started.elapsed().as_secs_f64());
            }
            for answer in answers.iter_mut().filter(|a| a.is_none()) {
                *answer = Some(match &outcome {
                    Ok(files) => {
                        Ok(json!({ "batch": batch, "events_in_batch": count, "files": files }))
                    }
                    Err(e) => Err(e.clone()),
                });
            }
        }
        answers
            .into_iter()
            .map(|a| a.unwrap_or_else(|| Err(HandlerError::retry("analytics: no answer"))))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> AnalyticsConfig {
        serde_json::from_value(json!({ "columns": [{ "name": "plan", "type": "string" }] }))
            .unwrap()
    }

    fn message(id: &str, events: Value) -> ReceivedMessage {
        ReceivedMessage {
            message_id: id.into(),
            body: json!({ "events": events }).to_string(),
            approximate_receive_count: 1,
            ..Default::default()
        }
    }

    fn files(store_dir: &std::path::Path) -> Vec<String> {
        let mut out = Vec::new();
        let mut stack = vec![store_dir.join("events")];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    stack.push(path);
                } else {
                    out.push(path.strip_prefix(store_dir).unwrap().display().to_string());
                }
            }
        }
        out.sort();
        out
    }

    const TEN: i64 = 1_796_119_200_000; // 2026-12-01T10:00:00Z

    #[tokio::test]
    async fn a_batch_is_one_file_per_name_and_hour_and_is_never_published_twice() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::local(dir.path()).unwrap();
        let env = HandlerEnv::new(store.clone(), "events-q");
        let batch = vec![
            message(
                "m1",
                json!([
                    { "name": "open", "timestamp": TEN, "received_at": TEN },
                    { "name": "open", "timestamp": TEN - 3_600_000, "received_at": TEN, "event_id": "late-1" },
                ]),
            ),
            message(
                "m2",
                json!([{ "name": "tap", "timestamp": TEN + 5, "received_at": TEN, "properties": { "plan": "pro" } }]),
            ),
            message("bad", json!("not a list")),
        ];
        let handler = AnalyticsHandler::new(&config(), &env);
        let answers = handler.handle_batch(&batch).await;
        assert!(answers[0].is_ok() && answers[1].is_ok(), "{answers:?}");
        assert!(matches!(answers[2], Err(HandlerError::Reject { .. })));
        let written = files(dir.path());
        assert_eq!(written.len(), 3, "{written:?}");
        assert!(
            written
                .iter()
                .any(|f| f.starts_with("events/open/year=2026/month=12/day=01/hour=09/")),
            "the late event in its own hour: {written:?}"
        );
        assert!(written
            .iter()
            .any(|f| f.starts_with("events/tap/year=2026/month=12/day=01/hour=10/")));

        // After a restart (a new handler) the same messages come back, as after a crash
        // between publishing and deleting: answered, not written again.
        let redelivered: Vec<ReceivedMessage> = batch[..2]
            .iter()
            .map(|m| ReceivedMessage {
                approximate_receive_count: 2,
                ..m.clone()
            })
            .collect();
        let again = AnalyticsHandler::new(&config(), &env)
            .handle_batch(&redelivered)
            .await;
        assert!(
            again
                .iter()
                .all(|a| a.as_ref().is_ok_and(|v| v["published_before"] == true)),
            "{again:?}"
        );
        assert_eq!(files(dir.path()), written);
    }

    #[tokio::test]
    async fn a_publish_a_crash_interrupted_is_finished_when_the_manifests_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::local(dir.path()).unwrap();
        let env = HandlerEnv::new(store.clone(), "events-q");
        let event = Event {
            event_id: "m9-0".into(),
            name: "open".into(),
            user_id: None,
            timestamp_ms: TEN,
            received_at_ms: TEN,
            properties: "{}".into(),
        };
        let temporary = "_conveyor/analytics/events-q/tmp/b1/0.parquet".to_string();
        let published = "events/open/year=2026/month=12/day=01/hour=10/x-b1.parquet".to_string();
        store
            .put(&temporary, parquet::write(&[event], &[]).unwrap())
            .await
            .unwrap();
        let manifest = Manifest {
            batch: "b1".into(),
            messages: vec!["m9".into()],
            files: vec![(temporary.clone(), published.clone())],
        };
        store
            .put(
                "_conveyor/analytics/events-q/manifests/b1.json",
                serde_json::to_vec(&manifest).unwrap(),
            )
            .await
            .unwrap();
        let answers = AnalyticsHandler::new(&config(), &env)
            .handle_batch(&[ReceivedMessage {
                approximate_receive_count: 2,
                ..message("m9", json!([{ "name": "open", "timestamp": TEN }]))
            }])
            .await;
        assert_eq!(answers[0].as_ref().unwrap()["published_before"], true);
        assert_eq!(files(dir.path()), [published]);
        assert!(store.head(&temporary).await.is_err(), "renamed, not copied");
    }
}
