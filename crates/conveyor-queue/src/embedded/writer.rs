//! The writer thread: the only code that changes the database.
//!
//! Callers send commands over a channel; the thread takes every command waiting (up to
//! `MAX_GROUP`), runs them in one transaction, commits (fsync under `synchronous=FULL`), and only
//! then answers each caller. One fsync is thus shared by every caller that arrived while the
//! previous one ran: that is the group commit that lets durable sends scale with concurrency.
//!
//! Handlers return `rusqlite::Result<QueueResult<T>>`: the outer error is a storage failure that
//! aborts the whole transaction (every caller in the group is told, nothing is half-applied and
//! the in-memory caches are rebuilt); the inner one is the caller's own refusal, decided before
//! the handler writes anything.

use std::collections::{BTreeMap, HashMap};
use std::sync::mpsc::Receiver;
use std::sync::{Arc, RwLock};

use rusqlite::{params, Connection, OptionalExtension};
use tokio::sync::{oneshot, Notify};

use super::catalog::{Catalog, QueueMeta};
use super::fifo::{state_from_window, QueueGroups, GROUP_WINDOW};
use super::receipt::Receipt;
use crate::arn::Location;
use crate::attributes::{DeduplicationScope, QueueConfig};
use crate::clock::Clock;
use crate::error::{QueueError, QueueResult};
use crate::model::{MoveTaskStatus, QueueInfo, ReceivedMessage, SendOutcome};
use crate::validate;

/// Most commands folded into one transaction; past a few hundred, bigger groups stop paying.
const MAX_GROUP: usize = 512;
/// FIFO deduplication window.
const DEDUP_WINDOW_MS: i64 = 5 * 60 * 1000;
/// SQS allows one purge per queue per minute.
const PURGE_SPACING_MS: i64 = 60 * 1000;
/// A visibility timeout may not reach past 12 hours after the receive.
const MAX_INFLIGHT_MS: i64 = 43_200 * 1000;
/// Bounds on one maintenance pass, so it never holds the writer for long.
const SWEEP_LIMIT: i64 = 10_000;
const MOVE_STEP_LIMIT: i64 = 1_000;
/// Rate of a move task that named none (SQS's ceiling for the parameter).
const DEFAULT_MOVE_RATE: i64 = 500;
/// Most rows one receive will expire or dead-letter before answering with what it has.
const MAX_DISPOSALS_PER_RECEIVE: usize = 1_000;

pub type Reply<T> = oneshot::Sender<QueueResult<T>>;

/// A validated message, ready to store.
pub struct PreparedSend {
    pub message_id: String,
    pub body: String,
    pub attributes: Option<String>,
    pub group_id: Option<String>,
    /// For FIFO queues always set: explicit, or the body's SHA-256 under content-based dedup.
    pub dedup_id: Option<String>,
    pub delay_seconds: Option<u32>,
    pub trace_header: Option<String>,
}

pub enum Command {
    CreateQueue {
        name: String,
        attributes: BTreeMap<String, String>,
        tags: BTreeMap<String, String>,
        reply: Reply<QueueInfo>,
    },
    DeleteQueue {
        queue: Arc<QueueMeta>,
        reply: Reply<()>,
    },
    SetAttributes {
        queue: Arc<QueueMeta>,
        attributes: BTreeMap<String, String>,
        reply: Reply<()>,
    },
    Tag {
        queue: Arc<QueueMeta>,
        add: BTreeMap<String, String>,
        remove: Vec<String>,
        reply: Reply<()>,
    },
    Send {
        queue: Arc<QueueMeta>,
        messages: Vec<PreparedSend>,
        reply: Reply<Vec<SendOutcome>>,
    },
    Receive {
        queue: Arc<QueueMeta>,
        max: u32,
        visibility: Option<u32>,
        reply: Reply<Vec<ReceivedMessage>>,
    },
    Delete {
        queue: Arc<QueueMeta>,
        receipts: Vec<Receipt>,
        reply: Reply<()>,
    },
    ChangeVisibility {
        queue: Arc<QueueMeta>,
        changes: Vec<(Receipt, u32)>,
        reply: Reply<Vec<QueueResult<()>>>,
    },
    Purge {
        queue: Arc<QueueMeta>,
        reply: Reply<()>,
    },
    StartMove {
        source_arn: String,
        destination_arn: Option<String>,
        rate: Option<u32>,
        reply: Reply<String>,
    },
    CancelMove {
        handle: String,
        reply: Reply<u64>,
    },
    Maintain {
        reply: Option<Reply<()>>,
    },
}

/// Sends a caller its answer once the transaction's fate is known.
type Completion = Box<dyn FnOnce(Option<&QueueError>) + Send>;

fn complete<T: Send + 'static>(reply: Reply<T>, result: QueueResult<T>) -> Completion {
    Box::new(move |failure| {
        let _ = reply.send(match failure {
            None => result,
            Some(e) => Err(e.clone()),
        });
    })
}

/// The columns `StoredRow::read` expects, in order.
const ROW_COLUMNS: &str = "m.id, p.message_id, p.body, p.attributes, m.group_id, p.dedup_id, p.sent_at, \
     m.retain_from, m.receive_count, m.first_received_at, p.dlq_source_arn, p.trace_header, m.visible_at, m.payload_id";
/// The join `ROW_COLUMNS` reads from.
const ROW_SOURCE: &str = "messages m JOIN payloads p ON p.id = m.payload_id";

struct StoredRow {
    id: i64,
    message_id: String,
    body: String,
    attributes: Option<String>,
    group_id: Option<String>,
    dedup_id: Option<String>,
    sent_at: i64,
    retain_from: i64,
    receive_count: i64,
    first_received_at: Option<i64>,
    dlq_source_arn: Option<String>,
    trace_header: Option<String>,
    visible_at: i64,
    payload_id: i64,
}

