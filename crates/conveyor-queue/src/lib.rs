//! Conveyor's queue: the `Queue` trait with Amazon SQS semantics, and `EmbeddedEngine`, which
//! implements it durably on SQLite.
//!
//! The trait speaks in queue names and SQS's own shapes, so the SQS wire protocol, the workers
//! and the HTTP API all use it unchanged whichever implementation runs.

use std::collections::BTreeMap;

pub mod arn;
pub mod attributes;
pub mod clock;
#[cfg(feature = "conformance")]
pub mod conformance;
pub mod embedded;
pub mod ensure;
pub mod error;
pub mod idempotency;
pub mod model;
mod moving;
pub mod policy;
pub mod validate;

pub use arn::Location;
pub use attributes::QueueConfig;
pub use clock::{Clock, ManualClock, SystemClock};
pub use embedded::{Durability, EmbeddedEngine, EngineOptions, OpenError};
pub use ensure::{ensure_queue, Ensured};
pub use error::{BatchAction, QueueError, QueueResult};
pub use model::*;

/// The queue tag by which `conveyor queue pause` stops a queue's workers taking messages, in
/// every process that serves it: the tag lives with the queue (on the engine or on SQS), so the
/// API that sets it and the workers that read it need share nothing else.
pub const PAUSED_TAG: &str = "conveyor:paused";

/// Everything workers, the HTTP API and the SQS protocol need from a queue service.
#[async_trait::async_trait]
pub trait Queue: Send + Sync {
    /// Create a queue, or return the existing one when every given attribute matches it.
    async fn create_queue(
        &self,
        name: &str,
        attributes: &BTreeMap<String, String>,
        tags: &BTreeMap<String, String>,
    ) -> QueueResult<QueueInfo>;
    async fn get_queue(&self, name: &str) -> QueueResult<QueueInfo>;
    /// Queues whose names start with `prefix`, in name order, `max_results` (1–1000) at a time.
    async fn list_queues(
        &self,
        prefix: Option<&str>,
        max_results: Option<u32>,
        next_token: Option<&str>,
    ) -> QueueResult<Page<QueueInfo>>;
    async fn delete_queue(&self, name: &str) -> QueueResult<()>;
    /// Every attribute, settable and computed, as SQS prints them.
    async fn get_attributes(&self, name: &str) -> QueueResult<BTreeMap<String, String>>;
    async fn set_attributes(
        &self,
        name: &str,
        attributes: &BTreeMap<String, String>,
    ) -> QueueResult<()>;
    /// Visible, in-flight and delayed counts and the age of the oldest message.
    async fn counts(&self, name: &str) -> QueueResult<QueueCounts>;

    /// Whether [`Queue::locate`] can find messages. SQS cannot look a message up by id, so job
    /// status there is read from what the workers store instead.
    fn locates_messages(&self) -> bool {
        false
    }
    /// The message with this id, wherever it is now; `None` once it is deleted (or when the
    /// service cannot say, see [`Queue::locates_messages`]).
    async fn locate(&self, _message_id: &str) -> QueueResult<Option<Located>> {
        Ok(None)
    }

    /// Up to `max` (1–100) messages of the queue in order, after `after` (a page's `next`),
    /// whatever their state, without receiving them: the dead-letter browser. Where the service
    /// cannot look without receiving (SQS), an implementation may receive with a visibility
    /// timeout of 0 and say so in `counted_as_receive`, or refuse.
    async fn peek(&self, queue: &str, max: u32, after: Option<&str>) -> QueueResult<PeekPage> {
        let _ = (queue, max, after);
        Err(QueueError::UnsupportedOperation(
            "this queue service cannot show messages without receiving them".into(),
        ))
    }

    /// Move the messages with these ids (visible ones) from `queue` to `destination`: a redrive
    /// of chosen dead letters. Each arrives as a fresh message (receive count 0) keeping its
    /// body and attributes. This default receives until it has seen the queue (at most `max_scan`
    /// messages), sends each chosen one on and deletes it, and hands the others straight back.
    async fn move_messages(
        &self,
        queue: &str,
        message_ids: &[String],
        destination: &str,
        max_scan: usize,
    ) -> QueueResult<MoveOutcome> {
        crate::moving::by_receiving(self, queue, message_ids, destination, max_scan).await
    }

    async fn send(&self, queue: &str, message: SendMessage) -> QueueResult<SendOutcome>;
    async fn send_batch(
        &self,
        queue: &str,
        entries: Vec<BatchEntry<SendMessage>>,
    ) -> QueueResult<BatchOutcome<SendOutcome>>;
    /// Up to `max_messages`; with a wait time, returns as soon as any message is available.
    async fn receive(
        &self,
        queue: &str,
        request: ReceiveRequest,
    ) -> QueueResult<Vec<ReceivedMessage>>;
    async fn delete(&self, queue: &str, receipt_handle: &str) -> QueueResult<()>;
    async fn delete_batch(
        &self,
        queue: &str,
        entries: Vec<BatchEntry<String>>,
    ) -> QueueResult<BatchOutcome<()>>;
    async fn change_visibility(
        &self,
        queue: &str,
        receipt_handle: &str,
        timeout_seconds: u32,
    ) -> QueueResult<()>;
    async fn change_visibility_batch(
        &self,
        queue: &str,
        entries: Vec<BatchEntry<(String, u32)>>,
    ) -> QueueResult<BatchOutcome<()>>;
    async fn purge(&self, queue: &str) -> QueueResult<()>;

    async fn tag(&self, queue: &str, tags: &BTreeMap<String, String>) -> QueueResult<()>;
    async fn untag(&self, queue: &str, keys: &[String]) -> QueueResult<()>;
    async fn list_tags(&self, queue: &str) -> QueueResult<BTreeMap<String, String>>;

    /// Queues whose redrive policy names `queue` as their dead-letter queue.
    async fn list_dead_letter_source_queues(
        &self,
        queue: &str,
        max_results: Option<u32>,
        next_token: Option<&str>,
    ) -> QueueResult<Page<QueueInfo>>;
    /// Move a dead-letter queue's messages back to their sources (or to `destination_arn`).
    async fn start_message_move_task(
        &self,
        source_arn: &str,
        destination_arn: Option<&str>,
        max_messages_per_second: Option<u32>,
    ) -> QueueResult<String>;
    /// The most recent tasks of a source queue, newest first (1–10, default 1).
    async fn list_message_move_tasks(
        &self,
        source_arn: &str,
        max_results: Option<u32>,
    ) -> QueueResult<Vec<MoveTask>>;
    /// Cancel a running task; returns how many messages it had moved.
    async fn cancel_message_move_task(&self, task_handle: &str) -> QueueResult<u64>;

    /// Add a statement labelled `label` to the queue's `Policy`, granting `actions` to the
    /// 12-digit `accounts`.
    async fn add_permission(
        &self,
        queue: &str,
        label: &str,
        accounts: &[String],
        actions: &[String],
    ) -> QueueResult<()>;
    /// Remove the `Policy` statement labelled `label`.
    async fn remove_permission(&self, queue: &str, label: &str) -> QueueResult<()>;
}
