//! `http`: POSTs each message as JSON to a URL. A 2xx answer is success; 429 and 5xx, network
//! errors and timeouts are retried (after the answer's `Retry-After` when it gives one); any
//! other 4xx is rejected, since sending the same request again cannot change it.

use std::time::Duration;

use conveyor_config::HttpConfig;
use conveyor_queue::ReceivedMessage;
use conveyor_worker::{Handler, HandlerError};

use crate::BuildError;

pub struct HttpHandler {
    client: reqwest::Client,
    url: String,
}

/// How much of the endpoint's answer a result record keeps.
const KEPT_RESPONSE_BYTES: usize = 4_096;

impl HttpHandler {
    pub fn new(config: &HttpConfig) -> Result<Self, BuildError> {
        let client = reqwest::Client::builder()
            .timeout(config.timeout.0)
            .user_agent(concat!("conveyor/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| BuildError::Setup {
                kind: "http",
                detail: format!("cannot build the HTTP client: {e}"),
            })?;
        Ok(HttpHandler {
            client,
            url: config.url.clone(),
        })
    }
}

/// `Retry-After` in seconds (the HTTP-date form is rare from APIs and is not read).
fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
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
            .map_err(|e| HandlerError::retry(format!("POST {} failed: {e}", self.url)))?;
        let status = response.status();
        let wait = retry_after(response.headers());
        let text = response.text().await.unwrap_or_default();
        let kept: String = text.chars().take(KEPT_RESPONSE_BYTES).collect();
        if !status.is_success() {
            let reason = format!("POST {} answered {status}: {kept}", self.url);
            return Err(match (status.as_u16(), wait) {
                (429 | 500..=599, Some(after)) => HandlerError::retry_after(reason, after),
                (429 | 500..=599, None) => HandlerError::retry(reason),
                // 408 is the server giving up on a slow request: worth another try.
                (408, _) => HandlerError::retry(reason),
                _ => HandlerError::reject(reason),
            });
        }
        let answer = serde_json::from_str::<serde_json::Value>(&kept)
            .unwrap_or(serde_json::Value::String(kept));
        Ok(serde_json::json!({ "status": status.as_u16(), "response": answer }))
    }
}
