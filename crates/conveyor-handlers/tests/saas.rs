//! The SaaS handlers against local servers that implement the documented request and answer
//! shapes, their auth checks and their error and 429 answers, and record what they received:
//! Zendesk's Tickets API and a Discord webhook.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use base64::Engine as _;
use conveyor_config::HandlerConfig;
use conveyor_handlers::{build, HandlerEnv};
use conveyor_queue::ReceivedMessage;
use conveyor_worker::{Handler, HandlerError};
use serde_json::{json, Value};

fn env(dry_run: bool, secrets: &[(&str, &str)]) -> HandlerEnv {
    let store =
        conveyor_store::Store::local(std::env::temp_dir().join("conveyor-saas-tests")).unwrap();
    secrets.iter().fold(
        HandlerEnv::new(store, "feedback").dry_run(dry_run),
        |env, (k, v)| env.with_secret(k, v),
    )
}

fn handler(config: Value, env: &HandlerEnv) -> Arc<dyn Handler> {
    let config: HandlerConfig = serde_json::from_value(config).unwrap();
    build(&config, env).unwrap()
}

fn message(id: &str, body: Value) -> ReceivedMessage {
    ReceivedMessage {
        message_id: id.into(),
        body: body.to_string(),
        ..Default::default()
    }
}

async fn serve(app: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    base
}

// ---- Zendesk ----------------------------------------------------------------------------

const AGENT: &str = "agent@mht.example";
const TOKEN: &str = "zd-token-1234567890";

#[derive(Default)]
struct Desk {
    tickets: Vec<Value>,
    /// Answer the next creates with 429 (Retry-After: 2) this many times.
    busy: u32,
}

type Shared = Arc<Mutex<Desk>>;

/// Zendesk's rule for API tokens: Basic base64("{email}/token:{token}").
fn authorized(headers: &HeaderMap) -> bool {
    let expected =
        base64::engine::general_purpose::STANDARD.encode(format!("{AGENT}/token:{TOKEN}"));
    headers.get("authorization").and_then(|v| v.to_str().ok()) == Some(&format!("Basic {expected}"))
}

async fn list(
    State(desk): State<Shared>,
    headers: HeaderMap,
    Query(q): Query<std::collections::HashMap<String, String>>,
) -> (StatusCode, Json<Value>) {
    if !authorized(&headers) {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({ "error": "Couldn't authenticate you" })),
        );
    }
    let desk = desk.lock().unwrap();
    let found: Vec<Value> = desk
        .tickets
        .iter()
        .filter(|t| {
            q.get("external_id")
                .is_some_and(|id| t["external_id"] == id.as_str())
        })
        .cloned()
        .collect();
    (
        StatusCode::OK,
        Json(json!({ "tickets": found, "count": found.len() })),
    )
}

