//! What the workers leave behind about a message besides its result, so its job status can be
//! told after the queue has forgotten it: the step checkpoint, and a *job mark*,
//! `_conveyor/jobs/{message_id}.json`, written when an attempt fails (and, where the queue
//! service cannot look messages up by id, as on SQS, when one starts). The happy path on the
//! embedded engine writes no mark: its result and the engine itself say everything.

use serde::{Deserialize, Serialize};

use crate::partition::segment;
use crate::StoreError;

/// Where a delivery of a message stood when its worker last wrote about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MarkState {
    /// A worker received it and is running its handler.
    InFlight,
    /// The handler failed and the message will be delivered again.
    Retrying,
    /// The handler rejected it and a copy went to the dead-letter queue. (Rejected with no
    /// dead-letter queue, it has a `rejected` result, which says so.)
    DeadLettered,
}

/// The job mark. `sent_timestamp` and `queue` locate the result record, so the mark is also
/// the way from a message id to its result where nothing else remembers the send hour.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobMark {
    pub message_id: String,
    pub queue: String,
    pub sent_timestamp: i64,
    pub receive_count: u32,
    pub state: MarkState,
    /// The handler's error text, for `Retrying` and `DeadLettered`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// When the next delivery is due (epoch milliseconds), for `Retrying`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_at: Option<i64>,
    /// Where the rejected copy went, for `DeadLettered`: the queue and the copy's message id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dead_letter_queue: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dead_letter_message_id: Option<String>,
    /// On the mark of a rejected message's dead-letter copy: the queue and id it came from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_queue: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_message_id: Option<String>,
    /// When the mark was written (epoch milliseconds).
    pub at: i64,
}

/// How one delivery of a message ended, when it did not end in a result: the message's
/// timeline is its sending, these, and its result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttemptOutcome {
    /// The handler failed; the message was made visible again later (a visibility change).
    Failed,
    /// The handler rejected it; a copy went to the dead-letter queue.
    DeadLettered,
    /// The worker stopped before the handler finished and handed the message back.
    Released,
}

/// One delivery that did not end in a result, kept at [`attempt_key`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttemptRecord {
    pub message_id: String,
    pub queue: String,
    pub receive_count: u32,
    /// When the worker started and stopped on it (epoch milliseconds).
    pub started_at: i64,
    pub finished_at: i64,
    pub outcome: AttemptOutcome,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// When the message became (or becomes) visible again, for `Failed` and `Released`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub visible_again_at: Option<i64>,
    /// The dead-letter copy, for `DeadLettered`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dead_letter_queue: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dead_letter_message_id: Option<String>,
}

/// `_conveyor/jobs/{message_id}/attempts/{receive count, 5 digits}.json`: written once per
/// failed delivery, never rewritten, so no read-modify-write races a redelivery; listing the
/// prefix gives them in order.
pub fn attempt_key(message_id: &str, receive_count: u32) -> Result<String, StoreError> {
    segment("the message id", message_id)?;
    Ok(format!(
        "{}{receive_count:05}.json",
        attempts_prefix(message_id)?
    ))
}

/// The prefix under which a message's [`AttemptRecord`]s are kept.
pub fn attempts_prefix(message_id: &str) -> Result<String, StoreError> {
    segment("the message id", message_id)?;
    Ok(format!("_conveyor/jobs/{message_id}/attempts/"))
}

/// `_conveyor/jobs/{message_id}.json`. Message ids are unique across queues (UUIDs on both
/// backends), so the key needs no queue and a lookup by id alone finds it.
pub fn mark_key(message_id: &str) -> Result<String, StoreError> {
    segment("the message id", message_id)?;
    Ok(format!("_conveyor/jobs/{message_id}.json"))
}

/// `_conveyor/checkpoints/{queue}/{message_id}.json`: the `steps` handler's outputs so far.
pub fn checkpoint_key(queue: &str, message_id: &str) -> Result<String, StoreError> {
    segment("the queue name", queue)?;
    segment("the message id", message_id)?;
    Ok(format!("_conveyor/checkpoints/{queue}/{message_id}.json"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_take_plain_ids_only() {
        assert_eq!(
            mark_key("0192f0c4-7a1e-7c3b-9c1a-1f2e3d4c5b6a").unwrap(),
            "_conveyor/jobs/0192f0c4-7a1e-7c3b-9c1a-1f2e3d4c5b6a.json"
        );
        assert!(mark_key("../results/x").is_err());
        assert!(checkpoint_key("feedback", "a/b").is_err());
        assert_eq!(
            attempt_key("m-1", 3).unwrap(),
            "_conveyor/jobs/m-1/attempts/00003.json"
        );
        assert!(attempt_key("..", 1).is_err());
        assert_eq!(
            checkpoint_key("feedback", "m-1").unwrap(),
            "_conveyor/checkpoints/feedback/m-1.json"
        );
    }

    #[test]
    fn a_mark_reads_back_as_written_and_leaves_out_what_it_lacks() {
        let mark = JobMark {
            message_id: "m-1".into(),
            queue: "emails".into(),
            sent_timestamp: 1_764_590_000_000,
            receive_count: 2,
            state: MarkState::Retrying,
            error: Some("429 Too Many Requests".into()),
            retry_at: Some(1_764_590_002_000),
            dead_letter_queue: None,
            dead_letter_message_id: None,
            source_queue: None,
            source_message_id: None,
            at: 1_764_590_000_500,
        };
        let text = serde_json::to_string(&mark).unwrap();
        assert!(text.contains(r#""state":"retrying""#), "{text}");
        assert!(!text.contains("dead_letter"), "{text}");
        assert_eq!(serde_json::from_str::<JobMark>(&text).unwrap(), mark);
    }
}
