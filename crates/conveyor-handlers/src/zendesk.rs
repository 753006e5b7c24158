//! `zendesk`: one ticket per message. The ticket's `external_id` is the message id, and it is
//! looked up first (`GET /api/v2/tickets.json?external_id=…`), so a message delivered again
//! (its worker died after creating the ticket) finds its ticket instead of opening a second.
//! API-token authentication (`{email}/token:{token}`); the subject and first comment are
//! templates over the message body, the requester is its `name` and `email`. 429 retries
//! after `Retry-After`; a 4xx other than 429 rejects with Zendesk's own error text.

use base64::Engine as _;
use conveyor_config::ZendeskConfig;
use conveyor_queue::ReceivedMessage;
use conveyor_worker::{Handler, HandlerError};
use serde_json::{json, Value};

use crate::outbound::{context, render, Outbound, Reply};
use crate::{BuildError, HandlerEnv};

pub struct ZendeskHandler {
    out: Outbound,
    base: String,
    authorization: String,
    config: ZendeskConfig,
}

impl ZendeskHandler {
    pub fn new(config: &ZendeskConfig, env: &HandlerEnv) -> Result<Self, BuildError> {
        let token = env.secret("zendesk", &config.token_secret)?;
        let credentials = format!("{}/token:{token}", config.email);
        let encoded = base64::engine::general_purpose::STANDARD.encode(credentials);
        Ok(ZendeskHandler {
            out: Outbound::new("zendesk", config.timeout.0, env.dry_run, vec![token])?,
            base: config.base_url(),
            authorization: format!("Basic {encoded}"),
            config: config.clone(),
        })
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.out
            .client()
            .request(method, format!("{}{path}", self.base))
            .header(reqwest::header::AUTHORIZATION, &self.authorization)
            .header(reqwest::header::ACCEPT, "application/json")
    }

    fn ticket(&self, message: &ReceivedMessage) -> Result<Value, HandlerError> {
        let ctx = context(message);
        let mut ticket = json!({
            "subject": render(&self.config.subject, &ctx)?,
            "comment": { "body": render(&self.config.comment, &ctx)? },
            "tags": self.config.tags,
            "external_id": message.message_id,
        });
        if let Some(email) = ctx.get("email").and_then(Value::as_str) {
            let name = ctx.get("name").and_then(Value::as_str).unwrap_or(email);
            ticket["requester"] = json!({ "name": name, "email": email });
        }
        if let Some(priority) = &self.config.priority {
            ticket["priority"] = json!(priority);
        }
        Ok(json!({ "ticket": ticket }))
    }
}

fn built(r: reqwest::RequestBuilder) -> Result<reqwest::Request, HandlerError> {
    r.build()
        .map_err(|e| HandlerError::reject(format!("cannot build the Zendesk request: {e}")))
}

#[async_trait::async_trait]
impl Handler for ZendeskHandler {
    fn kind(&self) -> &'static str {
        "zendesk"
    }

    async fn handle(&self, message: &ReceivedMessage) -> Result<Value, HandlerError> {
        let lookup = built(
            self.request(reqwest::Method::GET, "/api/v2/tickets.json")
                .query(&[("external_id", message.message_id.as_str())]),
        )?;
        let create = built(
            self.request(reqwest::Method::POST, "/api/v2/tickets.json")
                .json(&self.ticket(message)?),
        )?;
        if self.out.dry_run() {
            return Ok(json!({
                "dry_run": true,
                "requests": [self.out.describe(&lookup), self.out.describe(&create)],
            }));
        }
        if let Reply::Answered { body, .. } = self.out.send(lookup, &[]).await? {
            if let Some(existing) = body["tickets"].as_array().and_then(|t| t.first()) {
                return Ok(json!({ "ticket_id": existing["id"], "existing": true }));
            }
        }
        match self.out.send(create, &[]).await? {
            Reply::Answered { status, body } => Ok(json!({
                "ticket_id": body["ticket"]["id"],
                "status": status,
                "existing": false,
            })),
            Reply::DryRun(request) => Ok(json!({ "dry_run": true, "request": request })),
        }
    }
}
