//! `fail`: fails every message (as a retry), to exercise retries, backoff and the dead-letter
//! queue.

use conveyor_queue::ReceivedMessage;
use conveyor_worker::{Handler, HandlerError};

pub struct FailHandler;

#[async_trait::async_trait]
impl Handler for FailHandler {
    fn kind(&self) -> &'static str {
        "fail"
    }

    async fn handle(&self, _message: &ReceivedMessage) -> Result<serde_json::Value, HandlerError> {
        Err(HandlerError::retry(
            "the fail handler refuses every message (it exists to test the dead-letter path)",
        ))
    }
}