async fn create(
    State(desk): State<Shared>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> (StatusCode, HeaderMap, Json<Value>) {
    let mut out = HeaderMap::new();
    if !authorized(&headers) {
        return (
            StatusCode::UNAUTHORIZED,
            out,
            Json(json!({ "error": "Couldn't authenticate you" })),
        );
    }
    let mut desk = desk.lock().unwrap();
    if desk.busy > 0 {
        desk.busy -= 1;
        out.insert("retry-after", "2".parse().unwrap());
        return (
            StatusCode::TOO_MANY_REQUESTS,
            out,
            Json(json!({ "error": "APIRateLimitExceeded" })),
        );
    }
    let ticket = &body["ticket"];
    let email = ticket["requester"]["email"].as_str().unwrap_or("");
    if ticket["requester"].is_object() && !email.contains('@') {
        return (
            StatusCode::UNPROCESSABLE_ENTITY,
            out,
            Json(
                json!({ "error": "RecordInvalid", "description": "Record validation errors", "details": { "requester": [{ "description": "Requester: Email is invalid" }] } }),
            ),
        );
    }
    let mut stored = ticket.clone();
    stored["id"] = json!(1000 + desk.tickets.len());
    desk.tickets.push(stored.clone());
    (StatusCode::CREATED, out, Json(json!({ "ticket": stored })))
}

async fn zendesk() -> (String, Shared) {
    let desk: Shared = Default::default();
    let app = axum::Router::new()
        .route(
            "/api/v2/tickets.json",
            axum::routing::get(list).post(create),
        )
        .with_state(desk.clone());
    (serve(app).await, desk)
}

fn zendesk_config(base: &str) -> Value {
    json!({ "kind": "zendesk", "url": base, "email": AGENT, "priority": "normal" })
}

fn feedback(id: &str, email: &str) -> ReceivedMessage {
    message(
        id,
        json!({ "user_id": "u-42", "message": "Love the app", "rating": 5, "email": email, "name": "Ada" }),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ticket_is_opened_once_per_message_even_when_the_message_comes_again() {
    let (base, desk) = zendesk().await;
    let h = handler(
        zendesk_config(&base),
        &env(false, &[("zendesk_api_token", TOKEN)]),
    );
    let first = h.handle(&feedback("m-1", "ada@example.com")).await.unwrap();
    let again = h.handle(&feedback("m-1", "ada@example.com")).await.unwrap();
    assert_eq!(first["ticket_id"], again["ticket_id"]);
    assert_eq!(
        (first["existing"].as_bool(), again["existing"].as_bool()),
        (Some(false), Some(true))
    );
    let desk = desk.lock().unwrap();
    assert_eq!(desk.tickets.len(), 1, "one ticket");
    let t = &desk.tickets[0];
    assert_eq!(t["subject"], "Feedback from Ada");
    assert_eq!(t["comment"]["body"], "Love the app\n\nRating: 5/5");
    assert_eq!(
        t["requester"],
        json!({ "name": "Ada", "email": "ada@example.com" })
    );
    assert_eq!(
        (t["external_id"].as_str(), t["priority"].as_str()),
        (Some("m-1"), Some("normal"))
    );
    assert_eq!(t["tags"], json!(["feedback", "conveyor"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zendesk_s_429_retries_after_its_retry_after_and_its_4xx_rejects_with_its_text() {
    let (base, desk) = zendesk().await;
    desk.lock().unwrap().busy = 1;
    let h = handler(
        zendesk_config(&base),
        &env(false, &[("zendesk_api_token", TOKEN)]),
    );
    match h.handle(&feedback("m-2", "ada@example.com")).await {
        Err(HandlerError::Retry { after, .. }) => assert_eq!(after, Some(Duration::from_secs(2))),
        other => panic!("{other:?}"),
    }
    assert!(
        h.handle(&feedback("m-2", "ada@example.com")).await.is_ok(),
        "the retry goes through"
    );
    match h.handle(&feedback("m-3", "not-an-address")).await {
        Err(HandlerError::Reject { reason }) => assert!(
            reason.contains("422") && reason.contains("Email is invalid"),
            "{reason}"
        ),
        other => panic!("{other:?}"),
    }
    let wrong = handler(
        zendesk_config(&base),
        &env(false, &[("zendesk_api_token", "wrong")]),
    );
    match wrong.handle(&feedback("m-4", "ada@example.com")).await {
        Err(HandlerError::Reject { reason }) => {
            assert!(
                reason.contains("401") && reason.contains("authenticate"),
                "{reason}"
            );
            assert!(
                !reason.contains("wrong"),
                "the token is not repeated: {reason}"
            );
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_zendesk_dry_run_records_both_requests_without_the_token_and_sends_nothing() {
    let (base, desk) = zendesk().await;
    let h = handler(
        zendesk_config(&base),
        &env(true, &[("zendesk_api_token", TOKEN)]),
    );
    let out = h.handle(&feedback("m-5", "ada@example.com")).await.unwrap();
    assert!(desk.lock().unwrap().tickets.is_empty());
    let requests = out["requests"].as_array().unwrap();
    assert_eq!(requests[0]["method"], "GET");
    assert_eq!(
        requests[0]["url"],
        format!("{base}/api/v2/tickets.json?external_id=m-5")
    );
    assert_eq!(requests[1]["method"], "POST");
    assert_eq!(requests[1]["body"]["ticket"]["external_id"], "m-5");
    assert_eq!(requests[1]["headers"]["authorization"], "Basic ****");
    let text = out.to_string();
    let encoded =
        base64::engine::general_purpose::STANDARD.encode(format!("{AGENT}/token:{TOKEN}"));
    assert!(!text.contains(TOKEN) && !text.contains(&encoded), "{text}");
    // With no token at all, a dry run still shows the request.
    let bare = handler(zendesk_config(&base), &env(true, &[]));
    assert!(bare
        .handle(&feedback("m-6", "ada@example.com"))
        .await
        .unwrap()["dry_run"]
        .as_bool()
        .unwrap());
}

// ---- Discord ----------------------------------------------------------------------------

async fn webhook(posts: Arc<Mutex<Vec<Value>>>, limited: Arc<Mutex<u32>>) -> String {
    let app = axum::Router::new().route(
        "/api/webhooks/123/s3cr3t-webhook-token",
        axum::routing::post(move |Query(q): Query<std::collections::HashMap<String, String>>, Json(body): Json<Value>| {
            let (posts, limited) = (posts.clone(), limited.clone());
            async move {
                {
                    let mut left = limited.lock().unwrap();
                    if *left > 0 {
                        *left -= 1;
                        return (StatusCode::TOO_MANY_REQUESTS, Json(json!({ "message": "You are being rate limited.", "retry_after": 1.5, "global": false })));
                    }
                }
                let content = body["content"].as_str().unwrap_or("").to_string();
                if content.chars().count() > 2000 {
                    return (StatusCode::BAD_REQUEST, Json(json!({ "code": 50035, "message": "Invalid Form Body" })));
                }
                assert_eq!(q.get("wait").map(String::as_str), Some("true"));
                posts.lock().unwrap().push(body);
                (StatusCode::OK, Json(json!({ "id": "998877", "content": content })))
            }
        }),
    );
    serve(app).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discord_posts_within_its_limit_honours_retry_after_and_never_shows_the_webhook() {
    let (posts, limited) = (Arc::new(Mutex::new(Vec::new())), Arc::new(Mutex::new(1)));
    let base = webhook(posts.clone(), limited).await;
    let url = format!("{base}/api/webhooks/123/s3cr3t-webhook-token");
    let h = handler(
        json!({ "kind": "discord", "content": "Alarm: {{ alarm }} is {{ state }}", "username": "Conveyor" }),
        &env(false, &[("discord_webhook_url", &url)]),
    );
    let m = message(
        "d-1",
        json!({ "alarm": "emails depth", "state": "ALARM", "embeds": [{ "title": "depth 1200" }] }),
    );
    match h.handle(&m).await {
        Err(HandlerError::Retry { after, reason }) => {
            assert_eq!(after, Some(Duration::from_millis(1500)));
            assert!(!reason.contains("s3cr3t"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    let out = h.handle(&m).await.unwrap();
    assert_eq!(out["discord_message_id"], "998877");
    let post = posts.lock().unwrap()[0].clone();
    assert_eq!(post["content"], "Alarm: emails depth is ALARM");
    assert_eq!(post["username"], "Conveyor");
    assert_eq!(post["embeds"][0]["title"], "depth 1200");

    let plain = handler(
        json!({ "kind": "discord" }),
        &env(false, &[("discord_webhook_url", &url)]),
    );
    plain
        .handle(&message("d-2", json!({ "content": "x".repeat(5000) })))
        .await
        .unwrap();
    assert_eq!(
        posts.lock().unwrap()[1]["content"]
            .as_str()
            .unwrap()
            .chars()
            .count(),
        2000,
        "cut to Discord's limit"
    );

    let dry = handler(
        json!({ "kind": "discord" }),
        &env(true, &[("discord_webhook_url", &url)]),
    );
    let recorded = dry
        .handle(&message("d-3", json!({ "content": "hi" })))
        .await
        .unwrap();
    assert_eq!(posts.lock().unwrap().len(), 2, "a dry run sends nothing");
    assert!(!recorded.to_string().contains("s3cr3t"), "{recorded}");
    assert_eq!(recorded["request"]["body"]["content"], "hi");
}