impl StoredRow {
    fn read(r: &rusqlite::Row<'_>) -> rusqlite::Result<StoredRow> {
        Ok(StoredRow {
            id: r.get(0)?,
            message_id: r.get(1)?,
            body: r.get(2)?,
            attributes: r.get(3)?,
            group_id: r.get(4)?,
            dedup_id: r.get(5)?,
            sent_at: r.get(6)?,
            retain_from: r.get(7)?,
            receive_count: r.get(8)?,
            first_received_at: r.get(9)?,
            dlq_source_arn: r.get(10)?,
            trace_header: r.get(11)?,
            visible_at: r.get(12)?,
            payload_id: r.get(13)?,
        })
    }
}

/// A message leaving its queue for another: what the new row keeps and what it resets.
struct Relocation<'a> {
    row_id: i64,
    payload_id: i64,
    group_id: Option<&'a str>,
    retain_from: i64,
    receive_count: i64,
    first_received_at: Option<i64>,
    /// Set when dead-lettering (the source queue's ARN); cleared when redriving back.
    dlq_source_arn: Option<&'a str>,
}

/// What a receive does with a candidate row.
enum Fate {
    Expired,
    DeadLetter(Arc<QueueMeta>),
    Deliver,
}

pub fn sequence_number(row_id: i64) -> String {
    format!("{row_id:020}")
}

pub struct Writer {
    conn: Connection,
    catalog: Catalog,
    published: Arc<RwLock<Arc<Catalog>>>,
    clock: Arc<dyn Clock>,
    location: Location,
    fifo: HashMap<i64, QueueGroups>,
    next_id: i64,
    ids_used: bool,
    catalog_changed: bool,
    wake: Vec<Arc<Notify>>,
}

impl Writer {
    pub fn new(
        conn: Connection,
        published: Arc<RwLock<Arc<Catalog>>>,
        clock: Arc<dyn Clock>,
        location: Location,
    ) -> rusqlite::Result<Writer> {
        let mut writer = Writer {
            conn,
            catalog: Catalog::default(),
            published,
            clock,
            location,
            fifo: HashMap::new(),
            next_id: 1,
            ids_used: false,
            catalog_changed: false,
            wake: Vec::new(),
        };
        writer.reload()?;
        Ok(writer)
    }

