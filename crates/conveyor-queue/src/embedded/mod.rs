//! The embedded engine: the `Queue` trait on one SQLite file.
//!
//! Callers validate and prepare their requests on their own tasks, then hand them to the single
//! writer thread (see `writer`), which commits them in groups. Counts and listings read through a
//! second connection, which WAL lets run beside the writer. Long polls wait on a per-queue
//! `Notify` that the writer wakes after committing anything that may be receivable.

mod attempts;
mod catalog;
mod fair;
mod fifo;
mod leases;
mod receipt;
mod schema;
mod writer;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::mpsc;
use std::sync::{Arc, Mutex, RwLock};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension};
use sha2::{Digest, Sha256};

pub use schema::{Durability, OpenError, SCHEMA_VERSION};

use crate::arn::Location;
use crate::clock::Clock;
use crate::error::{BatchAction, QueueError, QueueResult};
use crate::model::*;
use crate::validate;
use crate::Queue as _;
use catalog::{Catalog, QueueMeta};
use receipt::Receipt;
use writer::{Command, PreparedSend, Reply, Writer};

/// How to open an engine.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// The database file; its directory is created if missing.
    pub path: PathBuf,
    pub durability: Durability,
    pub location: Location,
    /// How often the background pass removes expired messages and dedup entries and advances
    /// message move tasks. `None` runs no background pass (tests call `run_maintenance`).
    pub maintenance_interval: Option<Duration>,
    /// Received-but-not-deleted messages a queue may hold (SQS: 120,000); a standard queue's
    /// receive beyond it fails with `OverLimit`, a FIFO queue's returns nothing.
    pub max_in_flight: u64,
}

impl EngineOptions {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        EngineOptions {
            path: path.into(),
            durability: Durability::Full,
            location: Location::default(),
            maintenance_interval: Some(Duration::from_secs(1)),
            max_in_flight: writer::DEFAULT_MAX_IN_FLIGHT,
        }
    }
}

/// A long poll re-checks at least this often, for messages that become visible by time alone.
const LONG_POLL_RECHECK: Duration = Duration::from_millis(250);

struct Inner {
    commands: mpsc::Sender<Command>,
    catalog: Arc<RwLock<Arc<Catalog>>>,
    reader: Mutex<Connection>,
    clock: Arc<dyn Clock>,
    location: Location,
    receive_attempts: attempts::ReceiveAttempts,
    /// Serialises read-modify-write edits of a queue's `Policy` (Add/RemovePermission).
    policy_edits: tokio::sync::Mutex<()>,
    /// Dropping these tells the background maintenance thread to stop.
    stop_signals: Vec<mpsc::Sender<()>>,
    threads: Vec<JoinHandle<()>>,
    /// Held while the engine is open (see `schema::lock_exclusively`); released after the
    /// threads have stopped, since fields drop after `Drop::drop` has joined them.
    _lock: std::fs::File,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Closing both channels lets the threads finish their current work and exit; joining
        // them means the file is closed when the engine is gone, so it can be reopened at once.
        self.stop_signals.clear();
        let (closed, _) = mpsc::channel();
        drop(std::mem::replace(&mut self.commands, closed));
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// The embedded queue engine. Cheap to clone; the last clone dropped closes the database.
#[derive(Clone)]
pub struct EmbeddedEngine {
    inner: Arc<Inner>,
}

impl EmbeddedEngine {
    /// Open (or create) the database at `options.path`.
    pub fn open(options: EngineOptions, clock: Arc<dyn Clock>) -> Result<Self, OpenError> {
        let lock = schema::lock_exclusively(&options.path)?;
        let conn = schema::open_writer(&options.path)?;
        let reader = schema::open_reader(&options.path)?;
        let catalog = Arc::new(RwLock::new(Arc::new(Catalog::default())));
        let mut writer = Writer::new(
            conn,
            catalog.clone(),
            clock.clone(),
            options.location.clone(),
        )
        .map_err(|e| OpenError::Corrupt {
            path: options.path.clone(),
            detail: format!("its contents cannot be read: {e}"),
        })?;
        writer.max_in_flight = options.max_in_flight;
        let (commands, rx) = mpsc::channel();
        let mut threads = Vec::new();
        if options.durability == Durability::Full {
            threads.push(writer.sync_before_answering(&options.path).map_err(|e| {
                OpenError::Sqlite {
                    path: options.path.clone(),
                    detail: format!("cannot start the sync thread: {e}"),
                }
            })?);
        }
        threads.push(
            std::thread::Builder::new()
                .name("conveyor-queue-writer".into())
                .spawn(move || writer.run(rx))
                .map_err(|e| OpenError::Sqlite {
                    path: options.path.clone(),
                    detail: format!("cannot start the writer thread: {e}"),
                })?,
        );
        let mut stop_signals = Vec::new();
        if let Some(interval) = options.maintenance_interval {
            let (stop_tx, stop_rx) = mpsc::channel::<()>();
            let commands = commands.clone();
            stop_signals.push(stop_tx);
            threads.push(
                std::thread::Builder::new()
                    .name("conveyor-queue-maintenance".into())
                    .spawn(move || {
                        while let Err(mpsc::RecvTimeoutError::Timeout) =
                            stop_rx.recv_timeout(interval)
                        {
                            if commands.send(Command::Maintain { reply: None }).is_err() {
                                break;
                            }
                        }
                    })
                    .map_err(|e| OpenError::Sqlite {
                        path: options.path.clone(),
                        detail: format!("cannot start the maintenance thread: {e}"),
                    })?,
            );
        }
        Ok(EmbeddedEngine {
            inner: Arc::new(Inner {
                commands,
                catalog,
                reader: Mutex::new(reader),
                clock,
                location: options.location,
                receive_attempts: Default::default(),
                policy_edits: Default::default(),
                stop_signals,
                threads,
                _lock: lock,
            }),
        })
    }

