//! `POST /v1/analytics/events`: 1–500 events become one message per request (split only where
//! one would pass the queue's size limit), each event checked on its own and stamped with the
//! server's `received_at`. A bad event is refused with its index and reason and the good ones of
//! the request are kept, unless `?atomic=true`, where one bad event refuses the request. The
//! `analytics` handler turns the messages into Parquet; an event without its own `event_id`
//! gets `{message id}-{index}` there, the same on every redelivery.

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::idempotency::fingerprint;
use crate::ingest::enqueue_as;
use crate::openapi::{AcceptedBody, ApiRefusals, IdempotencyHeader};
use crate::{ApiError, ApiJson, ApiState};

/// Most events one request may carry.
pub const MAX_EVENTS: usize = 500;
/// Largest one event may be, as JSON.
pub const MAX_EVENT_BYTES: usize = 64 * 1024;
/// Largest message body sent: SQS's 256 KiB, less room for the envelope.
const MAX_MESSAGE_BYTES: usize = 250 * 1024;
/// 10000-01-01T00:00:00Z: Athena's and Parquet's dates stop at year 9999.
const END_OF_YEAR_9999_MS: i64 = 253_402_300_800_000;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct AnalyticsBatch {
    /// 1–500 events: `{name, timestamp?, user_id?, properties?, event_id?}`.
    #[schema(value_type = Vec<Object>)]
    events: Vec<Value>,
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AnalyticsQuery {
    /// Refuse the whole request when any event is bad (default: keep the good ones).
    atomic: Option<bool>,
}

/// An event name becomes a path segment (`events/{name}/…`): letters, digits, `_ - . :`,
/// not starting with a dot, so no name can be `..` or hide a `/`.
fn valid_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.chars().count() > 128 {
        return Err("name must be 1 to 128 characters".into());
    }
    if name.starts_with('.') {
        return Err(format!("name {name:?} may not start with a dot"));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':')))
    {
        return Err(format!(
            "name {name:?} holds {c:?}: use letters, digits and _ - . : (it names a folder of the store)"
        ));
    }
    Ok(())
}

/// The event's time in Unix milliseconds: RFC 3339 text or a whole number of milliseconds,
/// from 1970 to the end of year 9999.
fn event_time(value: &Value) -> Result<i64, String> {
    let ms = match value {
        Value::String(text) => chrono::DateTime::parse_from_rfc3339(text)
            .map_err(|e| format!("timestamp {text:?} is not RFC 3339 ({e})"))?
            .timestamp_millis(),
        Value::Number(n) => n.as_i64().ok_or_else(|| {
            format!("timestamp {n} is not a whole number of milliseconds since 1970")
        })?,
        other => {
            return Err(format!(
                "timestamp takes RFC 3339 text or epoch milliseconds, not {other}"
            ))
        }
    };
    if !(0..END_OF_YEAR_9999_MS).contains(&ms) {
        return Err(format!(
            "timestamp {value} is outside 1970-01-01 to 9999-12-31"
        ));
    }
    Ok(ms)
}

/// How many bytes the object takes as JSON, counted without building the text.
fn encoded_len(fields: &Map<String, Value>) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    serde_json::to_writer(&mut count, fields).map_or(usize::MAX, |()| count.0)
}

