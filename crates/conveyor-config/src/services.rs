//! The settings of handlers that call SaaS services (Zendesk, Discord): their endpoints, the
//! names of the secrets holding their credentials, and templates over the message body
//! (minijinja: `{{ name }}`, `{{ name or email }}`), all checked when the file is read.

use serde::{Deserialize, Serialize};

use crate::Span;

fn default_http_timeout() -> Span {
    Span(std::time::Duration::from_secs(10))
}

/// A secret's name must be one `[environments.X.secrets]` and `CONVEYOR_SECRET_<NAME>` can hold.
pub(crate) fn check_secret_name(field: &str, name: &str) -> Result<(), String> {
    if crate::valid_secret_name(name) {
        Ok(())
    } else {
        Err(format!(
            "{field} = {name:?}: a secret's name is lowercase letters, digits and _"
        ))
    }
}

/// A template over the message body (minijinja: `{{ name }}`, `{{ name or email }}`), checked
/// when the file is read.
pub(crate) fn check_template(field: &str, text: &str) -> Result<(), String> {
    minijinja::Environment::new()
        .template_from_str(text)
        .map(|_| ())
        .map_err(|e| format!("{field} is not a valid template: {e}"))
}

/// `kind = "zendesk"`: `POST /api/v2/tickets.json` with API-token authentication.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ZendeskConfig {
    /// `https://{subdomain}.zendesk.com`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subdomain: Option<String>,
    /// Instead of `subdomain`: the API's base URL (a proxy, a test server).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The agent the API token belongs to (`{email}/token:{token}`).
    pub email: String,
    /// The secret holding the API token.
    #[serde(default = "default_zendesk_secret")]
    pub token_secret: String,
    /// The ticket's subject and first comment, templates over the message body.
    #[serde(default = "default_zendesk_subject")]
    pub subject: String,
    #[serde(default = "default_zendesk_comment")]
    pub comment: String,
    #[serde(default = "default_zendesk_tags")]
    pub tags: Vec<String>,
    /// low, normal, high or urgent; Zendesk's default when not given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<String>,
    #[serde(default = "default_http_timeout")]
    pub timeout: Span,
}

fn default_zendesk_secret() -> String {
    "zendesk_api_token".into()
}
fn default_zendesk_subject() -> String {
    "Feedback from {{ name or email or user_id }}".into()
}
fn default_zendesk_comment() -> String {
    "{{ message }}{% if rating %}\n\nRating: {{ rating }}/5{% endif %}".into()
}
fn default_zendesk_tags() -> Vec<String> {
    vec!["feedback".into(), "conveyor".into()]
}

impl ZendeskConfig {
    pub(crate) fn check(&self) -> Result<(), String> {
        match (&self.subdomain, &self.url) {
            (Some(s), None)
                if !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') => {}
            (Some(s), None) => {
                return Err(format!(
                    "subdomain = {s:?}: give the part before .zendesk.com"
                ))
            }
            (None, Some(u)) if u.starts_with("http://") || u.starts_with("https://") => {}
            (None, Some(u)) => return Err(format!("url = {u:?}: use http://… or https://…")),
            _ => {
                return Err(
                    "give exactly one of subdomain = \"yourcompany\" and url = \"https://…\""
                        .into(),
                )
            }
        }
        if !self.email.contains('@') {
            return Err(format!(
                "email = {:?}: the agent's e-mail address the API token belongs to",
                self.email
            ));
        }
        if let Some(p) = &self.priority {
            if !["low", "normal", "high", "urgent"].contains(&p.as_str()) {
                return Err(format!("priority = {p:?}: use low, normal, high or urgent"));
            }
        }
        check_secret_name("token_secret", &self.token_secret)?;
        check_template("subject", &self.subject)?;
        check_template("comment", &self.comment)
    }

    /// The API's base URL, without a trailing slash.
    pub fn base_url(&self) -> String {
        match (&self.subdomain, &self.url) {
            (Some(s), _) => format!("https://{s}.zendesk.com"),
            (None, Some(u)) => u.trim_end_matches('/').to_string(),
            (None, None) => String::new(),
        }
    }
}

/// `kind = "discord"`: post to a webhook (its URL is a secret: it holds the webhook's token).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiscordConfig {
    #[serde(default = "default_discord_secret")]
    pub webhook_secret: String,
    /// The message's text, a template over the body; by default the body's `content`, or the
    /// whole body as text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    /// Shown as the poster's name instead of the webhook's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default = "default_http_timeout")]
    pub timeout: Span,
}

fn default_discord_secret() -> String {
    "discord_webhook_url".into()
}

impl DiscordConfig {
    pub(crate) fn check(&self) -> Result<(), String> {
        check_secret_name("webhook_secret", &self.webhook_secret)?;
        if let Some(c) = &self.content {
            check_template("content", c)?;
        }
        Ok(())
    }
}