    /// Run one maintenance pass now (retention, dedup expiry, move tasks) and wait for it.
    pub async fn run_maintenance(&self) -> QueueResult<()> {
        self.call(|reply| Command::Maintain { reply: Some(reply) })
            .await
    }

    pub fn location(&self) -> &Location {
        &self.inner.location
    }
}

/// The HTTP API's idempotency keys, in the queue database (see `writer/keys.rs`).
#[async_trait::async_trait]
impl crate::idempotency::IdempotencyKeys for EmbeddedEngine {
    async fn claim(
        &self,
        key: &str,
        fingerprint: &str,
        times: crate::idempotency::KeyTimes,
    ) -> QueueResult<crate::idempotency::Claim> {
        self.call(|reply| Command::ClaimKey {
            key: key.to_string(),
            fingerprint: fingerprint.to_string(),
            times,
            reply,
        })
        .await
    }

    async fn settle(&self, key: &str, answer: Option<&str>) -> QueueResult<()> {
        self.call(|reply| Command::SettleKey {
            key: key.to_string(),
            answer: answer.map(str::to_string),
            reply,
        })
        .await
    }
}

impl EmbeddedEngine {
    fn catalog(&self) -> Arc<Catalog> {
        match self.inner.catalog.read() {
            Ok(c) => c.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    fn meta(&self, name: &str) -> QueueResult<Arc<QueueMeta>> {
        self.catalog().get(name)
    }

    async fn call<T>(&self, make: impl FnOnce(Reply<T>) -> Command) -> QueueResult<T> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let stopped = || {
            QueueError::Internal(
                "the queue engine's writer stopped or its commit failed; the request was not applied, retry it".into(),
            )
        };
        self.inner.commands.send(make(tx)).map_err(|_| stopped())?;
        rx.await.map_err(|_| stopped())?
    }

    /// Run a read-only query on the reader connection, off the async threads.
    async fn read<T: Send + 'static>(
        &self,
        query: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> QueueResult<T> {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let conn = match inner.reader.lock() {
                Ok(c) => c,
                Err(poisoned) => poisoned.into_inner(),
            };
            query(&conn).map_err(|e| {
                QueueError::Internal(format!("reading the queue database failed: {e}"))
            })
        })
        .await
        .map_err(|e| QueueError::Internal(format!("a read task failed: {e}")))?
    }

