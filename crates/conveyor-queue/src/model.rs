//! The values that cross the `Queue` trait: what callers send and what they get back. They mirror
//! the SQS API's shapes so the protocol layer maps them field for field.

use std::collections::BTreeMap;

/// A message attribute value, as SQS types it. `data_type` is `String`, `Number` or `Binary`,
/// optionally with a custom suffix (`Number.float`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MessageAttributeValue {
    pub data_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub string_value: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub binary_value: Option<Vec<u8>>,
}

impl MessageAttributeValue {
    pub fn string(value: impl Into<String>) -> Self {
        MessageAttributeValue {
            data_type: "String".into(),
            string_value: Some(value.into()),
            binary_value: None,
        }
    }

    pub fn number(value: impl Into<String>) -> Self {
        MessageAttributeValue {
            data_type: "Number".into(),
            string_value: Some(value.into()),
            binary_value: None,
        }
    }

    pub fn binary(value: Vec<u8>) -> Self {
        MessageAttributeValue {
            data_type: "Binary".into(),
            string_value: None,
            binary_value: Some(value),
        }
    }
}

/// Message attributes keyed by name; ordered so their encoding (and MD5) is deterministic.
pub type MessageAttributes = BTreeMap<String, MessageAttributeValue>;

/// One message to send.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SendMessage {
    pub body: String,
    /// Per-message delay in seconds (0–900); refused on FIFO queues.
    pub delay_seconds: Option<u32>,
    pub attributes: MessageAttributes,
    /// The `AWSTraceHeader` message system attribute, the only one a sender may set.
    pub trace_header: Option<String>,
    /// Required on FIFO queues, refused on standard ones.
    pub group_id: Option<String>,
    /// FIFO only; without it the queue must have content-based deduplication.
    pub deduplication_id: Option<String>,
}

impl SendMessage {
    pub fn new(body: impl Into<String>) -> Self {
        SendMessage {
            body: body.into(),
            ..Default::default()
        }
    }

    pub fn group(mut self, group_id: impl Into<String>) -> Self {
        self.group_id = Some(group_id.into());
        self
    }

    pub fn dedup(mut self, deduplication_id: impl Into<String>) -> Self {
        self.deduplication_id = Some(deduplication_id.into());
        self
    }

    pub fn delay(mut self, seconds: u32) -> Self {
        self.delay_seconds = Some(seconds);
        self
    }

    pub fn attribute(mut self, name: impl Into<String>, value: MessageAttributeValue) -> Self {
        self.attributes.insert(name.into(), value);
        self
    }
}

/// What a successful send returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendOutcome {
    pub message_id: String,
    /// FIFO only: strictly increasing per queue, 20 decimal digits as SQS formats it.
    pub sequence_number: Option<String>,
}

/// A batch entry: the caller's id for it and its payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchEntry<T> {
    pub id: String,
    pub entry: T,
}

impl<T> BatchEntry<T> {
    /// Entries with ids `0`, `1`, … in order, for callers that need no ids of their own.
    pub fn numbered(entries: impl IntoIterator<Item = T>) -> Vec<BatchEntry<T>> {
        entries
            .into_iter()
            .enumerate()
            .map(|(i, entry)| BatchEntry {
                id: i.to_string(),
                entry,
            })
            .collect()
    }
}

/// Per-entry results of a batch call, as SQS reports them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchOutcome<T> {
    pub successful: Vec<(String, T)>,
    pub failed: Vec<(String, crate::QueueError)>,
}

impl<T> Default for BatchOutcome<T> {
    fn default() -> Self {
        BatchOutcome {
            successful: Vec::new(),
            failed: Vec::new(),
        }
    }
}

/// Options of one receive call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiveRequest {
    /// 1–10.
    pub max_messages: u32,
    /// Overrides the queue's visibility timeout for these messages (0–43,200 s).
    pub visibility_timeout: Option<u32>,
    /// Long-poll wait (0–20 s); `None` uses the queue's `ReceiveMessageWaitTimeSeconds`.
    pub wait_time_seconds: Option<u32>,
    /// FIFO only: `ReceiveRequestAttemptId`. A retry with the same id within five minutes gets
    /// the same messages and receipt handles back (if still in flight) instead of new ones.
    pub attempt_id: Option<String>,
}

impl Default for ReceiveRequest {
    fn default() -> Self {
        ReceiveRequest {
            max_messages: 1,
            visibility_timeout: None,
            wait_time_seconds: Some(0),
            attempt_id: None,
        }
    }
}

impl ReceiveRequest {
    pub fn up_to(max_messages: u32) -> Self {
        ReceiveRequest {
            max_messages,
            ..Default::default()
        }
    }

