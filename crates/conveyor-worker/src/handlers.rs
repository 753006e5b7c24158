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

/// POSTs each message as JSON to a URL; any answer other than 2xx, a network error or a timeout
/// is a failure (and so a retry, then the dead-letter queue).
pub struct HttpHandler {
    client: reqwest::Client,
    url: String,
}

/// How much of the endpoint's answer a result record keeps.
const KEPT_RESPONSE_BYTES: usize = 4_096;

impl HttpHandler {
    pub fn new(url: impl Into<String>, timeout: std::time::Duration) -> Result<Self, HandlerError> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .user_agent(concat!("conveyor/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| HandlerError(format!("cannot build the HTTP client: {e}")))?;
        Ok(HttpHandler {
            client,
            url: url.into(),
        })
    }
}

#[async_trait::async_trait]
impl Handler for HttpHandler {
    fn kind(&self) -> &'static str {
        "http"
    }

    async fn handle(&self, message: &ReceivedMessage) -> Result<serde_json::Value, HandlerError> {
        let body = serde_json::from_str::<serde_json::Value>(&message.body)
            .unwrap_or_else(|_| serde_json::Value::String(message.body.clone()));
        let payload = serde_json::json!({
            "message_id": message.message_id,
            "body": body,
            "group_id": message.group_id,
            "receive_count": message.approximate_receive_count,
            "sent_timestamp": message.sent_timestamp,
        });
        let response = self
            .client
            .post(&self.url)
            .header("x-conveyor-message-id", &message.message_id)
            .json(&payload)
            .send()
            .await
            .map_err(|e| HandlerError(format!("POST {} failed: {e}", self.url)))?;
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        let kept: String = text.chars().take(KEPT_RESPONSE_BYTES).collect();
        if !status.is_success() {
            return Err(HandlerError(format!(
                "POST {} answered {status}: {kept}",
                self.url
            )));
        }
        let answer = serde_json::from_str::<serde_json::Value>(&kept)
            .unwrap_or(serde_json::Value::String(kept));
        Ok(serde_json::json!({ "status": status.as_u16(), "response": answer }))
    }
}
