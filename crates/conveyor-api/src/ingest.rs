//! The ingest routes. Each validates its JSON, turns it into queue messages and answers `202`
//! once they are durably enqueued; the work itself happens later, in a worker.
//!
//! FIFO queues need a group and a deduplication id per message: the group orders one subject's
//! messages (a user's feedback, one recipient's emails); the deduplication id is the request's
//! scoped `Idempotency-Key` when given, else fresh. The key itself holds on every queue kind
//! for the idempotency window (see `idempotency.rs`); SQS deduplication is a second line for
//! the five minutes it lasts.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Json;
use conveyor_queue::{BatchEntry, SendMessage};
use serde::Deserialize;
use serde_json::Value;

use crate::idempotency::{fingerprint, once, ScopedKey};
use crate::openapi::{AcceptedBody, ApiRefusals, ErrorBody, IdempotencyHeader};
use crate::{ApiError, ApiJson, ApiState};

pub(crate) type Accepted = (StatusCode, Json<Value>);

/// `202` with the one id the route sent and its job status URL.
fn accepted(ids: Vec<String>, urls: Vec<String>) -> Accepted {
    let body = match (ids.as_slice(), urls.as_slice()) {
        ([one], [url]) => serde_json::json!({ "message_id": one, "status_url": url }),
        _ => serde_json::json!({ "message_ids": ids, "status_urls": urls }),
    };
    (StatusCode::ACCEPTED, Json(body))
}

/// A field that becomes a FIFO group id: what SQS allows there, said in the field's own terms.
fn group_field(field: &str, value: &str) -> Result<(), ApiError> {
    if value.is_empty() || value.len() > 128 || !value.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ApiError::BadRequest(format!(
            "{field} must be 1 to 128 printable ASCII characters without spaces (it orders this subject's messages)"
        )));
    }
    Ok(())
}

pub(crate) fn text_field(field: &str, value: &str, max_chars: usize) -> Result<(), ApiError> {
    let n = value.chars().count();
    if n == 0 || n > max_chars {
        return Err(ApiError::BadRequest(format!(
            "{field} must be 1 to {max_chars} characters"
        )));
    }
    Ok(())
}

pub(crate) fn email_field(field: &str, value: &str) -> Result<(), ApiError> {
    let ok = value.len() <= 254
        && value.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && domain.contains('.') && !domain.starts_with('.')
        })
        && !value.chars().any(char::is_whitespace);
    if ok {
        Ok(())
    } else {
        Err(ApiError::BadRequest(format!(
            "{field} {value:?} is not an email address"
        )))
    }
}

/// Send `messages` (bodies with their group ids) to the configured queue `key`, in batches of
/// ten, once per `Idempotency-Key` of `route`; answers `202` with the message ids in `shape`.
async fn enqueue(
    state: &ApiState,
    headers: &HeaderMap,
    route: &str,
    key: &str,
    messages: Vec<(String, Option<String>)>,
) -> Result<Response, ApiError> {
    let request = fingerprint(
        std::iter::once(route).chain(
            messages
                .iter()
                .flat_map(|(body, group)| [body.as_str(), group.as_deref().unwrap_or("")]),
        ),
    );
    enqueue_as(state, headers, route, key, &request, messages, accepted).await
}

/// `enqueue` for a route whose messages carry what differs between a request and its retry
/// (a receive time): the caller fingerprints the request itself, and says how to answer.
pub(crate) async fn enqueue_as(
    state: &ApiState,
    headers: &HeaderMap,
    route: &str,
    key: &str,
    request: &str,
    messages: Vec<(String, Option<String>)>,
    answer: impl FnOnce(Vec<String>, Vec<String>) -> Accepted,
) -> Result<Response, ApiError> {
    let queue = state.settings.queue(key).ok_or_else(|| {
        ApiError::NotFound(format!("this deployment has no {key} queue configured"))
    })?;
    let idempotency = ScopedKey::from_request(headers, route)?;
    let work = async {
        let sent_ms = crate::now_millis();
        // In order, one batch at a time: messages of one FIFO group keep the request's order.
        let ids = send_all(state, queue, idempotency.as_ref(), messages, 1).await?;
        let urls = ids
            .iter()
            .map(|id| crate::jobs::status_url(state, &queue.name, id, sent_ms))
            .collect();
        Ok(answer(ids, urls))
    };
    once(state, idempotency.as_ref(), request, work).await
}

