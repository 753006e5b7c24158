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
pub fn check_template(field: &str, text: &str) -> Result<(), String> {
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

/// `kind = "slack"`: post to a Slack incoming webhook, or anything that takes Slack's
/// payload (Mattermost, Rocket.Chat). The URL is a secret, as it is for Discord.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlackConfig {
    #[serde(default = "default_slack_secret")]
    pub webhook_secret: String,
    /// The message's text, a template over the body; by default the body's `text`, or the
    /// whole body as text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(default = "default_http_timeout")]
    pub timeout: Span,
}

fn default_slack_secret() -> String {
    "slack_webhook_url".into()
}

impl SlackConfig {
    pub(crate) fn check(&self) -> Result<(), String> {
        check_secret_name("webhook_secret", &self.webhook_secret)?;
        if let Some(t) = &self.text {
            check_template("text", t)?;
        }
        Ok(())
    }
}

/// `kind = "analytics"`: events batched into Parquet under Athena partitions,
/// `{prefix}/{name}/year=YYYY/month=MM/day=DD/hour=HH/…parquet` by each event's own hour. A
/// buffer is flushed when its messages reach `max_bytes` or its first message is `max_age` old
/// (the worker's batch, which this sets).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnalyticsConfig {
    #[serde(default = "default_events_prefix")]
    pub prefix: String,
    /// Bytes of message bodies a buffer holds before it is flushed.
    #[serde(default = "default_analytics_max_bytes")]
    pub max_bytes: u64,
    #[serde(default = "default_analytics_max_age")]
    pub max_age: Span,
    /// Typed columns taken from each event's properties.
    #[serde(default)]
    pub columns: Vec<AnalyticsColumn>,
}

/// A typed column of the events' Parquet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnalyticsColumn {
    pub name: String,
    /// A JSON pointer into the properties (`/plan`); by default `/{name}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pointer: Option<String>,
    #[serde(rename = "type")]
    pub kind: AnalyticsColumnType,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AnalyticsColumnType {
    String,
    Int64,
    Double,
    Boolean,
}

fn default_events_prefix() -> String {
    "events".into()
}

fn default_analytics_max_bytes() -> u64 {
    64 * 1024 * 1024
}

fn default_analytics_max_age() -> Span {
    Span(std::time::Duration::from_secs(60))
}

/// Columns every events file has, and the partition keys a query adds.
const TAKEN_COLUMNS: [&str; 10] = [
    "event_id",
    "name",
    "user_id",
    "timestamp",
    "received_at",
    "properties",
    "year",
    "month",
    "day",
    "hour",
];

impl AnalyticsConfig {
    pub(crate) fn check(&self) -> Result<(), String> {
        let plain = |t: &str| {
            !t.is_empty()
                && t.len() <= 64
                && t.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
                && !t.starts_with(|c: char| c.is_ascii_digit())
        };
        if !plain(&self.prefix) {
            return Err(format!(
                "prefix {:?} must be a plain folder name: lowercase letters, digits and _",
                self.prefix
            ));
        }
        if !(1024 * 1024..=1024 * 1024 * 1024).contains(&self.max_bytes) {
            return Err(format!(
                "max_bytes = {} is out of range: use 1 MiB (1048576) to 1 GiB",
                self.max_bytes
            ));
        }
        let mut seen = Vec::new();
        for c in &self.columns {
            if !plain(&c.name) {
                return Err(format!(
                    "column {:?}: a name is lowercase letters, digits and _ (Athena folds case)",
                    c.name
                ));
            }
            if TAKEN_COLUMNS.contains(&c.name.as_str()) || seen.contains(&&c.name) {
                return Err(format!("column {:?} is taken: every events file has event_id, name, user_id, timestamp, received_at, properties, and the partitions year, month, day, hour", c.name));
            }
            if let Some(p) = &c.pointer {
                if !p.starts_with('/') {
                    return Err(format!(
                        "column {}: pointer {p:?} is a JSON pointer, like \"/plan\"",
                        c.name
                    ));
                }
            }
            seen.push(&c.name);
        }
        Ok(())
    }
}

/// `kind = "email"`: one e-mail per message through SMTP or the SendGrid v3 API. The recipient,
/// subject and parts are templates over the message body (with its `variables` alongside);
/// a message names one of `templates` with its `template`, else `default` is used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailConfig {
    /// `"Name <address>"` or an address.
    pub from: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<String>,
    pub transport: EmailTransport,
    /// The recipient (`"{{ email }}"` for a feedback message's sender).
    #[serde(default = "default_email_to")]
    pub to: String,
    /// The recipient's display name, when the body has one.
    #[serde(default = "default_email_name")]
    pub to_name: String,
    /// Used when the template has no subject of its own.
    #[serde(default = "default_email_subject")]
    pub subject: String,
    #[serde(default = "default_email_templates")]
    pub templates: std::collections::BTreeMap<String, EmailTemplate>,
    #[serde(default = "default_email_timeout")]
    pub timeout: Span,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailTemplate {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// The plain-text part.
    pub text: String,
    /// The HTML part; with it the message is multipart/alternative.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub html: Option<String>,
}