    fn prepare(&self, meta: &QueueMeta, message: SendMessage) -> QueueResult<PreparedSend> {
        validate::send_message(&meta.config, &message)?;
        let dedup_id = match (meta.config.fifo, message.deduplication_id) {
            (true, None) => Some(hex(&Sha256::digest(message.body.as_bytes()))),
            (_, explicit) => explicit,
        };
        let attributes = if message.attributes.is_empty() {
            None
        } else {
            Some(
                serde_json::to_string(&message.attributes)
                    .map_err(|e| QueueError::Internal(e.to_string()))?,
            )
        };
        Ok(PreparedSend {
            // Time-ordered (UUIDv7): cheap to index, and the id tells job status in which hour
            // the message was sent, so its result can be found after the message is gone.
            message_id: uuid::Uuid::now_v7().to_string(),
            body: message.body,
            attributes,
            group_id: message.group_id,
            dedup_id,
            delay_seconds: message.delay_seconds,
            trace_header: message.trace_header,
        })
    }

    fn page(
        items: Vec<QueueInfo>,
        max_results: Option<u32>,
        next_token: Option<&str>,
    ) -> QueueResult<Page<QueueInfo>> {
        if let Some(m) = max_results {
            if !(1..=1000).contains(&m) {
                return Err(QueueError::invalid(format!(
                    "MaxResults {m} is out of range: use 1 to 1000"
                )));
            }
        }
        let start = match next_token {
            None => 0,
            Some(token) => items
                .iter()
                .position(|q| q.name.as_str() > token)
                .unwrap_or(items.len()),
        };
        let limit = max_results.unwrap_or(1000) as usize;
        let rest = &items[start..];
        let page: Vec<QueueInfo> = rest.iter().take(limit).cloned().collect();
        let next_token = (max_results.is_some() && rest.len() > limit)
            .then(|| page.last().map(|q| q.name.clone()))
            .flatten();
        Ok(Page {
            items: page,
            next_token,
        })
    }
    /// A receive without attempt id reuse: waits up to the long-poll time for messages.
    async fn receive_new(
        &self,
        meta: &QueueMeta,
        request: &ReceiveRequest,
    ) -> QueueResult<Vec<ReceivedMessage>> {
        let queue = meta.name.as_str();
        let wait = request
            .wait_time_seconds
            .unwrap_or(meta.config.receive_message_wait_time_seconds);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(wait as u64);
        loop {
            let meta = self.meta(queue)?;
            // Register interest before looking, so a send committed in between still wakes us.
            let notify = meta.notify.clone();
            let notified = notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let (max, visibility) = (request.max_messages, request.visibility_timeout);
            let messages = self
                .call(|reply| Command::Receive {
                    queue: meta,
                    max,
                    visibility,
                    reply,
                })
                .await?;
            let now = tokio::time::Instant::now();
            if !messages.is_empty() || now >= deadline {
                return Ok(messages);
            }
            let pause = (deadline - now).min(LONG_POLL_RECHECK);
            let _ = tokio::time::timeout(pause, notified).await;
        }
    }

