//! `http`: POSTs each message as JSON to a URL, with the configured headers and, with a
//! `signing_secret`, an `X-Conveyor-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of
//! "<t>.<body>">` the receiver can check (the timestamp lets it refuse replays). A 2xx answer
//! is success; 408, 429, 5xx and `retry_statuses` are retried (after `Retry-After` when given);
//! any other 4xx is rejected.

use conveyor_config::HttpConfig;
use conveyor_queue::ReceivedMessage;
use conveyor_worker::{Handler, HandlerError};
use hmac::Mac;
use serde_json::json;

use crate::outbound::{Outbound, Reply};
use crate::{BuildError, HandlerEnv};

pub struct HttpHandler {
    out: Outbound,
    url: String,
    headers: Vec<(String, String)>,
    signing_key: Option<String>,
    retry_statuses: Vec<u16>,
}

impl HttpHandler {
    pub fn new(config: &HttpConfig, env: &HandlerEnv) -> Result<Self, BuildError> {
        let signing_key = match &config.signing_secret {
            Some(name) => Some(env.secret("http", name)?),
            None => None,
        };
        Ok(HttpHandler {
            out: Outbound::new(
                "http",
                config.timeout.0,
                env.dry_run,
                signing_key.iter().cloned().collect(),
            )?,
            url: config.url.clone(),
            headers: config
                .headers
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            signing_key,
            retry_statuses: config.retry_statuses.clone(),
        })
    }
}

/// `t=<unix seconds>,v1=<hex of HMAC-SHA256(key, "<t>.<body>")>`.
pub fn signature(key: &str, unix_seconds: u64, body: &[u8]) -> String {
    let mut mac =
        hmac::Hmac::<sha2::Sha256>::new_from_slice(key.as_bytes()).expect("HMAC takes any key");
    mac.update(unix_seconds.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("t={unix_seconds},v1={hex}")
}

#[async_trait::async_trait]
impl Handler for HttpHandler {
    fn kind(&self) -> &'static str {
        "http"
    }

    async fn handle(&self, message: &ReceivedMessage) -> Result<serde_json::Value, HandlerError> {
        let body = serde_json::from_str::<serde_json::Value>(&message.body)
            .unwrap_or_else(|_| serde_json::Value::String(message.body.clone()));
        let payload = serde_json::to_vec(&json!({
            "message_id": message.message_id,
            "body": body,
            "group_id": message.group_id,
            "receive_count": message.approximate_receive_count,
            "sent_timestamp": message.sent_timestamp,
        }))
        .unwrap_or_default();
        let mut request = self
            .out
            .client()
            .post(&self.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("x-conveyor-message-id", &message.message_id);
        for (name, value) in &self.headers {
            request = request.header(name, value);
        }
        if let Some(key) = &self.signing_key {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            request = request.header("x-conveyor-signature", signature(key, now, &payload));
        }
        let request = request.body(payload).build().map_err(|e| {
            HandlerError::reject(format!("cannot build the request to {}: {e}", self.url))
        })?;
        Ok(match self.out.send(request, &self.retry_statuses).await? {
            Reply::Answered { status, body } => json!({ "status": status, "response": body }),
            Reply::DryRun(request) => json!({ "dry_run": true, "request": request }),
        })
    }
}
