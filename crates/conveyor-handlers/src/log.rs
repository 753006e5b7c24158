//! `log`: records the message; its result object holds the message itself.

use conveyor_queue::ReceivedMessage;
use conveyor_worker::{Handler, HandlerError};

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