    /// The messages of an earlier attempt that are still in flight under their receipt
    /// handles, with their visibility timeout started again (as SQS does for a retry).
    async fn receive_again(
        &self,
        meta: &QueueMeta,
        earlier: Vec<ReceivedMessage>,
        visibility: Option<u32>,
    ) -> QueueResult<Vec<ReceivedMessage>> {
        let timeout = visibility.unwrap_or(meta.config.visibility_timeout);
        let mut still_held = Vec::with_capacity(earlier.len());
        for message in earlier {
            match self
                .change_visibility(&meta.name, &message.receipt_handle, timeout)
                .await
            {
                Ok(()) => still_held.push(message),
                Err(QueueError::ReceiptHandleExpired(_) | QueueError::MessageNotInflight) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(still_held)
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[async_trait::async_trait]
impl crate::Queue for EmbeddedEngine {
    async fn create_queue(
        &self,
        name: &str,
        attributes: &BTreeMap<String, String>,
        tags: &BTreeMap<String, String>,
    ) -> QueueResult<QueueInfo> {
        let (name, attributes, tags) = (name.to_string(), attributes.clone(), tags.clone());
        self.call(|reply| Command::CreateQueue {
            name,
            attributes,
            tags,
            reply,
        })
        .await
    }

    async fn get_queue(&self, name: &str) -> QueueResult<QueueInfo> {
        let meta = self.meta(name)?;
        Ok(QueueInfo {
            name: meta.name.clone(),
            arn: meta.arn.clone(),
        })
    }

    async fn list_queues(
        &self,
        prefix: Option<&str>,
        max_results: Option<u32>,
        next_token: Option<&str>,
    ) -> QueueResult<Page<QueueInfo>> {
        let items = self
            .catalog()
            .by_name
            .values()
            .filter(|m| prefix.is_none_or(|p| m.name.starts_with(p)))
            .map(|m| QueueInfo {
                name: m.name.clone(),
                arn: m.arn.clone(),
            })
            .collect();
        Self::page(items, max_results, next_token)
    }

    async fn delete_queue(&self, name: &str) -> QueueResult<()> {
        let queue = self.meta(name)?;
        self.call(|reply| Command::DeleteQueue { queue, reply })
            .await
    }

    async fn get_attributes(&self, name: &str) -> QueueResult<BTreeMap<String, String>> {
        let meta = self.meta(name)?;
        let counts = self.counts(name).await?;
        let mut map = meta.config.to_attribute_map();
        map.insert(
            "ApproximateNumberOfMessages".into(),
            counts.visible.to_string(),
        );
        map.insert(
            "ApproximateNumberOfMessagesNotVisible".into(),
            counts.in_flight.to_string(),
        );
        map.insert(
            "ApproximateNumberOfMessagesDelayed".into(),
            counts.delayed.to_string(),
        );
        map.insert(
            "CreatedTimestamp".into(),
            (meta.created_at / 1000).to_string(),
        );
        map.insert(
            "LastModifiedTimestamp".into(),
            (meta.modified_at / 1000).to_string(),
        );
        map.insert("QueueArn".into(), meta.arn.clone());
        Ok(map)
    }

    async fn set_attributes(
        &self,
        name: &str,
        attributes: &BTreeMap<String, String>,
    ) -> QueueResult<()> {
        let queue = self.meta(name)?;
        let attributes = attributes.clone();
        self.call(|reply| Command::SetAttributes {
            queue,
            attributes,
            reply,
        })
        .await
    }

    async fn counts(&self, name: &str) -> QueueResult<QueueCounts> {
        let meta = self.meta(name)?;
        let now = self.inner.clock.now_millis();
        let queue_id = meta.id;
        self.read(move |conn| {
            conn.prepare_cached(
                "SELECT \
                   (SELECT count(*) FROM messages WHERE queue_id = ?1 AND visible_at <= ?2), \
                   (SELECT count(*) FROM messages WHERE queue_id = ?1 AND visible_at > ?2 AND receive_count > 0), \
                   (SELECT count(*) FROM messages WHERE queue_id = ?1 AND visible_at > ?2 AND receive_count = 0), \
                   (SELECT min(retain_from) FROM messages WHERE queue_id = ?1)",
            )?
            .query_row(params![queue_id, now], |r| {
                let oldest: Option<i64> = r.get(3)?;
                Ok(QueueCounts {
                    visible: r.get::<_, i64>(0)? as u64,
                    in_flight: r.get::<_, i64>(1)? as u64,
                    delayed: r.get::<_, i64>(2)? as u64,
                    oldest_age_seconds: Some(oldest.map_or(0, |t| ((now - t).max(0) / 1000) as u64)),
                })
            })
        })
        .await
    }

    fn locates_messages(&self) -> bool {
        true
    }

    async fn peek(&self, name: &str, max: u32, after: Option<&str>) -> QueueResult<PeekPage> {
        let meta = self.meta(name)?;
        if !(1..=100).contains(&max) {
            return Err(QueueError::invalid(format!(
                "a peek shows 1 to 100 messages, not {max}"
            )));
        }
        // In the order of the retention index (queue, retention start = when sent or moved
        // here, row id), so a page reads `max` index entries however long the queue is; the
        // cursor is the last message's pair, which a receive does not change.
        let (after_time, after_id): (i64, i64) = match after {
            None => (i64::MIN, i64::MIN),
            Some(text) => text
                .split_once('-')
                .and_then(|(t, i)| Some((t.parse().ok()?, i.parse().ok()?)))
                .ok_or_else(|| {
                    QueueError::invalid(format!(
                        "{text:?} is not a peek cursor; pass the `next` of the page before"
                    ))
                })?,
        };
        let now = self.inner.clock.now_millis();
        let queue_id = meta.id;
        let rows = self
            .read(move |conn| {
                conn.prepare_cached(
                    "SELECT m.id, p.message_id, p.body, p.attributes, m.group_id, p.sent_at, m.receive_count, \
                     m.visible_at, p.dlq_source_arn, m.retain_from \
                     FROM messages m INDEXED BY messages_by_retention JOIN payloads p ON p.id = m.payload_id \
                     WHERE m.queue_id = ?1 AND (m.retain_from, m.id) > (?2, ?3) \
                     ORDER BY m.retain_from, m.id LIMIT ?4",
                )?
                .query_map(params![queue_id, after_time, after_id, max], |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, Option<String>>(3)?,
                        r.get::<_, Option<String>>(4)?,
                        r.get::<_, i64>(5)?,
                        r.get::<_, i64>(6)?,
                        r.get::<_, i64>(7)?,
                        r.get::<_, Option<String>>(8)?,
                        r.get::<_, i64>(9)?,
                    ))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()
            })
            .await?;
        let full = rows.len() == max as usize;
        let next = if full {
            rows.last().map(|r| format!("{}-{}", r.9, r.0))
        } else {
            None
        };
        let mut messages = Vec::with_capacity(rows.len());
        for (_, message_id, body, attributes, group_id, sent_at, receives, visible_at, source, _) in
            rows
        {
            let attributes = match attributes.as_deref().map(serde_json::from_str).transpose() {
                Ok(a) => a.unwrap_or_default(),
                Err(e) => {
                    return Err(QueueError::Internal(format!(
                        "stored attributes of message {message_id} are unreadable ({e}); the database may be damaged"
                    )))
                }
            };
            messages.push(PeekedMessage {
                message_id,
                body,
                attributes,
                group_id,
                sent_timestamp: sent_at,
                receive_count: receives as u32,
                state: match (visible_at <= now, receives > 0) {
                    (true, _) => PeekState::Visible,
                    (false, true) => PeekState::InFlight,
                    (false, false) => PeekState::Delayed,
                },
                dead_letter_source_arn: source,
            });
        }
        Ok(PeekPage {
            messages,
            next,
            counted_as_receive: false,
        })
    }

    async fn move_messages(
        &self,
        queue: &str,
        message_ids: &[String],
        destination: &str,
        _max_scan: usize,
    ) -> QueueResult<MoveOutcome> {
        let (source, destination) = (self.meta(queue)?, self.meta(destination)?);
        let ids = message_ids.to_vec();
        self.call(|reply| Command::MoveSelected {
            source,
            destination,
            ids,
            reply,
        })
        .await
    }

    async fn locate(&self, message_id: &str) -> QueueResult<Option<Located>> {
        let now = self.inner.clock.now_millis();
        let id = message_id.to_owned();
        let row = self
            .read(move |conn| {
                // A message's row shares its payload's id until it is moved (to its dead-letter
                // queue, or back by a redrive: a new row, the same payload); only a moved one is
                // looked for by payload, a scan, so the common lookup is index reads and sends
                // and moves keep no extra index.
                let found = |r: &rusqlite::Row<'_>| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, i64>(1)?,
                        r.get::<_, i64>(2)?,
                        r.get::<_, i64>(3)?,
                        r.get::<_, Option<String>>(4)?,
                    ))
                };
                let Some((payload, sent_at, source)) = conn
                    .prepare_cached(
                        "SELECT id, sent_at, dlq_source_arn FROM payloads WHERE message_id = ?1 LIMIT 1",
                    )?
                    .query_row(params![id], |r| {
                        Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?, r.get::<_, Option<String>>(2)?))
                    })
                    .optional()?
                else {
                    return Ok(None);
                };
                let by_id = conn
                    .prepare_cached(
                        "SELECT queue_id, ?2, receive_count, visible_at, ?3 FROM messages WHERE id = ?1",
                    )?
                    .query_row(params![payload, sent_at, source], found)
                    .optional()?;
                if by_id.is_some() {
                    return Ok(by_id);
                }
                conn.prepare_cached(
                    "SELECT queue_id, ?2, receive_count, visible_at, ?3 FROM messages WHERE payload_id = ?1 LIMIT 1",
                )?
                .query_row(params![payload, sent_at, source], found)
                .optional()
            })
            .await?;
        let Some((queue_id, sent_at, receive_count, visible_at, source)) = row else {
            return Ok(None);
        };
        // A queue deleted since: its messages are gone as far as anyone can tell.
        let Some(meta) = self.catalog().by_id.get(&queue_id).cloned() else {
            return Ok(None);
        };
        Ok(Some(Located {
            queue: meta.name.clone(),
            sent_timestamp: sent_at,
            receive_count: receive_count as u32,
            in_flight: receive_count > 0 && visible_at > now,
            dead_letter_source_arn: source,
        }))
    }

    async fn send(&self, queue: &str, message: SendMessage) -> QueueResult<SendOutcome> {
        let meta = self.meta(queue)?;
        let prepared = self.prepare(&meta, message)?;
        let mut outcomes = self
            .call(|reply| Command::Send {
                queue: meta,
                messages: vec![prepared],
                reply,
            })
            .await?;
        outcomes
            .pop()
            .ok_or_else(|| QueueError::Internal("the writer returned no send outcome".into()))
    }

    async fn send_batch(
        &self,
        queue: &str,
        entries: Vec<BatchEntry<SendMessage>>,
    ) -> QueueResult<BatchOutcome<SendOutcome>> {
        validate::batch_ids(BatchAction::SendMessage, &entries)?;
        let meta = self.meta(queue)?;
        if meta.config.fifo {
            for e in &entries {
                validate::fifo_ids(&meta.config, &e.entry)?;
            }
        }
        let total: usize = entries
            .iter()
            .map(|e| validate::message_size(&e.entry))
            .sum();
        // The whole batch has SQS's fixed ceiling; each message also has the queue's own limit.
        let limit = crate::attributes::MAX_MESSAGE_SIZE_LIMIT as usize;
        if total > limit {
            return Err(QueueError::BatchRequestTooLong { total, limit });
        }
        let mut outcome = BatchOutcome::default();
        let mut ids = Vec::with_capacity(entries.len());
        let mut prepared = Vec::with_capacity(entries.len());
        for e in entries {
            match self.prepare(&meta, e.entry) {
                Ok(p) => {
                    ids.push(e.id);
                    prepared.push(p);
                }
                Err(err) => outcome.failed.push((e.id, err)),
            }
        }
        if !prepared.is_empty() {
            let sent = self
                .call(|reply| Command::Send {
                    queue: meta,
                    messages: prepared,
                    reply,
                })
                .await?;
            outcome.successful = ids.into_iter().zip(sent).collect();
        }
        Ok(outcome)
    }

    async fn receive(
        &self,
        queue: &str,
        request: ReceiveRequest,
    ) -> QueueResult<Vec<ReceivedMessage>> {
        validate::receive_request(&request)?;
        let meta = self.meta(queue)?;
        let attempt = request.attempt_id.as_deref().filter(|_| meta.config.fifo);
        if let Some(attempt) = attempt {
            let now = self.inner.clock.now_millis();
            if let Some(earlier) = self.inner.receive_attempts.recall(meta.id, attempt, now) {
                return self
                    .receive_again(&meta, earlier, request.visibility_timeout)
                    .await;
            }
        }
        let messages = self.receive_new(&meta, &request).await?;
        if let Some(attempt) = attempt.filter(|_| !messages.is_empty()) {
            let now = self.inner.clock.now_millis();
            (self.inner.receive_attempts).remember(meta.id, attempt, now, &messages);
        }
        Ok(messages)
    }

    async fn add_permission(
        &self,
        queue: &str,
        label: &str,
        accounts: &[String],
        actions: &[String],
    ) -> QueueResult<()> {
        let _edit = self.inner.policy_edits.lock().await;
        let meta = self.meta(queue)?;
        let policy = crate::policy::add_permission(
            meta.config.policy.as_deref(),
            &meta.arn,
            label,
            accounts,
            actions,
        )?;
        self.set_attributes(queue, &[("Policy".to_string(), policy)].into())
            .await
    }

    async fn remove_permission(&self, queue: &str, label: &str) -> QueueResult<()> {
        let _edit = self.inner.policy_edits.lock().await;
        let meta = self.meta(queue)?;
        let policy =
            crate::policy::remove_permission(meta.config.policy.as_deref(), &meta.arn, label)?;
        self.set_attributes(
            queue,
            &[("Policy".to_string(), policy.unwrap_or_default())].into(),
        )
        .await
    }

    async fn delete(&self, queue: &str, receipt_handle: &str) -> QueueResult<()> {
        let meta = self.meta(queue)?;
        let receipt = Receipt::decode(receipt_handle, meta.id)?;
        self.call(|reply| Command::Delete {
            queue: meta,
            receipts: vec![receipt],
            reply,
        })
        .await
    }

    async fn delete_batch(
        &self,
        queue: &str,
        entries: Vec<BatchEntry<String>>,
    ) -> QueueResult<BatchOutcome<()>> {
        validate::batch_ids(BatchAction::DeleteMessage, &entries)?;
        let meta = self.meta(queue)?;
        let mut outcome = BatchOutcome::default();
        let mut ids = Vec::new();
        let mut receipts = Vec::new();
        for e in entries {
            match Receipt::decode(&e.entry, meta.id) {
                Ok(r) => {
                    ids.push(e.id);
                    receipts.push(r);
                }
                Err(err) => outcome.failed.push((e.id, err)),
            }
        }
        if !receipts.is_empty() {
            self.call(|reply| Command::Delete {
                queue: meta,
                receipts,
                reply,
            })
            .await?;
            outcome.successful = ids.into_iter().map(|id| (id, ())).collect();
        }
        Ok(outcome)
    }

    async fn change_visibility(
        &self,
        queue: &str,
        receipt_handle: &str,
        timeout_seconds: u32,
    ) -> QueueResult<()> {
        let mut outcome = self
            .change_visibility_batch(
                queue,
                vec![BatchEntry {
                    id: "single".into(),
                    entry: (receipt_handle.to_string(), timeout_seconds),
                }],
            )
            .await?;
        match outcome.failed.pop() {
            Some((_, e)) => Err(e),
            None => Ok(()),
        }
    }

    async fn change_visibility_batch(
        &self,
        queue: &str,
        entries: Vec<BatchEntry<(String, u32)>>,
    ) -> QueueResult<BatchOutcome<()>> {
        validate::batch_ids(BatchAction::ChangeMessageVisibility, &entries)?;
        let meta = self.meta(queue)?;
        let mut outcome = BatchOutcome::default();
        let mut ids = Vec::new();
        let mut changes = Vec::new();
        for e in entries {
            let (handle, timeout) = e.entry;
            match validate::visibility_timeout(timeout)
                .and_then(|_| Receipt::decode(&handle, meta.id))
            {
                Ok(r) => {
                    ids.push(e.id);
                    changes.push((r, timeout));
                }
                Err(err) => outcome.failed.push((e.id, err)),
            }
        }
        if !changes.is_empty() {
            let results = self
                .call(|reply| Command::ChangeVisibility {
                    queue: meta,
                    changes,
                    reply,
                })
                .await?;
            for (id, result) in ids.into_iter().zip(results) {
                match result {
                    Ok(()) => outcome.successful.push((id, ())),
                    Err(e) => outcome.failed.push((id, e)),
                }
            }
        }
        Ok(outcome)
    }

    async fn purge(&self, queue: &str) -> QueueResult<()> {
        let queue = self.meta(queue)?;
        self.call(|reply| Command::Purge { queue, reply }).await
    }

    async fn tag(&self, queue: &str, tags: &BTreeMap<String, String>) -> QueueResult<()> {
        let queue = self.meta(queue)?;
        let add = tags.clone();
        self.call(|reply| Command::Tag {
            queue,
            add,
            remove: Vec::new(),
            reply,
        })
        .await
    }

    async fn untag(&self, queue: &str, keys: &[String]) -> QueueResult<()> {
        let queue = self.meta(queue)?;
        let remove = keys.to_vec();
        self.call(|reply| Command::Tag {
            queue,
            add: BTreeMap::new(),
            remove,
            reply,
        })
        .await
    }

    async fn list_tags(&self, queue: &str) -> QueueResult<BTreeMap<String, String>> {
        Ok(self.meta(queue)?.tags.clone())
    }

    async fn list_dead_letter_source_queues(
        &self,
        queue: &str,
        max_results: Option<u32>,
        next_token: Option<&str>,
    ) -> QueueResult<Page<QueueInfo>> {
        let meta = self.meta(queue)?;
        let items = self
            .catalog()
            .dead_letter_sources(&meta.arn)
            .iter()
            .map(|m| QueueInfo {
                name: m.name.clone(),
                arn: m.arn.clone(),
            })
            .collect();
        Self::page(items, max_results, next_token)
    }

    async fn start_message_move_task(
        &self,
        source_arn: &str,
        destination_arn: Option<&str>,
        max_messages_per_second: Option<u32>,
    ) -> QueueResult<String> {
        let (source_arn, destination_arn) =
            (source_arn.to_string(), destination_arn.map(str::to_string));
        self.call(|reply| Command::StartMove {
            source_arn,
            destination_arn,
            rate: max_messages_per_second,
            reply,
        })
        .await
    }

    async fn list_message_move_tasks(
        &self,
        source_arn: &str,
        max_results: Option<u32>,
    ) -> QueueResult<Vec<MoveTask>> {
        let max = max_results.unwrap_or(1);
        if !(1..=10).contains(&max) {
            return Err(QueueError::invalid(format!(
                "MaxResults {max} is out of range: use 1 to 10"
            )));
        }
        if self.catalog().by_arn(source_arn).is_none() {
            return Err(QueueError::ResourceNotFound(format!(
                "the source queue {source_arn} does not exist"
            )));
        }
        let source_arn = source_arn.to_string();
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT handle, status, source_arn, destination_arn, max_per_second, moved, to_move, failure_reason, started_at \
                 FROM move_tasks WHERE source_arn = ?1 ORDER BY started_at DESC, rowid DESC LIMIT ?2",
            )?;
            let rows = stmt.query_map(params![source_arn, max], |r| {
                let status = MoveTaskStatus::parse(&r.get::<_, String>(1)?).unwrap_or(MoveTaskStatus::Failed);
                Ok(MoveTask {
                    task_handle: (status == MoveTaskStatus::Running).then(|| r.get(0)).transpose()?,
                    status,
                    source_arn: r.get(2)?,
                    destination_arn: r.get(3)?,
                    max_messages_per_second: r.get::<_, Option<i64>>(4)?.map(|v| v as u32),
                    approximate_number_of_messages_moved: r.get::<_, i64>(5)? as u64,
                    approximate_number_of_messages_to_move: r.get::<_, i64>(6)? as u64,
                    failure_reason: r.get(7)?,
                    started_timestamp: r.get(8)?,
                })
            })?;
            rows.collect()
        })
        .await
    }

    async fn cancel_message_move_task(&self, task_handle: &str) -> QueueResult<u64> {
        let handle = task_handle.to_string();
        self.call(|reply| Command::CancelMove { handle, reply })
            .await
    }
}