/// How e-mail leaves: an SMTP relay (SES SMTP, Postmark, Mailgun, any server) or SendGrid's API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum EmailTransport {
    Smtp {
        host: String,
        #[serde(default = "default_smtp_port")]
        port: u16,
        /// `starttls` (upgrade on the submission port), `tls` (implicit TLS, port 465) or
        /// `none` (a local relay; credentials would travel in clear).
        #[serde(default)]
        security: SmtpSecurity,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        username: Option<String>,
        /// The secret holding the password (needs `username`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        password_secret: Option<String>,
        /// SMTP connections kept open to the server, per process (1 to 100).
        #[serde(default = "default_smtp_connections")]
        connections: u32,
    },
    Sendgrid {
        #[serde(default = "default_sendgrid_url")]
        url: String,
        #[serde(default = "default_sendgrid_secret")]
        api_key_secret: String,
    },
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SmtpSecurity {
    #[default]
    Starttls,
    Tls,
    None,
}

fn default_email_to() -> String {
    "{{ to }}".into()
}
fn default_email_name() -> String {
    "{{ name or '' }}".into()
}
fn default_email_subject() -> String {
    "{{ subject }}".into()
}
fn default_email_templates() -> std::collections::BTreeMap<String, EmailTemplate> {
    [(
        "default".to_string(),
        EmailTemplate {
            subject: None,
            text: "{{ text or message or '' }}".into(),
            html: None,
        },
    )]
    .into_iter()
    .collect()
}
fn default_email_timeout() -> Span {
    Span(std::time::Duration::from_secs(30))
}
fn default_smtp_port() -> u16 {
    587
}
fn default_smtp_connections() -> u32 {
    10
}
fn default_sendgrid_url() -> String {
    "https://api.sendgrid.com".into()
}
fn default_sendgrid_secret() -> String {
    "sendgrid_api_key".into()
}

impl EmailConfig {
    pub(crate) fn check(&self) -> Result<(), String> {
        if !self.from.contains('@') {
            return Err(format!(
                "from = {:?}: an address, or \"Name <address>\"",
                self.from
            ));
        }
        for (field, text) in [
            ("to", &self.to),
            ("to_name", &self.to_name),
            ("subject", &self.subject),
        ] {
            check_template(field, text)?;
        }
        if !self.templates.contains_key("default") {
            return Err("templates needs a default one, for messages that name none".into());
        }
        for (name, t) in &self.templates {
            check_template(&format!("templates.{name}.text"), &t.text)?;
            if let Some(s) = &t.subject {
                check_template(&format!("templates.{name}.subject"), s)?;
            }
            if let Some(h) = &t.html {
                check_template(&format!("templates.{name}.html"), h)?;
            }
        }
        match &self.transport {
            EmailTransport::Smtp {
                host,
                username,
                password_secret,
                connections,
                ..
            } => {
                if !(1..=100).contains(connections) {
                    return Err(format!(
                        "transport.connections = {connections} is out of range: use 1 to 100"
                    ));
                }
                if host.is_empty() {
                    return Err("transport.host is empty: the SMTP server's name".into());
                }
                if let Some(p) = password_secret {
                    check_secret_name("transport.password_secret", p)?;
                    if username.is_none() {
                        return Err("transport.password_secret needs transport.username".into());
                    }
                }
            }
            EmailTransport::Sendgrid {
                url,
                api_key_secret,
            } => {
                if !(url.starts_with("https://") || url.starts_with("http://")) {
                    return Err(format!("transport.url = {url:?}: use https://…"));
                }
                check_secret_name("transport.api_key_secret", api_key_secret)?;
            }
        }
        Ok(())
    }

    /// The secret names this handler's transport needs.
    pub fn secrets(&self) -> Vec<&str> {
        match &self.transport {
            EmailTransport::Smtp {
                password_secret, ..
            } => password_secret.iter().map(String::as_str).collect(),
            EmailTransport::Sendgrid { api_key_secret, .. } => vec![api_key_secret.as_str()],
        }
    }
}

/// `kind = "testflight"`: invite a beta tester through the App Store Connect API, signed in
/// with the team's API key (`.p8`, a secret) as an ES256 JWT.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestflightConfig {
    #[serde(default = "default_asc_url")]
    pub url: String,
    /// The issuer id of the team's API keys (App Store Connect → Users and Access → Integrations).
    pub issuer_id: String,
    /// The key's id (`kid`).
    pub key_id: String,
    /// The secret holding the key's `.p8` text (PEM, `-----BEGIN PRIVATE KEY-----`).
    #[serde(default = "default_asc_secret")]
    pub key_secret: String,
    /// The beta group a tester joins when the message names no `groups`.
    pub beta_group_id: String,
    #[serde(default = "default_http_timeout")]
    pub timeout: Span,
}

fn default_asc_url() -> String {
    "https://api.appstoreconnect.apple.com".into()
}
fn default_asc_secret() -> String {
    "app_store_connect_key".into()
}

impl TestflightConfig {
    pub(crate) fn check(&self) -> Result<(), String> {
        if !(self.url.starts_with("https://") || self.url.starts_with("http://")) {
            return Err(format!("url = {:?}: use https://…", self.url));
        }
        for (field, value) in [
            ("issuer_id", &self.issuer_id),
            ("key_id", &self.key_id),
            ("beta_group_id", &self.beta_group_id),
        ] {
            if value.trim().is_empty() {
                return Err(format!("{field} is empty: copy it from App Store Connect"));
            }
        }
        check_secret_name("key_secret", &self.key_secret)
    }
}
