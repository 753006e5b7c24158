//! E-mail campaigns: `POST /v1/emails/campaigns` fans one message per recipient out to the
//! `emails` queue (its templates carried in each message, so the worker needs nothing else) and
//! stores the campaign, `_conveyor/campaigns/{id}.json`, with the message ids;
//! `GET /v1/emails/campaigns/{id}` counts the recipients' job statuses.
//!
//! The counts are the jobs' own (`jobs.rs`), read at each request, so they are right on every
//! backend and across processes without a counter anyone must keep in step: `queued` (waiting,
//! under way, or failed and to be retried), `sent` (succeeded; in dry run, the request was
//! built), `rejected` (the provider refused it: a hard bounce, an invalid address) and `failed`
//! (out of retries). A campaign of 10,000 is 10,000 lookups, a second or two.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Json;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::idempotency::{fingerprint, once, ScopedKey};
use crate::ingest::{email_field, send_all, text_field};
use crate::jobs::{self, JobHints};
use crate::openapi::{ApiRefusals, ErrorBody, IdempotencyHeader};
use crate::{ApiError, ApiJson, ApiState};

/// Most recipients one campaign may have.
pub const MAX_RECIPIENTS: usize = 10_000;
/// The largest request body this route takes: 10,000 recipients with a few variables each.
pub const BODY_LIMIT: usize = 16 * 1024 * 1024;
/// The templates travel in every message, so together they must leave room for the rest.
const MAX_TEMPLATE_BYTES: usize = 100 * 1024;
/// Batches of ten sent at once while fanning out (SQS answers each in a few milliseconds).
const FAN_OUT: usize = 8;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Campaign {
    /// A template (`{{ name }}`-style variables).
    subject: String,
    /// The plain-text part, a template.
    template: String,
    /// The HTML part, a template; with it each e-mail is multipart/alternative.
    #[serde(default)]
    html_template: Option<String>,
    /// 1 to 10,000.
    recipients: Vec<Recipient>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Recipient {
    email: String,
    #[serde(default)]
    name: Option<String>,
    /// Values for this recipient's templates, beside `name` and `email`.
    #[serde(default)]
    variables: Option<Map<String, Value>>,
}

/// What is stored of a campaign.
#[derive(Debug, Serialize, Deserialize)]
struct CampaignRecord {
    campaign_id: String,
    queue: String,
    created_at: i64,
    subject: String,
    message_ids: Vec<String>,
}

fn record_key(campaign_id: &str) -> Result<String, ApiError> {
    let plain = !campaign_id.is_empty()
        && campaign_id.len() <= 64
        && campaign_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if !plain {
        return Err(ApiError::BadRequest(format!(
            "{campaign_id:?} is not a campaign id"
        )));
    }
    Ok(format!("_conveyor/campaigns/{campaign_id}.json"))
}

fn template_field(field: &str, text: &str) -> Result<(), ApiError> {
    conveyor_config::check_template(field, text).map_err(ApiError::BadRequest)
}

#[utoipa::path(post, path = "/v1/emails/campaigns", tag = "ingest", request_body = Campaign, params(IdempotencyHeader),
    responses((status = 202, description = "Every recipient's e-mail is enqueued", body = serde_json::Value), ApiRefusals),
    security(("api_key" = [])))]
pub async fn create(
    State(state): State<ApiState>,
    headers: HeaderMap,
    ApiJson(c): ApiJson<Campaign>,
) -> Result<Response, ApiError> {
    let queue = state.settings.queue("emails").ok_or_else(|| {
        ApiError::NotFound("this deployment has no emails queue configured".into())
    })?;
    if c.recipients.is_empty() || c.recipients.len() > MAX_RECIPIENTS {
        return Err(ApiError::BadRequest(format!(
            "recipients must hold 1 to {MAX_RECIPIENTS} entries (this one has {}); split a larger list into several campaigns",
            c.recipients.len()
        )));
    }
    text_field("subject", &c.subject, 998)?;
    template_field("subject", &c.subject)?;
    template_field("template", &c.template)?;
    if let Some(html) = &c.html_template {
        template_field("html_template", html)?;
    }
    let template_bytes =
        c.subject.len() + c.template.len() + c.html_template.as_ref().map_or(0, String::len);
    if template_bytes > MAX_TEMPLATE_BYTES {
        return Err(ApiError::BadRequest(format!(
            "the subject and templates come to {template_bytes} bytes; at most {MAX_TEMPLATE_BYTES} travel with each e-mail"
        )));
    }
    for (i, r) in c.recipients.iter().enumerate() {
        email_field(&format!("recipients[{i}].email"), &r.email)?;
        if let Some(n) = &r.name {
            text_field(&format!("recipients[{i}].name"), n, 100)?;
        }
    }
    let idempotency = ScopedKey::from_request(&headers, "/v1/emails/campaigns")?;
    let campaign_id = uuid::Uuid::now_v7().to_string();
    let inline = json!({ "subject": c.subject, "text": c.template, "html": c.html_template });
    let messages: Vec<(String, Option<String>)> = c
        .recipients
        .iter()
        .map(|r| {
            let body = json!({
                "to": r.email, "name": r.name, "variables": r.variables,
                "campaign_id": campaign_id, "inline_template": inline,
            });
            (body.to_string(), Some(r.email.to_ascii_lowercase()))
        })
        .collect();
    let request = fingerprint(
        std::iter::once("/v1/emails/campaigns")
            .chain([c.subject.as_str(), c.template.as_str()])
            .chain(c.html_template.as_deref())
            .chain(c.recipients.iter().map(|r| r.email.as_str())),
    );
    let work = async {
        let created_at = crate::now_millis();
        let message_ids = send_all(&state, queue, idempotency.as_ref(), messages, FAN_OUT).await?;
        let record = CampaignRecord {
            campaign_id: campaign_id.clone(),
            queue: queue.name.clone(),
            created_at,
            subject: c.subject.clone(),
            message_ids,
        };
        let key = record_key(&campaign_id)?;
        state
            .store
            .put(
                &key,
                serde_json::to_vec(&record).expect("a campaign serializes"),
            )
            .await
            .map_err(ApiError::Store)?;
        Ok((
            StatusCode::ACCEPTED,
            Json(json!({
                "campaign_id": campaign_id,
                "recipients": record.message_ids.len(),
                "status_url": format!("/v1/emails/campaigns/{campaign_id}"),
            })),
        ))
    };
    once(&state, idempotency.as_ref(), &request, work).await
}