/// One event checked and put in the form the handler reads.
pub fn check_event(event: Value, received_at: i64) -> Result<Value, String> {
    let Value::Object(mut fields) = event else {
        return Err("an event is a JSON object".into());
    };
    let size = encoded_len(&fields);
    if size > MAX_EVENT_BYTES {
        return Err(format!(
            "the event is {size} bytes; at most {MAX_EVENT_BYTES} are accepted"
        ));
    }
    for key in fields.keys() {
        if !matches!(
            key.as_str(),
            "name" | "timestamp" | "user_id" | "properties" | "event_id"
        ) {
            return Err(format!(
                "unknown field {key:?}: an event has name, timestamp, user_id, properties and event_id"
            ));
        }
    }
    let properties = match fields.remove("properties") {
        None | Some(Value::Null) => Value::Object(Map::new()),
        Some(p @ Value::Object(_)) => p,
        Some(_) => return Err("properties must be a JSON object".into()),
    };
    let name = match fields.get("name") {
        Some(Value::String(n)) => n,
        _ => return Err("name is required, as text".into()),
    };
    valid_name(name)?;
    let timestamp = match fields.get("timestamp") {
        None | Some(Value::Null) => received_at,
        Some(t) => event_time(t)?,
    };
    let user_id = match fields.get("user_id") {
        None | Some(Value::Null) => Value::Null,
        Some(Value::String(u)) if !u.is_empty() && u.chars().count() <= 256 => json!(u),
        Some(_) => return Err("user_id must be text of 1 to 256 characters".into()),
    };
    let mut out = json!({
        "name": name, "timestamp": timestamp, "received_at": received_at,
        "user_id": user_id, "properties": properties,
    });
    match fields.get("event_id") {
        None | Some(Value::Null) => {}
        Some(Value::String(id))
            if !id.is_empty() && id.len() <= 128 && id.bytes().all(|b| b.is_ascii_graphic()) =>
        {
            out["event_id"] = json!(id);
        }
        Some(_) => return Err("event_id must be 1 to 128 printable ASCII characters".into()),
    }
    Ok(out)
}

/// Events packed into message bodies (`{"events":[…]}`) of at most `MAX_MESSAGE_BYTES`.
fn pack(events: Vec<Value>) -> Vec<String> {
    let mut bodies = Vec::new();
    let mut current: Vec<String> = Vec::new();
    let mut size = 0;
    for event in events {
        let text = event.to_string();
        if !current.is_empty() && size + text.len() + 1 > MAX_MESSAGE_BYTES {
            bodies.push(format!("{{\"events\":[{}]}}", current.join(",")));
            current.clear();
            size = 0;
        }
        size += text.len() + 1;
        current.push(text);
    }
    if !current.is_empty() {
        bodies.push(format!("{{\"events\":[{}]}}", current.join(",")));
    }
    bodies
}

#[utoipa::path(post, path = "/v1/analytics/events", tag = "ingest", request_body = AnalyticsBatch,
    params(IdempotencyHeader, AnalyticsQuery),
    responses((status = 202, description = "Durably enqueued; `rejected` lists the events refused, with their index and reason", body = AcceptedBody), ApiRefusals),
    security(("api_key" = [])))]
