//! The writer thread: the only code that changes the database.
//!
//! Callers send commands over a channel; the thread takes every command waiting (up to
//! `MAX_GROUP`), runs them in one transaction and commits. Under `Durability::Full` the sync
//! thread (`sync.rs`) then fsyncs the WAL and only then answers each caller, while this thread
//! goes on with the next group. One fsync is thus shared by every caller whose group committed
//! while the previous one ran: that is the group commit that lets durable sends scale with
//! concurrency.
//!
//! Handlers return `rusqlite::Result<QueueResult<T>>`: the outer error is a storage failure that
//! aborts the whole transaction (every caller in the group is told, nothing is half-applied and
//! the in-memory caches are rebuilt); the inner one is the caller's own refusal, decided before
//! the handler writes anything.

/// `?` for a caller's own refusal inside a handler: answer `Ok(Err(e))`. Refusals are decided
/// before a handler writes anything, so the transaction stays usable for the rest of the group.
macro_rules! refuse {
    ($result:expr) => {
        match $result {
            Ok(value) => value,
            Err(refusal) => return Ok(Err(refusal)),
        }
    };
}

mod keys;
mod maintenance;
mod messages;
mod queues;
mod sync;

use std::collections::{BTreeMap, HashMap};
use std::sync::mpsc::Receiver;
use std::sync::{Arc, RwLock};

use rusqlite::Connection;
use tokio::sync::{oneshot, Notify};

use super::catalog::{Catalog, QueueMeta};
use super::fair::Tenants;
use super::fifo::{QueueGroups, QueuedRow};
use super::leases::Leases;
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
/// Receipts deleted by one set of statements (an SQS batch holds at most ten); each size up to
/// it is one more cached statement.
const DELETE_CHUNK: usize = 10;

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
    /// Chosen visible messages to another queue (a selected redrive).
    MoveSelected {
        source: Arc<QueueMeta>,
        destination: Arc<QueueMeta>,
        ids: Vec<String>,
        reply: Reply<crate::model::MoveOutcome>,
    },
    Maintain {
        reply: Option<Reply<()>>,
    },
    ClaimKey {
        key: String,
        fingerprint: String,
        times: crate::idempotency::KeyTimes,
        reply: Reply<crate::idempotency::Claim>,
    },
    SettleKey {
        key: String,
        answer: Option<String>,
        reply: Reply<()>,
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
/// The same join, made to walk one group in order: given a visibility bound as well, SQLite
/// otherwise prefers the visibility index and scans every group's visible messages.
const ROW_SOURCE_BY_GROUP: &str =
    "messages m INDEXED BY messages_by_group JOIN payloads p ON p.id = m.payload_id";

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
    /// The queue the message leaves.
    from_queue: i64,
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

/// SQS allows 120,000 in-flight messages per queue (standard and, since 2024, FIFO).
pub const DEFAULT_MAX_IN_FLIGHT: u64 = 120_000;

pub struct Writer {
    conn: Connection,
    catalog: Catalog,
    published: Arc<RwLock<Arc<Catalog>>>,
    clock: Arc<dyn Clock>,
    location: Location,
    /// SQS's cap on received-but-not-deleted messages per queue.
    pub(super) max_in_flight: u64,
    fifo: HashMap<i64, QueueGroups>,
    /// In-flight messages per queue, loaded on a queue's first receive (see `leases`).
    leases: HashMap<i64, Leases>,
    /// Stored messages per group of each standard queue, loaded with its leases (see `fair`).
    tenants: HashMap<i64, Tenants>,
    next_id: i64,
    ids_used: bool,
    catalog_changed: bool,
    wake: Vec<Arc<Notify>>,
    /// Under `Durability::Full`, the thread that fsyncs and then answers (see `sync`).
    syncer: Option<sync::Syncer>,
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
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
            fifo: HashMap::new(),
            leases: HashMap::new(),
            tenants: HashMap::new(),
            next_id: 1,
            ids_used: false,
            catalog_changed: false,
            wake: Vec::new(),
            syncer: None,
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
        self.leases.clear();
        self.tenants.clear();
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

    /// Answer through a sync thread that fsyncs the WAL of the database at `db` first (the
    /// connection commits with `synchronous=NORMAL`); returns that thread.
    pub fn sync_before_answering(
        &mut self,
        db: &std::path::Path,
    ) -> std::io::Result<std::thread::JoinHandle<()>> {
        let (syncer, thread) = sync::start(db)?;
        self.syncer = Some(syncer);
        Ok(thread)
    }

    /// Serve commands until every sender is gone (or an fsync failed).
    pub fn run(mut self, commands: Receiver<Command>) {
        while let Ok(first) = commands.recv() {
            if let Some(s) = &self.syncer {
                if s.has_failed() {
                    // Dropping the channel answers every caller, now and later, that the
                    // writer stopped; the sync thread said why.
                    return;
                }
            }
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
                let group = sync::Committed {
                    completions,
                    wake: std::mem::take(&mut self.wake),
                };
                match &self.syncer {
                    Some(s) => s.hand_over(group),
                    // Without a sync thread the commit itself was as durable as configured.
                    None => group.answer(),
                }
            }
            Some(e) => {
                let _ = self.conn.execute_batch("ROLLBACK");
                self.wake.clear();
                let error = if is_out_of_space(&e) {
                    QueueError::Unavailable(
                        "the disk holding the queue database is full: nothing of this request was stored; free space and retry".into(),
                    )
                } else {
                    QueueError::Internal(format!(
                        "the database write failed and was rolled back ({e}); nothing of this request was stored, retry it"
                    ))
                };
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
            Command::MoveSelected {
                source,
                destination,
                ids,
                reply,
            } => complete(reply, self.move_selected(&source, &destination, &ids, now)?),
            Command::ClaimKey {
                key,
                fingerprint,
                times,
                reply,
            } => complete(reply, Ok(self.claim_key(&key, &fingerprint, times, now)?)),
            Command::SettleKey { key, answer, reply } => {
                complete(reply, Ok(self.settle_key(&key, answer.as_deref())?))
            }
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

    /// Drop every in-memory view of a queue's messages (FIFO groups, leases, tenants) after a
    /// change too broad to follow row by row; the next receive reloads them from the table.
    fn forget_messages_of(&mut self, queue_id: i64) {
        self.fifo.remove(&queue_id);
        self.leases.remove(&queue_id);
        self.tenants.remove(&queue_id);
    }

    fn replace_meta(&mut self, meta: QueueMeta) {
        self.catalog.insert(meta);
        self.catalog_changed = true;
    }
}

/// SQLite's "database or disk is full".
fn is_out_of_space(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(failure, _) if failure.code == rusqlite::ErrorCode::DiskFull)
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