/// Send `messages` (bodies with their FIFO group ids) to `queue` in batches of ten, `parallel`
/// batches at once; answers the message ids in the messages' order. On a FIFO queue each
/// message's deduplication id comes from the request's `Idempotency-Key` (and its place), so a
/// retried request that died half-way sends nothing twice within SQS's five minutes.
pub(crate) async fn send_all(
    state: &ApiState,
    queue: &conveyor_config::QueueSettings,
    idempotency: Option<&ScopedKey>,
    messages: Vec<(String, Option<String>)>,
    parallel: usize,
) -> Result<Vec<String>, ApiError> {
    use futures_util::{StreamExt, TryStreamExt};
    let single = messages.len() == 1;
    let mut entries = Vec::with_capacity(messages.len());
    for (i, (body, group)) in messages.into_iter().enumerate() {
        let mut m = SendMessage::new(body);
        if queue.fifo {
            m.group_id = Some(group.unwrap_or_else(|| "default".into()));
            m.deduplication_id = Some(match (idempotency, single) {
                (Some(k), true) => k.digest().to_string(),
                (Some(k), false) => format!("{}-{i}", k.digest()),
                (None, _) => uuid::Uuid::new_v4().to_string(),
            });
        }
        entries.push(BatchEntry {
            id: i.to_string(),
            entry: m,
        });
    }
    let chunks: Vec<Vec<BatchEntry<SendMessage>>> = entries.chunks(10).map(<[_]>::to_vec).collect();
    let batches: Vec<Vec<String>> = futures_util::stream::iter(chunks)
        .map(|chunk| send_batch(state, &queue.name, chunk))
        .buffered(parallel.max(1))
        .try_collect()
        .await?;
    Ok(batches.into_iter().flatten().collect())
}

/// One `SendMessageBatch`: the message ids in the entries' order.
async fn send_batch(
    state: &ApiState,
    queue: &str,
    chunk: Vec<BatchEntry<SendMessage>>,
) -> Result<Vec<String>, ApiError> {
    let outcome = state.queue.send_batch(queue, chunk).await?;
    if let Some((_, error)) = outcome.failed.into_iter().next() {
        // Each message was validated already, so a refusal here is the queue's own rule.
        return Err(ApiError::from(error));
    }
    let mut sent = outcome.successful;
    sent.sort_by_key(|(id, _)| id.parse::<usize>().unwrap_or(usize::MAX));
    Ok(sent.into_iter().map(|(_, s)| s.message_id).collect())
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct Feedback {
    user_id: String,
    message: String,
    #[serde(default)]
    rating: Option<u8>,
    /// Where the confirmation e-mail goes (and the ticket's requester).
    email: String,
    /// The requester's name on the ticket and in the e-mail.
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    metadata: Option<Value>,
}

#[utoipa::path(post, path = "/v1/feedback", tag = "ingest", request_body = Feedback, params(IdempotencyHeader),
    responses((status = 202, description = "Durably enqueued", body = AcceptedBody), ApiRefusals),
    security(("api_key" = [])))]
pub async fn feedback(
    State(state): State<ApiState>,
    headers: HeaderMap,
    ApiJson(f): ApiJson<Feedback>,
) -> Result<Response, ApiError> {
    group_field("user_id", &f.user_id)?;
    text_field("message", &f.message, 10_000)?;
    if let Some(r) = f.rating {
        if !(1..=5).contains(&r) {
            return Err(ApiError::BadRequest("rating must be from 1 to 5".into()));
        }
    }
    email_field("email", &f.email)?;
    if let Some(n) = &f.name {
        text_field("name", n, 100)?;
    }
    let body = serde_json::json!({
        "user_id": f.user_id, "message": f.message, "rating": f.rating, "email": f.email,
        "name": f.name, "metadata": f.metadata,
    });
    enqueue(
        &state,
        &headers,
        "/v1/feedback",
        "feedback",
        vec![(body.to_string(), Some(f.user_id))],
    )
    .await
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct Email {
    to: String,
    subject: String,
    #[serde(default)]
    template: Option<String>,
    #[serde(default)]
    variables: Option<serde_json::Map<String, Value>>,
}

#[utoipa::path(post, path = "/v1/emails", tag = "ingest", request_body = Email, params(IdempotencyHeader),
    responses((status = 202, description = "Durably enqueued", body = AcceptedBody), ApiRefusals),
    security(("api_key" = [])))]
