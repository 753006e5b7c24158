//! `discord`: posts each message to a webhook (`?wait=true`, so the answer says it was
//! posted). The text is the `content` template, else the body's `content`, else the body
//! itself, cut to Discord's 2,000 characters; a body's `embeds` (up to Discord's 10) go with
//! it. 429 retries after the answer's `retry_after`; other 4xx reject. The webhook URL is a
//! secret (it carries the webhook's token) and never appears in a result or a log.

use conveyor_config::DiscordConfig;
use conveyor_queue::ReceivedMessage;
use conveyor_worker::{Handler, HandlerError};
use serde_json::{json, Value};

use crate::outbound::{context, post_text, webhook_from_secret, Outbound, Reply};
use crate::{BuildError, HandlerEnv};

/// Discord's limits on a message.
const MAX_CONTENT_CHARS: usize = 2_000;
const MAX_EMBEDS: usize = 10;

pub struct DiscordHandler {
    out: Outbound,
    webhook: String,
    config: DiscordConfig,
}

impl DiscordHandler {
    pub fn new(config: &DiscordConfig, env: &HandlerEnv) -> Result<Self, BuildError> {
        let (webhook, secret) = webhook_from_secret(
            "discord",
            env,
            &config.webhook_secret,
            "https://discord.com/api/webhooks/0/****",
        )?;
        Ok(DiscordHandler {
            out: Outbound::new("discord", config.timeout.0, env.dry_run, vec![secret])?,
            webhook,
            config: config.clone(),
        })
    }

    fn payload(&self, message: &ReceivedMessage) -> Result<Value, HandlerError> {
        let ctx = context(message);
        let text = post_text(self.config.content.as_deref(), "content", message, &ctx)?;
        let mut payload = json!({ "content": cut(&text, MAX_CONTENT_CHARS) });
        if let Some(embeds) = ctx.get("embeds").and_then(Value::as_array) {
            payload["embeds"] = Value::Array(embeds.iter().take(MAX_EMBEDS).cloned().collect());
        }
        if let Some(name) = &self.config.username {
            payload["username"] = json!(name);
        }
        if text.trim().is_empty() && payload.get("embeds").is_none() {
            return Err(HandlerError::reject(
                "nothing to post: no content and no embeds",
            ));
        }
        Ok(payload)
    }
}

/// At most `most` characters, the last one an ellipsis when cut.
pub(crate) fn cut(text: &str, most: usize) -> String {
    match text.char_indices().nth(most) {
        None => text.to_string(),
        Some(_) => {
            let mut kept: String = text.chars().take(most - 1).collect();
            kept.push('…');
            kept
        }
    }
}

#[async_trait::async_trait]
impl Handler for DiscordHandler {
    fn kind(&self) -> &'static str {
        "discord"
    }

    async fn handle(&self, message: &ReceivedMessage) -> Result<Value, HandlerError> {
        let request = self
            .out
            .client()
            .post(&self.webhook)
            .query(&[("wait", "true")])
            .json(&self.payload(message)?)
            .build()
            .map_err(|e| {
                HandlerError::reject(
                    self.out
                        .mask(&format!("cannot build the webhook call: {e}")),
                )
            })?;
        Ok(match self.out.send(request, &[]).await? {
            Reply::Answered { status, body } => {
                json!({ "status": status, "discord_message_id": body.get("id").cloned().unwrap_or(Value::Null) })
            }
            Reply::DryRun(request) => json!({ "dry_run": true, "request": request }),
        })
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn content_is_cut_to_discord_s_limit_by_characters() {
        let long = "é".repeat(2_500);
        let cut = super::cut(&long, 2_000);
        assert_eq!(cut.chars().count(), 2_000);
        assert!(cut.ends_with('…'));
        assert_eq!(super::cut("short", 2_000), "short");
    }
}
