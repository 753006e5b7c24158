//! `slack`: posts each message to a Slack incoming webhook (or a Slack-compatible one:
//! Mattermost, Rocket.Chat). The text is the `text` template, else the body's `text`, else the
//! body itself, cut to Slack's 40,000 characters; a body's `blocks` and `attachments` go with
//! it. Slack answers `ok`; 429 retries after `Retry-After`, other 4xx (`invalid_payload`,
//! `channel_is_archived`, `no_service`) reject. The URL is a secret and never appears in a
//! result or a log.

use conveyor_config::SlackConfig;
use conveyor_queue::ReceivedMessage;
use conveyor_worker::{Handler, HandlerError};
use serde_json::{json, Value};

use crate::discord::cut;
use crate::outbound::{context, post_text, webhook_from_secret, Outbound, Reply};
use crate::{BuildError, HandlerEnv};

/// Slack truncates longer texts itself; cutting here keeps the ellipsis ours.
const MAX_TEXT_CHARS: usize = 40_000;

pub struct SlackHandler {
    out: Outbound,
    webhook: String,
    config: SlackConfig,
}

impl SlackHandler {
    pub fn new(config: &SlackConfig, env: &HandlerEnv) -> Result<Self, BuildError> {
        let (webhook, secret) = webhook_from_secret(
            "slack",
            env,
            &config.webhook_secret,
            "https://hooks.slack.com/services/****",
        )?;
        Ok(SlackHandler {
            out: Outbound::new("slack", config.timeout.0, env.dry_run, vec![secret])?,
            webhook,
            config: config.clone(),
        })
    }

    fn payload(&self, message: &ReceivedMessage) -> Result<Value, HandlerError> {
        let ctx = context(message);
        let text = post_text(self.config.text.as_deref(), "text", message, &ctx)?;
        let mut payload = json!({ "text": cut(&text, MAX_TEXT_CHARS) });
        for part in ["blocks", "attachments"] {
            if let Some(list) = ctx.get(part).and_then(Value::as_array) {
                payload[part] = Value::Array(list.clone());
            }
        }
        if text.trim().is_empty() && payload.get("blocks").is_none() {
            return Err(HandlerError::reject(
                "nothing to post: no text and no blocks",
            ));
        }
        Ok(payload)
    }
}

#[async_trait::async_trait]
impl Handler for SlackHandler {
    fn kind(&self) -> &'static str {
        "slack"
    }

    async fn handle(&self, message: &ReceivedMessage) -> Result<Value, HandlerError> {
        let request = self
            .out
            .client()
            .post(&self.webhook)
            .json(&self.payload(message)?)
            .build()
            .map_err(|e| {
                HandlerError::reject(
                    self.out
                        .mask(&format!("cannot build the webhook call: {e}")),
                )
            })?;
        Ok(match self.out.send(request, &[]).await? {
            Reply::Answered { status, body } => json!({ "status": status, "response": body }),
            Reply::DryRun(request) => json!({ "dry_run": true, "request": request }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn handler(text: Option<&str>) -> SlackHandler {
        let dir = tempfile::tempdir().unwrap();
        let env = HandlerEnv::new(conveyor_store::Store::local(dir.path()).unwrap(), "q")
            .with_secret("slack_webhook_url", "http://127.0.0.1:9/hook");
        let config = SlackConfig {
            webhook_secret: "slack_webhook_url".into(),
            text: text.map(str::to_string),
            timeout: conveyor_config::Span(std::time::Duration::from_secs(1)),
        };
        SlackHandler::new(&config, &env).unwrap()
    }

    fn message(body: &str) -> ReceivedMessage {
        ReceivedMessage {
            message_id: "m".into(),
            body: body.into(),
            ..Default::default()
        }
    }

    #[test]
    fn the_body_s_text_and_blocks_are_posted_as_slack_reads_them() {
        let p = handler(None)
            .payload(&message(
                r#"{"text":"hi","blocks":[{"type":"divider"}],"x":1}"#,
            ))
            .unwrap();
        assert_eq!(
            p,
            json!({ "text": "hi", "blocks": [{ "type": "divider" }] })
        );
        let p = handler(Some("from {{ name }}"))
            .payload(&message(r#"{"name":"Ada"}"#))
            .unwrap();
        assert_eq!(p["text"], "from Ada");
    }

    #[test]
    fn an_empty_post_is_refused_before_it_is_sent() {
        let e = handler(None)
            .payload(&message(r#"{"text":"  "}"#))
            .unwrap_err();
        assert!(matches!(e, HandlerError::Reject { .. }), "{e:?}");
    }
}