pub async fn email(
    State(state): State<ApiState>,
    headers: HeaderMap,
    ApiJson(e): ApiJson<Email>,
) -> Result<Response, ApiError> {
    email_field("to", &e.to)?;
    text_field("subject", &e.subject, 998)?;
    if let Some(t) = &e.template {
        text_field("template", t, 128)?;
    }
    let body = serde_json::json!({ "to": e.to, "subject": e.subject, "template": e.template, "variables": e.variables });
    enqueue(
        &state,
        &headers,
        "/v1/emails",
        "emails",
        vec![(body.to_string(), Some(e.to.to_ascii_lowercase()))],
    )
    .await
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct Invitation {
    email: String,
    #[serde(default)]
    first_name: Option<String>,
    #[serde(default)]
    last_name: Option<String>,
    #[serde(default)]
    groups: Vec<String>,
}

#[utoipa::path(post, path = "/v1/testflight/invitations", tag = "ingest", request_body = Invitation, params(IdempotencyHeader),
    responses((status = 202, description = "Durably enqueued", body = AcceptedBody), ApiRefusals),
    security(("api_key" = [])))]
pub async fn testflight_invitation(
    State(state): State<ApiState>,
    headers: HeaderMap,
    ApiJson(inv): ApiJson<Invitation>,
) -> Result<Response, ApiError> {
    email_field("email", &inv.email)?;
    for (field, v) in [
        ("first_name", &inv.first_name),
        ("last_name", &inv.last_name),
    ] {
        if let Some(v) = v {
            text_field(field, v, 100)?;
        }
    }
    let body = serde_json::json!({
        "email": inv.email, "first_name": inv.first_name, "last_name": inv.last_name, "groups": inv.groups,
    });
    enqueue(
        &state,
        &headers,
        "/v1/testflight/invitations",
        "testflight",
        vec![(body.to_string(), Some(inv.email.to_ascii_lowercase()))],
    )
    .await
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct GenericMessage {
    /// Any JSON; a string is sent as it is, anything else as its JSON text.
    body: Value,
    #[serde(default)]
    group_id: Option<String>,
}

#[utoipa::path(post, path = "/v1/queues/{queue}/messages", tag = "ingest", request_body = GenericMessage,
    params(("queue" = String, Path, description = "The queue's key in the configuration, like feedback"), IdempotencyHeader),
    responses((status = 202, description = "Durably enqueued", body = AcceptedBody), ApiRefusals, (status = 404, description = "Not found", body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn generic_message(
    State(state): State<ApiState>,
    Path(queue): Path<String>,
    headers: HeaderMap,
    ApiJson(m): ApiJson<GenericMessage>,
) -> Result<Response, ApiError> {
    if let Some(g) = &m.group_id {
        group_field("group_id", g)?;
    }
    // A FIFO queue orders messages within a group; silently putting every message without one
    // in a shared group would serialise unrelated work, so the caller must choose.
    if m.group_id.is_none() && state.settings.queue(&queue).is_some_and(|q| q.fifo) {
        return Err(ApiError::BadRequest(format!(
            "the {queue} queue is FIFO: give \"group_id\" (messages of one group are delivered in order, one at a time; use e.g. the user or recipient id)"
        )));
    }
    let body = match m.body {
        Value::String(s) => s,
        other => other.to_string(),
    };
    let route = format!("/v1/queues/{queue}/messages");
    enqueue(&state, &headers, &route, &queue, vec![(body, m.group_id)]).await
}