#[utoipa::path(get, path = "/v1/emails/campaigns/{campaign_id}", tag = "ingest", params(("campaign_id" = String, Path)),
    responses((status = 200, description = "The recipients' e-mails, counted by status", body = serde_json::Value),
        (status = 400, description = "Not a campaign id", body = ErrorBody),
        (status = 404, description = "No such campaign", body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn metrics(
    State(state): State<ApiState>,
    Path(campaign_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let key = record_key(&campaign_id)?;
    let record: CampaignRecord = match state.store.get(&key).await {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
            ApiError::Store(conveyor_store::StoreError::Backend {
                store: state.store.description().to_string(),
                key: key.clone(),
                detail: format!("the campaign record does not parse: {e}"),
            })
        })?,
        Err(conveyor_store::StoreError::NotFound(_)) => {
            return Err(ApiError::NotFound(format!("no campaign {campaign_id}")))
        }
        Err(e) => return Err(ApiError::Store(e)),
    };
    let mut counts = Counts::default();
    let mut open = Vec::new();
    for id in &record.message_ids {
        match state.finished_jobs.get(id) {
            Some(outcome) => counts.add(outcome),
            None => open.push(id.clone()),
        }
    }
    let hints = JobHints::sent_to(&record.queue, record.created_at);
    let statuses = futures_util::stream::iter(open)
        .map(|id| resolve_owned(&state, id, &hints))
        .buffer_unordered(32)
        .collect::<Vec<_>>()
        .await;
    for status in statuses {
        let (id, status) = status?;
        let outcome = Outcome::of(status.as_ref());
        if outcome != Outcome::Queued {
            state.finished_jobs.remember(id, outcome);
        }
        counts.add(outcome);
    }
    Ok(Json(json!({
        "campaign_id": record.campaign_id,
        "created_at": record.created_at,
        "subject": record.subject,
        "recipients": record.message_ids.len(),
        "queued": counts.queued,
        "sent": counts.sent,
        "failed": counts.failed,
        "rejected": counts.rejected,
    })))
}

async fn resolve_owned(
    state: &ApiState,
    message_id: String,
    hints: &JobHints,
) -> Result<(String, Option<Value>), ApiError> {
    let status = jobs::resolve(state, &message_id, hints).await?;
    Ok((message_id, status))
}

/// What a recipient's job counts as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Queued,
    Sent,
    Failed,
    Rejected,
}

impl Outcome {
    fn of(status: Option<&Value>) -> Outcome {
        let Some(status) = status else {
            // Sent by the campaign, so it exists; its first trace is simply not written yet.
            return Outcome::Queued;
        };
        let rejected = status["rejected"] == true;
        match status["status"].as_str() {
            Some("succeeded") => Outcome::Sent,
            Some("dead_lettered") | Some("failed") if rejected => Outcome::Rejected,
            Some("dead_lettered") => Outcome::Failed,
            Some("failed") if status["will_retry"] == false => Outcome::Failed,
            _ => Outcome::Queued,
        }
    }
}

/// The jobs this process has seen finish, so polling a campaign looks up only the open ones:
/// a finished job's outcome never changes (a redrive from the dead-letter queue sends a new
/// message). Bounded: forgotten wholesale past a million entries, and looked up again.
#[derive(Clone, Default)]
pub struct FinishedJobs(
    std::sync::Arc<std::sync::Mutex<std::collections::HashMap<String, Outcome>>>,
);

impl FinishedJobs {
    const MAX: usize = 1_000_000;

    fn get(&self, id: &str) -> Option<Outcome> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(id)
            .copied()
    }

    fn remember(&self, id: String, outcome: Outcome) {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= Self::MAX {
            map.clear();
        }
        map.insert(id, outcome);
    }
}

#[derive(Debug, Default)]
struct Counts {
    queued: u64,
    sent: u64,
    failed: u64,
    rejected: u64,
}

impl Counts {
    fn add(&mut self, outcome: Outcome) {
        match outcome {
            Outcome::Queued => self.queued += 1,
            Outcome::Sent => self.sent += 1,
            Outcome::Failed => self.failed += 1,
            Outcome::Rejected => self.rejected += 1,
        }
    }
}