pub async fn analytics_events(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Query(query): Query<AnalyticsQuery>,
    ApiJson(batch): ApiJson<AnalyticsBatch>,
) -> Result<Response, ApiError> {
    if batch.events.is_empty() || batch.events.len() > MAX_EVENTS {
        return Err(ApiError::BadRequest(format!(
            "events must hold 1 to {MAX_EVENTS} events, not {}",
            batch.events.len()
        )));
    }
    let atomic = query.atomic.unwrap_or(false);
    // The request as sent, not as stamped: a retry with the same Idempotency-Key matches it.
    // Without a key nothing compares it, and the batch is not serialized again for nothing.
    let request = if headers.contains_key("idempotency-key") {
        let raw = serde_json::to_string(&batch.events).unwrap_or_default();
        fingerprint([
            "/v1/analytics/events",
            raw.as_str(),
            if atomic { "atomic" } else { "" },
        ])
    } else {
        String::new()
    };
    let total = batch.events.len();
    let received_at = crate::now_millis();
    let mut good = Vec::with_capacity(batch.events.len());
    let mut rejected = Vec::new();
    for (index, event) in batch.events.into_iter().enumerate() {
        match check_event(event, received_at) {
            Ok(e) => good.push(e),
            Err(reason) => rejected.push(json!({ "index": index, "reason": reason })),
        }
    }
    for e in &good {
        let name = e["name"].as_str().unwrap_or_default().to_string();
        metrics::counter!("conveyor_analytics_events_total", "name" => name, "outcome" => "accepted")
            .increment(1);
    }
    // A refused event's name may be the very thing wrong with it: counted without one.
    metrics::counter!("conveyor_analytics_events_total", "name" => "", "outcome" => "rejected")
        .increment(rejected.len() as u64);
    if good.is_empty() || (atomic && !rejected.is_empty()) {
        let first = rejected
            .first()
            .map(|r| {
                format!(
                    "events[{}]: {}",
                    r["index"],
                    r["reason"].as_str().unwrap_or("")
                )
            })
            .unwrap_or_default();
        return Err(ApiError::RejectedEvents {
            message: format!(
                "{} of {} events refused{}; first: {first}",
                rejected.len(),
                total,
                if atomic {
                    " (atomic: nothing was queued)"
                } else {
                    ""
                }
            ),
            rejected,
        });
    }
    let accepted = good.len();
    // FIFO orders a group's messages; events need no order, so requests spread over groups.
    let group = format!("events-{}", received_at.rem_euclid(64));
    let messages = pack(good)
        .into_iter()
        .map(|b| (b, Some(group.clone())))
        .collect();
    enqueue_as(
        &state,
        &headers,
        "/v1/analytics/events",
        "analytics",
        &request,
        messages,
        move |ids, urls| {
            (
                StatusCode::ACCEPTED,
                Json(json!({
                    "message_ids": ids, "status_urls": urls,
                    "accepted": accepted, "rejected": rejected,
                })),
            )
        },
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_796_140_000_000;

    fn reason(event: Value) -> String {
        check_event(event, NOW).unwrap_err()
    }

    #[test]
    fn an_event_is_normalised_with_the_server_s_receive_time() {
        let e = check_event(
            json!({ "name": "app.open", "timestamp": "2026-12-01T10:00:00Z", "user_id": "u1", "properties": { "plan": "pro" } }),
            NOW,
        )
        .unwrap();
        assert_eq!(e["timestamp"], 1_796_119_200_000i64);
        assert_eq!(e["received_at"], NOW);
        assert_eq!(e["properties"]["plan"], "pro");
        assert!(e.get("event_id").is_none());
        let e = check_event(
            json!({ "name": "tap", "timestamp": 5, "event_id": "c-1" }),
            NOW,
        )
        .unwrap();
        assert_eq!(
            (e["timestamp"].as_i64(), e["event_id"].as_str()),
            (Some(5), Some("c-1"))
        );
        assert_eq!(
            check_event(json!({ "name": "tap" }), NOW).unwrap()["timestamp"],
            NOW
        );
    }

    #[test]
    fn names_that_would_be_paths_and_times_out_of_range_are_refused() {
        assert!(reason(json!({ "name": "a/b" })).contains("'/'"));
        assert!(reason(json!({ "name": ".." })).contains("dot"));
        assert!(reason(json!({ "name": "" })).contains("1 to 128"));
        assert!(
            reason(json!({ "name": "x", "timestamp": "10000-01-01T00:00:00Z" }))
                .contains("RFC 3339")
        );
        assert!(
            reason(json!({ "name": "x", "timestamp": 253_402_300_800_000i64 })).contains("outside")
        );
        assert!(reason(json!({ "name": "x", "timestamp": -1 })).contains("outside"));
        assert!(
            reason(json!({ "name": "x", "timestamp": "1969-12-31T23:59:59Z" })).contains("outside")
        );
        assert!(reason(json!({ "name": "x", "properties": [1] })).contains("object"));
        assert!(reason(json!({ "name": "x", "colour": 1 })).contains("unknown field"));
        assert!(reason(json!("open")).contains("object"));
        let big = "x".repeat(MAX_EVENT_BYTES);
        assert!(reason(json!({ "name": "x", "properties": { "blob": big } })).contains("bytes"));
    }

    #[test]
    fn events_are_packed_into_bodies_under_the_message_limit() {
        let event = json!({ "name": "x", "properties": { "pad": "p".repeat(1000) } });
        let bodies = pack(vec![event; 500]);
        assert!(bodies.len() > 1);
        assert!(bodies.iter().all(|b| b.len() <= MAX_MESSAGE_BYTES + 20));
        let total: usize = bodies
            .iter()
            .map(|b| {
                serde_json::from_str::<Value>(b).unwrap()["events"]
                    .as_array()
                    .unwrap()
                    .len()
            })
            .sum();
        assert_eq!(total, 500);
        assert_eq!(pack(vec![json!({ "name": "y" })]).len(), 1);
    }
}