    pub fn visibility(mut self, seconds: u32) -> Self {
        self.visibility_timeout = Some(seconds);
        self
    }

    pub fn wait(mut self, seconds: u32) -> Self {
        self.wait_time_seconds = Some(seconds);
        self
    }
}

/// A delivered message with everything SQS can report about it; the protocol layer filters
/// by the attribute names the caller asked for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReceivedMessage {
    pub message_id: String,
    pub receipt_handle: String,
    pub body: String,
    pub attributes: MessageAttributes,
    pub sent_timestamp: i64,
    pub approximate_receive_count: u32,
    pub approximate_first_receive_timestamp: i64,
    pub sequence_number: Option<String>,
    pub group_id: Option<String>,
    pub deduplication_id: Option<String>,
    pub dead_letter_queue_source_arn: Option<String>,
    pub trace_header: Option<String>,
    /// Message id and sender id are SQS system attributes too; sender is the engine's account.
    pub sender_id: String,
}

/// A queue's identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueInfo {
    pub name: String,
    pub arn: String,
}

/// Where a message is now, found by its id (`Queue::locate`): which queue holds it (its own, or
/// the dead-letter queue it was moved to, which keeps the id) and how far its delivery went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    pub queue: String,
    pub sent_timestamp: i64,
    pub receive_count: u32,
    /// Received and not yet visible again.
    pub in_flight: bool,
    /// Set once the redrive policy moved it to a dead-letter queue: the queue it came from.
    pub dead_letter_source_arn: Option<String>,
}

/// Where a peeked message stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PeekState {
    Visible,
    InFlight,
    Delayed,
}

/// A message as [`crate::Queue::peek`] shows it, in queue order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeekedMessage {
    pub message_id: String,
    pub body: String,
    pub attributes: MessageAttributes,
    pub group_id: Option<String>,
    pub sent_timestamp: i64,
    /// Receives so far (on SQS, including the one the peek itself made).
    pub receive_count: u32,
    pub state: PeekState,
    /// Set when the redrive policy moved it here: the queue it came from.
    pub dead_letter_source_arn: Option<String>,
}

/// One page of a peek; `next` continues after its last message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PeekPage {
    pub messages: Vec<PeekedMessage>,
    pub next: Option<String>,
    /// True where peeking is a receive (SQS): each peeked message's receive count went up.
    pub counted_as_receive: bool,
}

/// What a selected redrive did: the ids moved, and those not found (gone, or in flight).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MoveOutcome {
    pub moved: Vec<String>,
    pub not_found: Vec<String>,
}

/// Live counts of a queue, all approximate in SQS's sense (they may lag concurrent calls).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueueCounts {
    /// Visible: available for retrieval now.
    pub visible: u64,
    /// Received and not yet deleted or visible again.
    pub in_flight: u64,
    /// Sent with a delay that has not elapsed.
    pub delayed: u64,
    /// Age in seconds of the oldest message in the queue, 0 when empty; `None` when the backend
    /// cannot tell (Amazon SQS publishes it only to CloudWatch, as `ApproximateAgeOfOldestMessage`).
    pub oldest_age_seconds: Option<u64>,
}

/// A page of names plus the token that continues it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_token: Option<String>,
}

/// Status of a message move task, with SQS's spellings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MoveTaskStatus {
    Running,
    Completed,
    Cancelling,
    Cancelled,
    Failed,
}

impl MoveTaskStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            MoveTaskStatus::Running => "RUNNING",
            MoveTaskStatus::Completed => "COMPLETED",
            MoveTaskStatus::Cancelling => "CANCELLING",
            MoveTaskStatus::Cancelled => "CANCELLED",
            MoveTaskStatus::Failed => "FAILED",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "RUNNING" => MoveTaskStatus::Running,
            "COMPLETED" => MoveTaskStatus::Completed,
            "CANCELLING" => MoveTaskStatus::Cancelling,
            "CANCELLED" => MoveTaskStatus::Cancelled,
            "FAILED" => MoveTaskStatus::Failed,
            _ => return None,
        })
    }
}

/// One message move task as `ListMessageMoveTasks` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MoveTask {
    /// Present only while the task is running (SQS hides it afterwards).
    pub task_handle: Option<String>,
    pub status: MoveTaskStatus,
    pub source_arn: String,
    pub destination_arn: Option<String>,
    pub max_messages_per_second: Option<u32>,
    pub approximate_number_of_messages_moved: u64,
    pub approximate_number_of_messages_to_move: u64,
    pub failure_reason: Option<String>,
    pub started_timestamp: i64,
}
