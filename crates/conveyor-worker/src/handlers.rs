//! The built-in handlers that need nothing outside the process.

use conveyor_queue::ReceivedMessage;

use crate::{Handler, HandlerError};

/// Records the message: its result object holds the message itself.
pub struct LogHandler;

#[async_trait::async_trait]
impl Handler for LogHandler {
    fn kind(&self) -> &'static str {
        "log"
    }

    async fn handle(&self, message: &ReceivedMessage) -> Result<serde_json::Value, HandlerError> {
        tracing::info!(message_id = %message.message_id, bytes = message.body.len(), "message recorded");
        Ok(serde_json::json!({ "recorded": true }))
    }
}

/// Fails every message: for exercising retries and the dead-letter queue.
pub struct FailHandler;

#[async_trait::async_trait]
impl Handler for FailHandler {
    fn kind(&self) -> &'static str {
        "fail"
    }

    async fn handle(&self, _message: &ReceivedMessage) -> Result<serde_json::Value, HandlerError> {
        Err(HandlerError(
            "the fail handler refuses every message (it exists to test the dead-letter path)"
                .into(),
        ))
    }
}
