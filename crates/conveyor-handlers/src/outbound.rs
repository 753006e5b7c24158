//! Calls to other services, shared by the handlers that make them (`http`, `zendesk`,
//! `discord`): one client per handler, one reading of an answer (2xx is success; 408, 429 and
//! 5xx retry, after the answer's `Retry-After` or JSON `retry_after` when it gives one; any
//! other 4xx rejects, since the same request cannot succeed later), and dry-run: the exact
//! request that would go out, described with every secret masked, instead of sending it.

use std::time::Duration;

use conveyor_worker::HandlerError;
use serde_json::{json, Value};

use crate::{BuildError, HandlerEnv};

/// How much of an answer a result record or an error keeps.
const KEPT_BYTES: usize = 4_096;

pub(crate) struct Outbound {
    client: reqwest::Client,
    dry_run: bool,
    /// Values never shown: the handler's secrets.
    hidden: Vec<String>,
}

/// What a call came back with.
pub(crate) enum Reply {
    /// A 2xx answer: its status and body (JSON when it is JSON).
    Answered { status: u16, body: Value },
    /// Dry run: the request, described.
    DryRun(Value),
}

impl Outbound {
    pub(crate) fn new(
        kind: &'static str,
        timeout: Duration,
        dry_run: bool,
        hidden: Vec<String>,
    ) -> Result<Self, BuildError> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .user_agent(concat!("conveyor/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| BuildError::Setup {
                kind,
                detail: format!("cannot build the HTTP client: {e}"),
            })?;
        Ok(Outbound {
            client,
            dry_run,
            hidden: hidden.into_iter().filter(|h| !h.is_empty()).collect(),
        })
    }

    pub(crate) fn client(&self) -> &reqwest::Client {
        &self.client
    }

    pub(crate) fn dry_run(&self) -> bool {
        self.dry_run
    }

    /// `text` with every secret replaced by `****`.
    pub(crate) fn mask(&self, text: &str) -> String {
        self.hidden.iter().fold(text.to_string(), |t, secret| {
            t.replace(secret.as_str(), "****")
        })
    }

    /// The request as it would go out: method, URL, headers and body, secrets masked
    /// (credentials in `Authorization` too, which carry them encoded).
    pub(crate) fn describe(&self, request: &reqwest::Request) -> Value {
        let headers: serde_json::Map<String, Value> = request
            .headers()
            .iter()
            .map(|(name, value)| {
                let text = value.to_str().unwrap_or("<binary>");
                let shown = if name == reqwest::header::AUTHORIZATION {
                    match text.split_once(' ') {
                        Some((scheme, _)) => format!("{scheme} ****"),
                        None => "****".to_string(),
                    }
                } else {
                    self.mask(text)
                };
                (name.to_string(), Value::String(shown))
            })
            .collect();
        let body = request
            .body()
            .and_then(|b| b.as_bytes())
            .map(|bytes| {
                let text = self.mask(&String::from_utf8_lossy(bytes));
                serde_json::from_str::<Value>(&text).unwrap_or(Value::String(text))
            })
            .unwrap_or(Value::Null);
        json!({
            "method": request.method().as_str(),
            "url": self.mask(request.url().as_str()),
            "headers": headers,
            "body": body,
        })
    }

    /// Send `request` (or, in dry run, describe it) and read the answer.
    pub(crate) async fn send(
        &self,
        request: reqwest::Request,
        also_retry: &[u16],
    ) -> Result<Reply, HandlerError> {
        self.send_accepting(request, also_retry, &[]).await
    }

    /// As `send`, with `accepted` error statuses answered like a 2xx (a service's way of
    /// saying "done already", such as App Store Connect's 409 for an existing tester).
    pub(crate) async fn send_accepting(
        &self,
        request: reqwest::Request,
        also_retry: &[u16],
        accepted: &[u16],
    ) -> Result<Reply, HandlerError> {
        if self.dry_run {
            return Ok(Reply::DryRun(self.describe(&request)));
        }
        let what = format!("{} {}", request.method(), self.mask(request.url().as_str()));
        let response = self
            .client
            .execute(request)
            .await
            .map_err(|e| HandlerError::retry(self.mask(&format!("{what} failed: {e}"))))?;
        let status = response.status();
        let header_wait = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok()?.trim().parse::<f64>().ok());
        let text = response.text().await.unwrap_or_default();
        let kept: String = text.chars().take(KEPT_BYTES).collect();
        let body = serde_json::from_str::<Value>(&kept).unwrap_or(Value::String(kept.clone()));
        if status.is_success() || accepted.contains(&status.as_u16()) {
            return Ok(Reply::Answered {
                status: status.as_u16(),
                body,
            });
        }
        let code = status.as_u16();
        let reason = self.mask(&format!("{what} answered {status}: {}", kept.trim()));
        if code == 408 || code == 429 || status.is_server_error() || also_retry.contains(&code) {
            // Discord says how long in its JSON (seconds, with a fraction); others in the header.
            let wait = header_wait.or_else(|| body.get("retry_after").and_then(Value::as_f64));
            return Err(match wait.filter(|w| w.is_finite() && *w >= 0.0) {
                Some(seconds) => {
                    HandlerError::retry_after(reason, Duration::from_secs_f64(seconds))
                }
                None => HandlerError::retry(reason),
            });
        }
        Err(HandlerError::reject(reason))
    }
}

/// A message body as a template's context: the JSON object, or `{ "body": text }`.
pub(crate) fn context(message: &conveyor_queue::ReceivedMessage) -> Value {
    let mut value = match serde_json::from_str::<Value>(&message.body) {
        Ok(Value::Object(map)) => Value::Object(map),
        Ok(other) => json!({ "body": other }),
        Err(_) => json!({ "body": message.body }),
    };
    value["message_id"] = Value::String(message.message_id.clone());
    value
}

/// Render a template checked when the configuration was read.
pub(crate) fn render(template: &str, context: &Value) -> Result<String, HandlerError> {
    minijinja::Environment::new()
        .render_str(template, context)
        .map_err(|e| {
            HandlerError::reject(format!(
                "the template cannot be rendered for this message: {e}"
            ))
        })
}

/// A webhook URL held in the secret `name` (it carries the webhook's token): the URL and the
/// secret to mask. In a dry run without the secret, `stand_in` shows where the post would go.
pub(crate) fn webhook_from_secret(
    kind: &'static str,
    env: &HandlerEnv,
    name: &str,
    stand_in: &str,
) -> Result<(String, String), BuildError> {
    let secret = env.secret(kind, name)?;
    let webhook = if secret == "****" {
        stand_in.to_string()
    } else {
        secret.clone()
    };
    if !(webhook.starts_with("https://") || webhook.starts_with("http://")) {
        return Err(BuildError::Setup {
            kind,
            detail: format!("the secret {name} is not a webhook URL ({stand_in})"),
        });
    }
    Ok((webhook, secret))
}

/// A post's text: the template rendered over the body, else the body's `field`, else the body.
pub(crate) fn post_text(
    template: Option<&str>,
    field: &str,
    message: &conveyor_queue::ReceivedMessage,
    ctx: &Value,
) -> Result<String, HandlerError> {
    Ok(match template {
        Some(t) => render(t, ctx)?,
        None => match ctx.get(field).and_then(Value::as_str) {
            Some(text) => text.to_string(),
            None => message.body.clone(),
        },
    })
}
