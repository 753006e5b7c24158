//! E-mail over SMTP with lettre: STARTTLS, implicit TLS or none, optional AUTH, over the
//! handler's own pooled connections (`connections.rs`, with `TCP_NODELAY`). A permanent
//! refusal (5xx) is a hard bounce and rejects; a transient one (4xx), a broken connection or a
//! timeout retries.

use conveyor_config::{EmailConfig, EmailTransport};
use conveyor_worker::HandlerError;
use lettre::message::{MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use serde_json::{json, Value};

use super::connections::{Connections, SendError};
use super::Letter;
use crate::{BuildError, HandlerEnv};

pub(crate) struct Smtp {
    connections: Connections,
    server: String,
    dry_run: bool,
}

impl Smtp {
    pub(crate) fn new(config: &EmailConfig, env: &HandlerEnv) -> Result<Self, BuildError> {
        let EmailTransport::Smtp {
            host,
            port,
            security,
            username,
            password_secret,
            connections,
        } = &config.transport
        else {
            unreachable!("built for an SMTP transport");
        };
        let credentials = match username {
            Some(user) => {
                let password = match password_secret {
                    Some(name) => env.secret("email", name)?,
                    None => String::new(),
                };
                Some(Credentials::new(user.clone(), password))
            }
            None => None,
        };
        Ok(Smtp {
            connections: Connections::new(
                host,
                *port,
                *security,
                credentials,
                config.timeout.0,
                *connections,
            ),
            server: format!("{host}:{port}"),
            dry_run: env.dry_run,
        })
    }

    pub(crate) async fn send(&self, letter: &Letter) -> Result<Value, HandlerError> {
        let mut message = lettre::Message::builder()
            .from(letter.from.clone())
            .to(letter.to.clone())
            .subject(letter.subject.clone())
            .header(ConveyorMessageId(letter.message_id.clone()));
        if let Some(r) = &letter.reply_to {
            message = message.reply_to(r.clone());
        }
        let text = SinglePart::plain(letter.text.clone());
        let built = match &letter.html {
            Some(html) => message.multipart(
                MultiPart::alternative()
                    .singlepart(text)
                    .singlepart(SinglePart::html(html.clone())),
            ),
            None => message.singlepart(text),
        }
        .map_err(|e| HandlerError::reject(format!("cannot build the e-mail: {e}")))?;
        if self.dry_run {
            return Ok(json!({
                "dry_run": true,
                "provider": "smtp",
                "server": self.server,
                "envelope": { "from": letter.from.email.to_string(), "to": [letter.to.email.to_string()] },
                "message": String::from_utf8_lossy(&built.formatted()),
            }));
        }
        match self
            .connections
            .send(built.envelope(), &built.formatted())
            .await
        {
            Ok(response) => Ok(json!({
                "provider": "smtp",
                "server": self.server,
                "smtp_code": response.code().to_string(),
                "smtp_message": response.message().collect::<Vec<_>>().join(" "),
            })),
            // A refused login is the configuration's fault, not the recipient's: not a bounce.
            Err(SendError::Smtp(e))
                if e.status().is_some_and(|c| {
                    ["530", "534", "535", "538"].contains(&c.to_string().as_str())
                }) =>
            {
                Err(HandlerError::retry(format!(
                    "{} refused the login of the configured user: {e}; check the password secret",
                    self.server
                )))
            }
            Err(SendError::Smtp(e)) if e.is_permanent() => Err(HandlerError::reject(format!(
                "{} refused the e-mail to {}: {e}",
                self.server, letter.to.email
            ))),
            Err(e) => Err(HandlerError::retry(format!(
                "SMTP to {} failed: {e}",
                self.server
            ))),
        }
    }
}

/// `X-Conveyor-Message-Id`: which queue message an e-mail came from, for bounces and support.
#[derive(Clone)]
struct ConveyorMessageId(String);

impl lettre::message::header::Header for ConveyorMessageId {
    fn name() -> lettre::message::header::HeaderName {
        lettre::message::header::HeaderName::new_from_ascii_str("X-Conveyor-Message-Id")
    }
    fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(ConveyorMessageId(s.to_string()))
    }
    fn display(&self) -> lettre::message::header::HeaderValue {
        lettre::message::header::HeaderValue::new(Self::name(), self.0.clone())
    }
}
