//! `ReceiveRequestAttemptId` on FIFO queues: a receive retried with the same attempt id within
//! five minutes gets the messages of the first attempt back instead of the next ones, so a
//! response lost on the network does not leave a group blocked behind invisible messages.
//!
//! Kept in memory: after a restart a retry simply receives afresh, which SQS also allows once
//! the deduplication interval has passed; nothing acknowledged depends on it.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::model::ReceivedMessage;

/// How long an attempt id is remembered, as in SQS.
pub const ATTEMPT_WINDOW_MILLIS: i64 = 5 * 60 * 1000;

/// Queue id and attempt id.
type AttemptKey = (i64, String);
/// When the attempt received, and what.
type Attempt = (i64, Vec<ReceivedMessage>);

#[derive(Default)]
pub struct ReceiveAttempts {
    attempts: Mutex<HashMap<AttemptKey, Attempt>>,
}

impl ReceiveAttempts {
    /// The messages an earlier attempt with this id received, if it is recent.
    pub fn recall(
        &self,
        queue_id: i64,
        attempt_id: &str,
        now: i64,
    ) -> Option<Vec<ReceivedMessage>> {
        let attempts = self.attempts.lock().unwrap_or_else(|p| p.into_inner());
        attempts
            .get(&(queue_id, attempt_id.to_string()))
            .filter(|(at, _)| now - at < ATTEMPT_WINDOW_MILLIS)
            .map(|(_, messages)| messages.clone())
    }

    pub fn remember(
        &self,
        queue_id: i64,
        attempt_id: &str,
        now: i64,
        messages: &[ReceivedMessage],
    ) {
        let mut attempts = self.attempts.lock().unwrap_or_else(|p| p.into_inner());
        attempts.retain(|_, (at, _)| now - *at < ATTEMPT_WINDOW_MILLIS);
        attempts.insert((queue_id, attempt_id.to_string()), (now, messages.to_vec()));
    }
}