    /// Rebuild every in-memory view from the database (at start, and after a failed commit).
    fn reload(&mut self) -> rusqlite::Result<()> {
        let mut catalog = Catalog::default();
        {
            let mut stmt = self.conn.prepare(
                "SELECT id, name, config, tags, created_at, modified_at, last_purge_at FROM queues",
            )?;
            let rows = stmt.query_map([], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, i64>(4)?,
                    r.get::<_, i64>(5)?,
                    r.get::<_, Option<i64>>(6)?,
                ))
            })?;
            for row in rows {
                let (id, name, config, tags, created_at, modified_at, last_purge_at) = row?;
                let config: QueueConfig =
                    serde_json::from_str(&config).map_err(|e| corrupt_json("queues.config", e))?;
                let tags =
                    serde_json::from_str(&tags).map_err(|e| corrupt_json("queues.tags", e))?;
                let old_notify = self.catalog.by_id.get(&id).map(|m| m.notify.clone());
                catalog.insert(QueueMeta {
                    id,
                    arn: self.location.arn(&name),
                    name,
                    config,
                    tags,
                    created_at,
                    modified_at,
                    last_purge_at,
                    notify: old_notify.unwrap_or_default(),
                });
            }
        }
        self.catalog = catalog;
        self.fifo.clear();
        let stored_next: i64 = self.conn.query_row(
            "SELECT value FROM meta WHERE key = 'next_message_id'",
            [],
            |r| r.get(0),
        )?;
        let max_id: i64 =
            self.conn
                .query_row("SELECT MAX(COALESCE((SELECT MAX(id) FROM messages), 0), COALESCE((SELECT MAX(id) FROM payloads), 0))", [], |r| {
                    r.get(0)
                })?;
        self.next_id = stored_next.max(max_id + 1);
        self.publish();
        Ok(())
    }

    fn publish(&mut self) {
        let snapshot = Arc::new(self.catalog.clone());
        match self.published.write() {
            Ok(mut guard) => *guard = snapshot,
            Err(poisoned) => *poisoned.into_inner() = snapshot,
        }
        self.catalog_changed = false;
    }

    /// Serve commands until every sender is gone.
    pub fn run(mut self, commands: Receiver<Command>) {
        while let Ok(first) = commands.recv() {
            let mut group = Vec::with_capacity(16);
            group.push(first);
            while group.len() < MAX_GROUP {
                match commands.try_recv() {
                    Ok(c) => group.push(c),
                    Err(_) => break,
                }
            }
            self.run_group(group);
        }
    }

    fn run_group(&mut self, group: Vec<Command>) {
        let now = self.clock.now_millis();
        let mut completions: Vec<Completion> = Vec::with_capacity(group.len());
        let mut failure = self.conn.execute_batch("BEGIN IMMEDIATE").err();
        if failure.is_none() {
            for command in group {
                match self.execute(command, now) {
                    Ok(c) => completions.push(c),
                    Err(e) => {
                        // The remaining commands are dropped unanswered; their callers see the
                        // writer's failure, and nothing of this group is committed.
                        failure = Some(e);
                        break;
                    }
                }
            }
        }
        if failure.is_none() && self.ids_used {
            failure = self
                .conn
                .execute(
                    "UPDATE meta SET value = ?1 WHERE key = 'next_message_id'",
                    [self.next_id],
                )
                .err();
        }
        if failure.is_none() {
            failure = self.conn.execute_batch("COMMIT").err();
        }
        self.ids_used = false;
        match failure {
            None => {
                if self.catalog_changed {
                    self.publish();
                }
                for c in completions {
                    c(None);
                }
                for n in self.wake.drain(..) {
                    n.notify_waiters();
                }
            }
            Some(e) => {
                let _ = self.conn.execute_batch("ROLLBACK");
                self.wake.clear();
                let error = QueueError::Internal(format!(
                    "the database write failed and was rolled back ({e}); nothing of this request was stored, retry it"
                ));
                if let Err(reload) = self.reload() {
                    eprintln!("conveyor-queue: reloading state after a failed commit also failed: {reload}");
                }
                for c in completions {
                    c(Some(&error));
                }
            }
        }
    }

    fn execute(&mut self, command: Command, now: i64) -> rusqlite::Result<Completion> {
        Ok(match command {
            Command::CreateQueue {
                name,
                attributes,
                tags,
                reply,
            } => complete(reply, self.create_queue(&name, &attributes, &tags, now)?),
            Command::DeleteQueue { queue, reply } => complete(reply, self.delete_queue(&queue)?),
            Command::SetAttributes {
                queue,
                attributes,
                reply,
            } => complete(reply, self.set_attributes(&queue, &attributes, now)?),
            Command::Tag {
                queue,
                add,
                remove,
                reply,
            } => complete(reply, self.tag(&queue, add, &remove)?),
            Command::Send {
                queue,
                messages,
                reply,
            } => complete(reply, self.send(&queue, messages, now)?),
            Command::Receive {
                queue,
                max,
                visibility,
                reply,
            } => complete(reply, self.receive(&queue, max, visibility, now)?),
            Command::Delete {
                queue,
                receipts,
                reply,
            } => complete(reply, self.delete(&queue, &receipts)?),
            Command::ChangeVisibility {
                queue,
                changes,
                reply,
            } => complete(reply, self.change_visibility(&queue, &changes, now)?),
            Command::Purge { queue, reply } => complete(reply, self.purge(&queue, now)?),
            Command::StartMove {
                source_arn,
                destination_arn,
                rate,
                reply,
            } => complete(
                reply,
                self.start_move(&source_arn, destination_arn, rate, now)?,
            ),
            Command::CancelMove { handle, reply } => complete(reply, self.cancel_move(&handle)?),
            Command::Maintain { reply } => {
                self.maintain(now)?;
                match reply {
                    Some(reply) => complete(reply, Ok(())),
                    None => Box::new(|_| {}),
                }
            }
        })
    }

    fn current(&self, queue: &QueueMeta) -> QueueResult<Arc<QueueMeta>> {
        self.catalog
            .by_id
            .get(&queue.id)
            .cloned()
            .ok_or_else(|| QueueError::QueueDoesNotExist {
                name: queue.name.clone(),
            })
    }

    fn alloc_id(&mut self) -> i64 {
        let id = self.next_id;
        self.next_id += 1;
        self.ids_used = true;
        id
    }

    fn replace_meta(&mut self, meta: QueueMeta) {
        self.catalog.insert(meta);
        self.catalog_changed = true;
    }

    // ---- queues -------------------------------------------------------------------------

    fn check_redrive(&self, source_name: &str, config: &QueueConfig) -> QueueResult<()> {
        let Some(policy) = &config.redrive_policy else {
            return Ok(());
        };
        let target = &policy.dead_letter_target_arn;
        let dlq = self
            .location
            .local_queue(target)
            .and_then(|name| self.catalog.by_name.get(name))
            .ok_or_else(|| {
                QueueError::invalid(format!(
                    "the RedrivePolicy's dead-letter target {target} does not exist; create that queue first"
                ))
            })?;
        if dlq.name == source_name {
            return Err(QueueError::invalid(
                "a queue cannot be its own dead-letter queue",
            ));
        }
        if dlq.config.fifo != config.fifo {
            return Err(QueueError::invalid(
                "a FIFO queue needs a FIFO dead-letter queue, and a standard queue a standard one",
            ));
        }
        if let Some(allow) = &dlq.config.redrive_allow_policy {
            let source_arn = self.location.arn(source_name);
            if !allow.allows(&source_arn) {
                return Err(QueueError::invalid(format!(
                    "the RedriveAllowPolicy of {} does not allow {source_arn} to use it as a dead-letter queue",
                    dlq.name
                )));
            }
        }
        Ok(())
    }

    fn info(&self, meta: &QueueMeta) -> QueueInfo {
        QueueInfo {
            name: meta.name.clone(),
            arn: meta.arn.clone(),
        }
    }

    fn create_queue(
        &mut self,
        name: &str,
        attributes: &BTreeMap<String, String>,
        tags: &BTreeMap<String, String>,
        now: i64,
    ) -> rusqlite::Result<QueueResult<QueueInfo>> {
        let checked = (|| {
            validate::queue_name(name)?;
            validate::tags(tags)?;
            if tags.len() > 50 {
                return Err(QueueError::invalid("a queue can have at most 50 tags"));
            }
            QueueConfig::for_new_queue(name, attributes)
        })();
        let config = match checked {
            Ok(c) => c,
            Err(e) => return Ok(Err(e)),
        };
        if let Some(existing) = self.catalog.by_name.get(name) {
            return Ok(if existing.config.matches_requested(name, attributes) {
                Ok(self.info(existing))
            } else {
                Err(QueueError::QueueAlreadyExists {
                    name: name.to_string(),
                })
            });
        }
        if let Err(e) = self.check_redrive(name, &config) {
            return Ok(Err(e));
        }
        self.conn.execute(
            "INSERT INTO queues (name, config, tags, created_at, modified_at) VALUES (?1, ?2, ?3, ?4, ?4)",
            params![name, to_json(&config), to_json(tags), now],
        )?;
        let meta = QueueMeta {
            id: self.conn.last_insert_rowid(),
            name: name.to_string(),
            arn: self.location.arn(name),
            config,
            tags: tags.clone(),
            created_at: now,
            modified_at: now,
            last_purge_at: None,
            notify: Arc::default(),
        };
        let info = self.info(&meta);
        self.replace_meta(meta);
        Ok(Ok(info))
    }

    fn delete_queue(&mut self, queue: &QueueMeta) -> rusqlite::Result<QueueResult<()>> {
        let meta = match self.current(queue) {
            Ok(m) => m,
            Err(e) => return Ok(Err(e)),
        };
        self.delete_all_messages(meta.id)?;
        self.conn
            .execute("DELETE FROM dedup WHERE queue_id = ?1", [meta.id])?;
        self.conn.execute(
            "DELETE FROM move_tasks WHERE source_queue_id = ?1",
            [meta.id],
        )?;
        self.conn
            .execute("DELETE FROM queues WHERE id = ?1", [meta.id])?;
        self.catalog.remove(meta.id);
        self.catalog_changed = true;
        self.fifo.remove(&meta.id);
        self.wake.push(meta.notify.clone());
        Ok(Ok(()))
    }

    fn set_attributes(
        &mut self,
        queue: &QueueMeta,
        attributes: &BTreeMap<String, String>,
        now: i64,
    ) -> rusqlite::Result<QueueResult<()>> {
        let meta = match self.current(queue) {
            Ok(m) => m,
            Err(e) => return Ok(Err(e)),
        };
        let mut config = meta.config.clone();
        if let Err(e) = config
            .apply(attributes, false)
            .and_then(|_| self.check_redrive(&meta.name, &config))
        {
            return Ok(Err(e));
        }
        self.conn.execute(
            "UPDATE queues SET config = ?1, modified_at = ?2 WHERE id = ?3",
            params![to_json(&config), now, meta.id],
        )?;
        let mut updated = (*meta).clone();
        updated.config = config;
        updated.modified_at = now;
        self.replace_meta(updated);
        // A shorter delay or visibility may have made messages receivable.
        self.wake.push(meta.notify.clone());
        Ok(Ok(()))
    }

    fn tag(
        &mut self,
        queue: &QueueMeta,
        add: BTreeMap<String, String>,
        remove: &[String],
    ) -> rusqlite::Result<QueueResult<()>> {
        let meta = match self.current(queue) {
            Ok(m) => m,
            Err(e) => return Ok(Err(e)),
        };
        if let Err(e) = validate::tags(&add) {
            return Ok(Err(e));
        }
        let mut tags = meta.tags.clone();
        tags.extend(add);
        for key in remove {
            tags.remove(key);
        }
        if tags.len() > 50 {
            return Ok(Err(QueueError::invalid(
                "a queue can have at most 50 tags; remove some first",
            )));
        }
        self.conn.execute(
            "UPDATE queues SET tags = ?1 WHERE id = ?2",
            params![to_json(&tags), meta.id],
        )?;
        let mut updated = (*meta).clone();
        updated.tags = tags;
        self.replace_meta(updated);
        Ok(Ok(()))
    }

    fn purge(&mut self, queue: &QueueMeta, now: i64) -> rusqlite::Result<QueueResult<()>> {
        let meta = match self.current(queue) {
            Ok(m) => m,
            Err(e) => return Ok(Err(e)),
        };
        if meta
            .last_purge_at
            .is_some_and(|last| now - last < PURGE_SPACING_MS)
        {
            return Ok(Err(QueueError::PurgeQueueInProgress {
                name: meta.name.clone(),
            }));
        }
        self.delete_all_messages(meta.id)?;
        self.conn.execute(
            "UPDATE queues SET last_purge_at = ?1 WHERE id = ?2",
            params![now, meta.id],
        )?;
        self.fifo.remove(&meta.id);
        let mut updated = (*meta).clone();
        updated.last_purge_at = Some(now);
        self.replace_meta(updated);
        Ok(Ok(()))
    }

    // ---- messages -----------------------------------------------------------------------

    fn send(
        &mut self,
        queue: &QueueMeta,
        messages: Vec<PreparedSend>,
        now: i64,
    ) -> rusqlite::Result<QueueResult<Vec<SendOutcome>>> {
        let meta = match self.current(queue) {
            Ok(m) => m,
            Err(e) => return Ok(Err(e)),
        };
        let fifo = meta.config.fifo;
        let mut outcomes = Vec::with_capacity(messages.len());
        let mut wake = false;
        for m in messages {
            let dedup_scope = match (&meta.config.deduplication_scope, &m.group_id) {
                (DeduplicationScope::MessageGroup, Some(g)) => g.as_str(),
                _ => "",
            };
            if fifo {
                let dedup_id = m.dedup_id.as_deref().unwrap_or_default();
                let earlier: Option<(String, i64)> = self
                    .conn
                    .prepare_cached(
                        "SELECT message_id, sequence FROM dedup \
                         WHERE queue_id = ?1 AND scope = ?2 AND dedup_id = ?3 AND expires_at > ?4",
                    )?
                    .query_row(params![meta.id, dedup_scope, dedup_id, now], |r| {
                        Ok((r.get(0)?, r.get(1)?))
                    })
                    .optional()?;
                if let Some((message_id, sequence)) = earlier {
                    outcomes.push(SendOutcome {
                        message_id,
                        sequence_number: Some(sequence_number(sequence)),
                    });
                    continue;
                }
            }
            let id = self.alloc_id();
            let delay = m.delay_seconds.unwrap_or(meta.config.delay_seconds) as i64;
            let visible_at = now + delay * 1000;
            self.conn
                .prepare_cached(
                    "INSERT INTO payloads (id, message_id, body, attributes, dedup_id, sent_at, trace_header) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                )?
                .execute(params![id, m.message_id, m.body, m.attributes, m.dedup_id, now, m.trace_header])?;
            self.conn
                .prepare_cached(
                    "INSERT INTO messages (id, queue_id, payload_id, group_id, retain_from, visible_at) \
                     VALUES (?1, ?2, ?1, ?3, ?4, ?5)",
                )?
                .execute(params![id, meta.id, m.group_id, now, visible_at])?;
            if fifo {
                self.conn
                    .prepare_cached(
                        "INSERT OR REPLACE INTO dedup (queue_id, scope, dedup_id, message_id, sequence, expires_at) \
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    )?
                    .execute(params![
                        meta.id,
                        dedup_scope,
                        m.dedup_id.as_deref().unwrap_or_default(),
                        m.message_id,
                        id,
                        now + DEDUP_WINDOW_MS
                    ])?;
                if let (Some(groups), Some(g)) = (self.fifo.get_mut(&meta.id), &m.group_id) {
                    groups.on_insert(g, id, visible_at);
                }
            }
            wake |= delay == 0;
            outcomes.push(SendOutcome {
                message_id: m.message_id,
                sequence_number: fifo.then(|| sequence_number(id)),
            });
        }
        if wake {
            self.wake.push(meta.notify.clone());
        }
        Ok(Ok(outcomes))
    }

    fn fate(&self, meta: &QueueMeta, row: &StoredRow, now: i64) -> Fate {
        if row.retain_from + meta.config.message_retention_period as i64 * 1000 <= now {
            return Fate::Expired;
        }
        if let Some(policy) = &meta.config.redrive_policy {
            if row.receive_count >= policy.max_receive_count as i64 {
                // A missing dead-letter queue leaves the message deliverable rather than lost.
                if let Some(dlq) = self.catalog.by_arn(&policy.dead_letter_target_arn) {
                    return Fate::DeadLetter(dlq);
                }
            }
        }
        Fate::Deliver
    }

    /// Apply a non-delivering fate; returns false when the row is to be delivered.
    fn dispose(&mut self, meta: &QueueMeta, row: &StoredRow, now: i64) -> rusqlite::Result<bool> {
        match self.fate(meta, row, now) {
            Fate::Deliver => Ok(false),
            Fate::Expired => {
                self.delete_row(row.id, row.payload_id)?;
                Ok(true)
            }
            Fate::DeadLetter(dlq) => {
                // FIFO dead-letter queues restart the retention clock; standard ones keep the original.
                let retain_from = if dlq.config.fifo {
                    now
                } else {
                    row.retain_from
                };
                let source_arn = meta.arn.clone();
                let moving = Relocation {
                    row_id: row.id,
                    payload_id: row.payload_id,
                    group_id: row.group_id.as_deref(),
                    retain_from,
                    receive_count: row.receive_count,
                    first_received_at: row.first_received_at,
                    dlq_source_arn: Some(&source_arn),
                };
                self.move_row(&dlq, moving, now)?;
                Ok(true)
            }
        }
    }

    /// Move a stored message to another queue as a new row (a new sequence number) in place of
    /// the old one; the payload stays where it is.
    fn move_row(
        &mut self,
        destination: &QueueMeta,
        moving: Relocation<'_>,
        now: i64,
    ) -> rusqlite::Result<()> {
        let new_id = self.alloc_id();
        self.conn
            .prepare_cached(
                "INSERT INTO messages (id, queue_id, payload_id, group_id, retain_from, visible_at, receive_count, \
                 first_received_at) SELECT ?1, ?2, payload_id, group_id, ?3, ?4, ?5, ?6 FROM messages WHERE id = ?7",
            )?
            .execute(params![
                new_id,
                destination.id,
                moving.retain_from,
                now,
                moving.receive_count,
                moving.first_received_at,
                moving.row_id
            ])?;
        self.conn
            .prepare_cached("DELETE FROM messages WHERE id = ?1")?
            .execute([moving.row_id])?;
        self.conn
            .prepare_cached("UPDATE payloads SET dlq_source_arn = ?1 WHERE id = ?2")?
            .execute(params![moving.dlq_source_arn, moving.payload_id])?;
        if let (Some(groups), Some(g)) = (self.fifo.get_mut(&destination.id), moving.group_id) {
            groups.on_insert(g, new_id, now);
        }
        self.wake.push(destination.notify.clone());
        Ok(())
    }

    /// Remove one message and its payload.
    fn delete_row(&mut self, row_id: i64, payload_id: i64) -> rusqlite::Result<()> {
        self.conn
            .prepare_cached("DELETE FROM messages WHERE id = ?1")?
            .execute([row_id])?;
        self.conn
            .prepare_cached("DELETE FROM payloads WHERE id = ?1")?
            .execute([payload_id])?;
        Ok(())
    }

    /// Remove every message of a queue with its payload (purge, queue deletion).
    fn delete_all_messages(&mut self, queue_id: i64) -> rusqlite::Result<()> {
        self.conn.execute(
            "DELETE FROM payloads WHERE id IN (SELECT payload_id FROM messages WHERE queue_id = ?1)",
            [queue_id],
        )?;
        self.conn
            .execute("DELETE FROM messages WHERE queue_id = ?1", [queue_id])?;
        Ok(())
    }

    fn deliver(
        &mut self,
        meta: &QueueMeta,
        row: StoredRow,
        visibility: u32,
        now: i64,
    ) -> rusqlite::Result<QueueResult<ReceivedMessage>> {
        let token: i64 = rand::random();
        let visible_at = now + visibility as i64 * 1000;
        self.conn
            .prepare_cached(
                "UPDATE messages SET visible_at = ?2, receive_count = receive_count + 1, \
                 first_received_at = COALESCE(first_received_at, ?3), last_received_at = ?3, receipt_token = ?4 \
                 WHERE id = ?1",
            )?
            .execute(params![row.id, visible_at, now, token])?;
        let attributes = match row
            .attributes
            .as_deref()
            .map(serde_json::from_str)
            .transpose()
        {
            Ok(a) => a.unwrap_or_default(),
            Err(e) => {
                return Ok(Err(QueueError::Internal(format!(
                "stored attributes of message {} are unreadable ({e}); the database may be damaged",
                row.message_id
            ))))
            }
        };
        Ok(Ok(ReceivedMessage {
            receipt_handle: Receipt {
                queue_id: meta.id,
                row_id: row.id,
                token,
            }
            .encode(),
            message_id: row.message_id,
            body: row.body,
            attributes,
            sent_timestamp: row.sent_at,
            approximate_receive_count: (row.receive_count + 1) as u32,
            approximate_first_receive_timestamp: row.first_received_at.unwrap_or(now),
            sequence_number: meta.config.fifo.then(|| sequence_number(row.id)),
            group_id: row.group_id,
            deduplication_id: row.dedup_id,
            dead_letter_queue_source_arn: row.dlq_source_arn,
            trace_header: row.trace_header,
            sender_id: self.location.account_id.clone(),
        }))
    }

    fn receive(
        &mut self,
        queue: &QueueMeta,
        max: u32,
        visibility: Option<u32>,
        now: i64,
    ) -> rusqlite::Result<QueueResult<Vec<ReceivedMessage>>> {
        let meta = match self.current(queue) {
            Ok(m) => m,
            Err(e) => return Ok(Err(e)),
        };
        let visibility = visibility.unwrap_or(meta.config.visibility_timeout);
        if meta.config.fifo {
            self.receive_fifo(&meta, max as usize, visibility, now)
        } else {
            self.receive_standard(&meta, max as usize, visibility, now)
        }
    }

    fn receive_standard(
        &mut self,
        meta: &QueueMeta,
        max: usize,
        visibility: u32,
        now: i64,
    ) -> rusqlite::Result<QueueResult<Vec<ReceivedMessage>>> {
        let mut out: Vec<ReceivedMessage> = Vec::with_capacity(max);
        let mut delivered: Vec<i64> = Vec::with_capacity(max);
        // Rows that expire or go to the dead-letter queue leave room: look again while that
        // happens. A row delivered with visibility 0 stays visible, so `delivered` keeps it out.
        let mut disposals = 0;
        while disposals < MAX_DISPOSALS_PER_RECEIVE {
            let limit = (max - out.len() + delivered.len()) as i64;
            let rows: Vec<StoredRow> = self
                .conn
                .prepare_cached(&format!(
                    "SELECT {ROW_COLUMNS} FROM {ROW_SOURCE} WHERE m.queue_id = ?1 AND m.visible_at <= ?2 \
                     ORDER BY m.visible_at LIMIT ?3"
                ))?
                .query_map(params![meta.id, now, limit], StoredRow::read)?
                .filter(|r| !matches!(r, Ok(row) if delivered.contains(&row.id)))
                .collect::<rusqlite::Result<_>>()?;
            if rows.is_empty() {
                break;
            }
            let mut disposed = false;
            for row in rows {
                if out.len() >= max {
                    break;
                }
                let row_id = row.id;
                if self.dispose(meta, &row, now)? {
                    disposed = true;
                    disposals += 1;
                    continue;
                }
                match self.deliver(meta, row, visibility, now)? {
                    Ok(m) => out.push(m),
                    Err(e) => return Ok(Err(e)),
                }
                delivered.push(row_id);
            }
            if !disposed || out.len() >= max {
                break;
            }
        }
        Ok(Ok(out))
    }

    /// Load a FIFO queue's group index if this writer has not got it yet.
    fn ensure_groups(&mut self, queue_id: i64) -> rusqlite::Result<()> {
        if self.fifo.contains_key(&queue_id) {
            return Ok(());
        }
        let groups: Vec<String> = self
            .conn
            .prepare_cached("SELECT DISTINCT group_id FROM messages WHERE queue_id = ?1 AND group_id IS NOT NULL")?
            .query_map([queue_id], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        self.fifo.insert(queue_id, QueueGroups::default());
        for g in groups {
            self.refresh_group(queue_id, &g)?;
        }
        Ok(())
    }

    /// Recompute one group's entry from its first rows.
    fn refresh_group(&mut self, queue_id: i64, group: &str) -> rusqlite::Result<()> {
        if !self.fifo.contains_key(&queue_id) {
            return Ok(());
        }
        let window: Vec<(i64, i64, i64)> = self
            .conn
            .prepare_cached(
                "SELECT id, visible_at, receive_count FROM messages WHERE queue_id = ?1 AND group_id = ?2 \
                 ORDER BY id LIMIT ?3",
            )?
            .query_map(params![queue_id, group, GROUP_WINDOW], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect::<rusqlite::Result<_>>()?;
        if let Some(groups) = self.fifo.get_mut(&queue_id) {
            groups.set(group, state_from_window(&window));
        }
        Ok(())
    }

    fn receive_fifo(
        &mut self,
        meta: &QueueMeta,
        max: usize,
        visibility: u32,
        now: i64,
    ) -> rusqlite::Result<QueueResult<Vec<ReceivedMessage>>> {
        self.ensure_groups(meta.id)?;
        let candidates = self
            .fifo
            .get(&meta.id)
            .map(|g| g.available(now))
            .unwrap_or_default();
        let mut out = Vec::with_capacity(max);
        for group in candidates {
            if out.len() >= max {
                break;
            }
            // Fill the batch from this group first, in order, stopping at the first message that
            // is not yet visible; rows that expire or dead-letter let later ones through.
            let mut after_id = 0;
            let mut disposals = 0;
            while disposals < MAX_DISPOSALS_PER_RECEIVE {
                let rows: Vec<StoredRow> = self
                    .conn
                    .prepare_cached(&format!(
                        "SELECT {ROW_COLUMNS} FROM {ROW_SOURCE} WHERE m.queue_id = ?1 AND m.group_id = ?2 \
                         AND m.id > ?3 ORDER BY m.id LIMIT ?4"
                    ))?
                    .query_map(params![meta.id, &*group, after_id, (max - out.len()) as i64], StoredRow::read)?
                    .collect::<rusqlite::Result<_>>()?;
                let fetched = rows.len();
                let mut disposed = false;
                let mut blocked = false;
                for row in rows {
                    if row.visible_at > now {
                        blocked = true;
                        break;
                    }
                    after_id = row.id;
                    if self.dispose(meta, &row, now)? {
                        disposed = true;
                        disposals += 1;
                        continue;
                    }
                    match self.deliver(meta, row, visibility, now)? {
                        Ok(m) => out.push(m),
                        Err(e) => return Ok(Err(e)),
                    }
                }
                if blocked || !disposed || fetched == 0 || out.len() >= max {
                    break;
                }
            }
            self.refresh_group(meta.id, &group)?;
        }
        Ok(Ok(out))
    }

    fn delete(
        &mut self,
        queue: &QueueMeta,
        receipts: &[Receipt],
    ) -> rusqlite::Result<QueueResult<()>> {
        let meta = match self.current(queue) {
            Ok(m) => m,
            Err(e) => return Ok(Err(e)),
        };
        let mut touched_groups: Vec<String> = Vec::new();
        for r in receipts {
            // A stale handle (the message was received again since) matches no row: as in SQS
            // the call succeeds, and the newer receive keeps its message.
            let deleted: Option<(Option<String>, i64)> = self
                .conn
                .prepare_cached(
                    "DELETE FROM messages WHERE id = ?1 AND queue_id = ?2 AND receipt_token = ?3 \
                     RETURNING group_id, payload_id",
                )?
                .query_row(params![r.row_id, meta.id, r.token], |row| {
                    Ok((row.get(0)?, row.get(1)?))
                })
                .optional()?;
            let Some((group, payload_id)) = deleted else {
                continue;
            };
            self.conn
                .prepare_cached("DELETE FROM payloads WHERE id = ?1")?
                .execute([payload_id])?;
            if let (true, Some(g)) = (meta.config.fifo, group) {
                if !touched_groups.contains(&g) {
                    touched_groups.push(g);
                }
            }
        }
        // A batch usually deletes several messages of one group: refresh each group once.
        for g in &touched_groups {
            self.refresh_group(meta.id, g)?;
        }
        if !touched_groups.is_empty() {
            self.wake.push(meta.notify.clone());
        }
        Ok(Ok(()))
    }

    fn change_visibility(
        &mut self,
        queue: &QueueMeta,
        changes: &[(Receipt, u32)],
        now: i64,
    ) -> rusqlite::Result<QueueResult<Vec<QueueResult<()>>>> {
        let meta = match self.current(queue) {
            Ok(m) => m,
            Err(e) => return Ok(Err(e)),
        };
        let mut results = Vec::with_capacity(changes.len());
        for (r, timeout) in changes {
            let row: Option<(i64, Option<i64>, Option<String>)> = self
                .conn
                .prepare_cached(
                    "SELECT visible_at, last_received_at, group_id FROM messages \
                     WHERE id = ?1 AND queue_id = ?2 AND receipt_token = ?3",
                )?
                .query_row(params![r.row_id, meta.id, r.token], |row| {
                    Ok((row.get(0)?, row.get(1)?, row.get(2)?))
                })
                .optional()?;
            let Some((visible_at, last_received_at, group)) = row else {
                results.push(Err(QueueError::ReceiptHandleIsInvalid(r.encode())));
                continue;
            };
            if visible_at <= now {
                results.push(Err(QueueError::MessageNotInflight));
                continue;
            }
            let new_visible_at = now + *timeout as i64 * 1000;
            if new_visible_at > last_received_at.unwrap_or(now) + MAX_INFLIGHT_MS {
                results.push(Err(QueueError::invalid(format!(
                    "a visibility timeout of {timeout} s would keep the message in flight more than 12 hours after it was received; use a smaller value"
                ))));
                continue;
            }
            self.conn
                .prepare_cached("UPDATE messages SET visible_at = ?1 WHERE id = ?2")?
                .execute(params![new_visible_at, r.row_id])?;
            if let (true, Some(g)) = (meta.config.fifo, group) {
                self.refresh_group(meta.id, &g)?;
            }
            if *timeout == 0 {
                self.wake.push(meta.notify.clone());
            }
            results.push(Ok(()));
        }
        Ok(Ok(results))
    }

    // ---- maintenance and move tasks -----------------------------------------------------

    fn maintain(&mut self, now: i64) -> rusqlite::Result<()> {
        let queues: Vec<Arc<QueueMeta>> = self.catalog.by_id.values().cloned().collect();
        for meta in queues {
            let cutoff = now - meta.config.message_retention_period as i64 * 1000;
            let payloads: Vec<i64> = self
                .conn
                .prepare_cached(
                    "DELETE FROM messages WHERE id IN \
                     (SELECT id FROM messages WHERE queue_id = ?1 AND retain_from <= ?2 LIMIT ?3) \
                     RETURNING payload_id",
                )?
                .query_map(params![meta.id, cutoff, SWEEP_LIMIT], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            for payload_id in &payloads {
                self.conn
                    .prepare_cached("DELETE FROM payloads WHERE id = ?1")?
                    .execute([payload_id])?;
            }
            let removed = payloads.len();
            if removed > 0 && meta.config.fifo {
                self.fifo.remove(&meta.id);
            }
        }
        self.conn
            .prepare_cached("DELETE FROM dedup WHERE expires_at <= ?1")?
            .execute([now])?;
        self.advance_move_tasks(now)
    }

    fn start_move(
        &mut self,
        source_arn: &str,
        destination_arn: Option<String>,
        rate: Option<u32>,
        now: i64,
    ) -> rusqlite::Result<QueueResult<String>> {
        let checked = (|| {
            let source = self.catalog.by_arn(source_arn).ok_or_else(|| {
                QueueError::ResourceNotFound(format!(
                    "the source queue {source_arn} does not exist"
                ))
            })?;
            if self.catalog.dead_letter_sources(source_arn).is_empty() {
                return Err(QueueError::invalid(format!(
                    "{} is not the dead-letter queue of any queue; message move tasks redrive dead-letter queues only",
                    source.name
                )));
            }
            if let Some(dest) = &destination_arn {
                let d = self.catalog.by_arn(dest).ok_or_else(|| {
                    QueueError::ResourceNotFound(format!(
                        "the destination queue {dest} does not exist"
                    ))
                })?;
                if d.config.fifo != source.config.fifo {
                    return Err(QueueError::invalid(
                        "messages can only move between queues of the same type (FIFO to FIFO, standard to standard)",
                    ));
                }
            }
            if let Some(r) = rate {
                if !(1..=500).contains(&r) {
                    return Err(QueueError::invalid(format!(
                        "MaxNumberOfMessagesPerSecond {r} is out of range: use 1 to 500"
                    )));
                }
            }
            Ok(source)
        })();
        let source = match checked {
            Ok(s) => s,
            Err(e) => return Ok(Err(e)),
        };
        let running: bool = self.conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM move_tasks WHERE source_queue_id = ?1 AND status IN ('RUNNING', 'CANCELLING'))",
            [source.id],
            |r| r.get(0),
        )?;
        if running {
            return Ok(Err(QueueError::UnsupportedOperation(format!(
                "{} already has a running message move task; cancel it or wait for it to finish",
                source.name
            ))));
        }
        let (boundary, to_move): (i64, i64) = self.conn.query_row(
            "SELECT COALESCE(MAX(id), 0), COUNT(*) FROM messages WHERE queue_id = ?1",
            [source.id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        let handle = uuid::Uuid::new_v4().to_string();
        self.conn.execute(
            "INSERT INTO move_tasks (handle, source_queue_id, source_arn, destination_arn, max_per_second, status, \
             moved, to_move, boundary_id, started_at) VALUES (?1, ?2, ?3, ?4, ?5, 'RUNNING', 0, ?6, ?7, ?8)",
            params![handle, source.id, source.arn, destination_arn, rate, to_move, boundary, now],
        )?;
        Ok(Ok(handle))
    }

    fn cancel_move(&mut self, handle: &str) -> rusqlite::Result<QueueResult<u64>> {
        let task: Option<(String, i64)> = self
            .conn
            .query_row(
                "SELECT status, moved FROM move_tasks WHERE handle = ?1",
                [handle],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        match task {
            None => Ok(Err(QueueError::ResourceNotFound(format!(
                "no message move task has the handle {handle:?}"
            )))),
            Some((status, _)) if status != MoveTaskStatus::Running.as_str() => {
                Ok(Err(QueueError::UnsupportedOperation(format!(
                    "the message move task is {status}, so it cannot be cancelled"
                ))))
            }
            Some((_, moved)) => {
                self.conn.execute(
                    "UPDATE move_tasks SET status = 'CANCELLING' WHERE handle = ?1",
                    [handle],
                )?;
                Ok(Ok(moved as u64))
            }
        }
    }

    fn finish_task(
        &self,
        handle: &str,
        status: MoveTaskStatus,
        moved: i64,
        reason: Option<&str>,
    ) -> rusqlite::Result<()> {
        self.conn.execute(
            "UPDATE move_tasks SET status = ?1, moved = ?2, failure_reason = ?3 WHERE handle = ?4",
            params![status.as_str(), moved, reason, handle],
        )?;
        Ok(())
    }

    fn advance_move_tasks(&mut self, now: i64) -> rusqlite::Result<()> {
        type TaskRow = (
            String,
            i64,
            Option<String>,
            Option<i64>,
            String,
            i64,
            i64,
            i64,
        );
        let tasks: Vec<TaskRow> = self
            .conn
            .prepare_cached(
                "SELECT handle, source_queue_id, destination_arn, max_per_second, status, moved, boundary_id, started_at \
                 FROM move_tasks WHERE status IN ('RUNNING', 'CANCELLING')",
            )?
            .query_map([], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?))
            })?
            .collect::<rusqlite::Result<_>>()?;
        for (handle, source_id, destination_arn, rate, status, mut moved, boundary, started_at) in
            tasks
        {
            if status == MoveTaskStatus::Cancelling.as_str() {
                self.finish_task(&handle, MoveTaskStatus::Cancelled, moved, None)?;
                continue;
            }
            let Some(source) = self.catalog.by_id.get(&source_id).cloned() else {
                self.finish_task(
                    &handle,
                    MoveTaskStatus::Failed,
                    moved,
                    Some("the source queue was deleted"),
                )?;
                continue;
            };
            let allowed = match rate {
                Some(r) => (r * (now - started_at).max(0) / 1000 - moved).max(0),
                None => DEFAULT_MOVE_RATE * (now - started_at).max(1000) / 1000 - moved,
            }
            .clamp(0, MOVE_STEP_LIMIT);
            // (row id, group, dead-letter source, retention start, payload id)
            type MoveRow = (i64, Option<String>, Option<String>, i64, i64);
            let rows: Vec<MoveRow> = self
                .conn
                .prepare_cached(
                    "SELECT m.id, m.group_id, p.dlq_source_arn, m.retain_from, m.payload_id \
                     FROM messages m JOIN payloads p ON p.id = m.payload_id \
                     WHERE m.queue_id = ?1 AND m.id <= ?2 AND m.visible_at <= ?3 ORDER BY m.id LIMIT ?4",
                )?
                .query_map(params![source.id, boundary, now, allowed], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
                })?
                .collect::<rusqlite::Result<_>>()?;
            let mut failed = None;
            for (row_id, group, origin, retain_from, payload_id) in rows {
                let target = destination_arn.as_deref().or(origin.as_deref());
                let Some(dest) = target.and_then(|arn| self.catalog.by_arn(arn)) else {
                    failed = Some(match target {
                        Some(arn) => format!("the destination queue {arn} no longer exists"),
                        None => "a message has no source queue to return to; give a DestinationArn"
                            .to_string(),
                    });
                    break;
                };
                let retain_from = if dest.config.fifo { now } else { retain_from };
                let moving = Relocation {
                    row_id,
                    payload_id,
                    group_id: group.as_deref(),
                    retain_from,
                    receive_count: 0,
                    first_received_at: None,
                    dlq_source_arn: None,
                };
                self.move_row(&dest, moving, now)?;
                if let Some(g) = &group {
                    self.refresh_group(source.id, g)?;
                }
                moved += 1;
            }
            if let Some(reason) = failed {
                self.finish_task(&handle, MoveTaskStatus::Failed, moved, Some(&reason))?;
                continue;
            }
            let remaining: bool = self.conn.query_row(
                "SELECT EXISTS (SELECT 1 FROM messages WHERE queue_id = ?1 AND id <= ?2)",
                params![source.id, boundary],
                |r| r.get(0),
            )?;
            if remaining {
                self.conn.execute(
                    "UPDATE move_tasks SET moved = ?1 WHERE handle = ?2",
                    params![moved, handle],
                )?;
            } else {
                self.finish_task(&handle, MoveTaskStatus::Completed, moved, None)?;
            }
        }
        Ok(())
    }
}

fn to_json<T: serde::Serialize>(value: &T) -> String {
    // Serialising our own plain structs and maps cannot fail.
    serde_json::to_string(value).unwrap_or_else(|_| "null".to_string())
}

fn corrupt_json(what: &str, e: serde_json::Error) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        0,
        rusqlite::types::Type::Text,
        format!("{what}: {e}").into(),
    )
}
