//! `email`: one e-mail per message. The recipient, subject and parts are templates over the
//! message body and its `variables`; a message picks one of the configured templates by its
//! `template` (else `default`), with a text part and, given an HTML one, multipart/alternative;
//! a campaign's message carries its own as `inline_template` (`{subject, text, html}`).
//! Sent through SMTP (`smtp.rs`) or SendGrid's v3 API (`sendgrid.rs`); pacing (`rate`,
//! `rate_key = "domain:/to"`) is the runtime's. An address that cannot be parsed, a permanent
//! SMTP refusal (5xx: a hard bounce) or a SendGrid 4xx rejects; 4xx SMTP answers, 429 and 5xx
//! retry. In dry run the exact message (or API request) is stored and nothing is sent.

mod connections;
mod sendgrid;
mod smtp;

use conveyor_config::{EmailConfig, EmailTemplate, EmailTransport};
use conveyor_queue::ReceivedMessage;
use conveyor_worker::{Handler, HandlerError};
use serde_json::{json, Value};

use crate::outbound::{context, render};
use crate::{BuildError, HandlerEnv};

/// One e-mail, rendered and checked, before a transport sends it.
pub(crate) struct Letter {
    pub from: lettre::message::Mailbox,
    pub reply_to: Option<lettre::message::Mailbox>,
    pub to: lettre::message::Mailbox,
    pub subject: String,
    pub text: String,
    pub html: Option<String>,
    pub message_id: String,
}

enum Transport {
    Smtp(smtp::Smtp),
    Sendgrid(sendgrid::Sendgrid),
}

pub struct EmailHandler {
    config: EmailConfig,
    from: lettre::message::Mailbox,
    reply_to: Option<lettre::message::Mailbox>,
    transport: Transport,
}

fn mailbox(field: &str, text: &str) -> Result<lettre::message::Mailbox, String> {
    text.trim()
        .parse()
        .map_err(|e| format!("{field} {text:?} is not an e-mail address: {e}"))
}

impl EmailHandler {
    pub fn new(config: &EmailConfig, env: &HandlerEnv) -> Result<Self, BuildError> {
        let setup = |detail: String| BuildError::Setup {
            kind: "email",
            detail,
        };
        let from = mailbox("from", &config.from).map_err(setup)?;
        let reply_to = config
            .reply_to
            .as_deref()
            .map(|r| mailbox("reply_to", r))
            .transpose()
            .map_err(setup)?;
        let transport = match &config.transport {
            EmailTransport::Smtp { .. } => Transport::Smtp(smtp::Smtp::new(config, env)?),
            EmailTransport::Sendgrid { .. } => {
                Transport::Sendgrid(sendgrid::Sendgrid::new(config, env)?)
            }
        };
        Ok(EmailHandler {
            config: config.clone(),
            from,
            reply_to,
            transport,
        })
    }

    fn letter(&self, message: &ReceivedMessage) -> Result<Letter, HandlerError> {
        let mut ctx = context(message);
        // A message's variables sit beside its fields, which win.
        if let Some(vars) = ctx.get("variables").and_then(Value::as_object).cloned() {
            for (k, v) in vars {
                if ctx.get(&k).is_none() {
                    ctx[k] = v;
                }
            }
        }
        // A campaign's message carries its own templates (checked by the API when it came in).
        let inline = match ctx.get("inline_template") {
            Some(t) => Some(
                serde_json::from_value::<EmailTemplate>(t.clone()).map_err(|e| {
                    HandlerError::reject(format!(
                        "the message's inline_template is not a template: {e}"
                    ))
                })?,
            ),
            None => None,
        };
        let name = ctx
            .get("template")
            .and_then(Value::as_str)
            .unwrap_or("default");
        let template: &EmailTemplate = match &inline {
            Some(t) => t,
            None => self.config.templates.get(name).ok_or_else(|| {
                let known: Vec<&str> = self.config.templates.keys().map(String::as_str).collect();
                HandlerError::reject(format!(
                    "the message asks for template {name:?}, which is not configured (there are: {})",
                    known.join(", ")
                ))
            })?,
        };
        let address = render(&self.config.to, &ctx)?;
        let display = render(&self.config.to_name, &ctx)?;
        let to = match address.trim().parse::<lettre::Address>() {
            Ok(a) => lettre::message::Mailbox::new(
                Some(display.trim().to_string()).filter(|d| !d.is_empty()),
                a,
            ),
            Err(e) => {
                return Err(HandlerError::reject(format!(
                    "the recipient {:?} is not an e-mail address: {e}",
                    address.trim()
                )))
            }
        };
        let subject = render(
            template.subject.as_ref().unwrap_or(&self.config.subject),
            &ctx,
        )?;
        Ok(Letter {
            from: self.from.clone(),
            reply_to: self.reply_to.clone(),
            to,
            subject: subject.trim().to_string(),
            text: render(&template.text, &ctx)?,
            html: template
                .html
                .as_ref()
                .map(|h| render(h, &ctx))
                .transpose()?,
            message_id: message.message_id.clone(),
        })
    }
}

#[async_trait::async_trait]
impl Handler for EmailHandler {
    fn kind(&self) -> &'static str {
        "email"
    }

    async fn handle(&self, message: &ReceivedMessage) -> Result<Value, HandlerError> {
        let letter = self.letter(message)?;
        let mut out = match &self.transport {
            Transport::Smtp(s) => s.send(&letter).await?,
            Transport::Sendgrid(s) => s.send(&letter).await?,
        };
        out["to"] = json!(letter.to.email.to_string());
        out["subject"] = json!(letter.subject);
        Ok(out)
    }
}
