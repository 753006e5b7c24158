//! E-mail through SendGrid's v3 API: `POST /v3/mail/send` with a Bearer API key; 202 is
//! accepted. Its 4xx answers (a malformed address, a refused sender) reject with SendGrid's
//! own error text; 429 and 5xx retry.

use conveyor_config::{EmailConfig, EmailTransport};
use conveyor_worker::HandlerError;
use serde_json::{json, Value};

use super::Letter;
use crate::outbound::{Outbound, Reply};
use crate::{BuildError, HandlerEnv};

pub(crate) struct Sendgrid {
    out: Outbound,
    endpoint: String,
    key: String,
}

fn person(m: &lettre::message::Mailbox) -> Value {
    match &m.name {
        Some(name) => json!({ "email": m.email.to_string(), "name": name }),
        None => json!({ "email": m.email.to_string() }),
    }
}

impl Sendgrid {
    pub(crate) fn new(config: &EmailConfig, env: &HandlerEnv) -> Result<Self, BuildError> {
        let EmailTransport::Sendgrid {
            url,
            api_key_secret,
        } = &config.transport
        else {
            unreachable!("built for the SendGrid transport");
        };
        let key = env.secret("email", api_key_secret)?;
        Ok(Sendgrid {
            out: Outbound::new("email", config.timeout.0, env.dry_run, vec![key.clone()])?,
            endpoint: format!("{}/v3/mail/send", url.trim_end_matches('/')),
            key,
        })
    }

    pub(crate) async fn send(&self, letter: &Letter) -> Result<Value, HandlerError> {
        let mut content = vec![json!({ "type": "text/plain", "value": letter.text })];
        if let Some(html) = &letter.html {
            content.push(json!({ "type": "text/html", "value": html }));
        }
        let mut body = json!({
            "personalizations": [{ "to": [person(&letter.to)] }],
            "from": person(&letter.from),
            "subject": letter.subject,
            "content": content,
            "custom_args": { "conveyor_message_id": letter.message_id },
        });
        if let Some(r) = &letter.reply_to {
            body["reply_to"] = person(r);
        }
        let request = self
            .out
            .client()
            .post(&self.endpoint)
            .bearer_auth(&self.key)
            .json(&body)
            .build()
            .map_err(|e| HandlerError::reject(format!("cannot build the SendGrid request: {e}")))?;
        Ok(match self.out.send(request, &[]).await? {
            Reply::Answered { status, .. } => json!({ "provider": "sendgrid", "status": status }),
            Reply::DryRun(request) => {
                json!({ "dry_run": true, "provider": "sendgrid", "request": request })
            }
        })
    }
}
