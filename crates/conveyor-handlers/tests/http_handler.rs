//! The http handler against a real local endpoint: success, and what each failure means.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::routing::post;
use axum::Json;
use conveyor_config::{HttpConfig, Span};
use conveyor_handlers::{signature, HandlerEnv, HttpHandler};
use conveyor_queue::{
    EmbeddedEngine, EngineOptions, Queue, ReceiveRequest, ReceivedMessage, SendMessage, SystemClock,
};
use conveyor_worker::{Handler, HandlerError};

/// An endpoint that answers 200 to bodies containing "ok", 429 with `Retry-After: 7` to
/// "busy", 400 to "invalid", 500 otherwise, counting its calls.
async fn endpoint(calls: Arc<AtomicU64>) -> String {
    let app = axum::Router::new().route(
        "/hook",
        post(move |Json(v): Json<serde_json::Value>| {
            let calls = calls.clone();
            async move {
                calls.fetch_add(1, Ordering::SeqCst);
                use axum::http::StatusCode;
                let said = v["body"].to_string();
                let (status, retry_after) = if said.contains("ok") {
                    (StatusCode::OK, None)
                } else if said.contains("busy") {
                    (StatusCode::TOO_MANY_REQUESTS, Some("7"))
                } else if said.contains("invalid") {
                    (StatusCode::BAD_REQUEST, None)
                } else {
                    (StatusCode::INTERNAL_SERVER_ERROR, None)
                };
                let mut headers = axum::http::HeaderMap::new();
                if let Some(r) = retry_after {
                    headers.insert("retry-after", r.parse().unwrap());
                }
                (status, headers, Json(serde_json::json!({"ticket": 7})))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{address}/hook")
}

async fn one_message(body: &str) -> ReceivedMessage {
    let dir = tempfile::tempdir().unwrap();
    let engine = EmbeddedEngine::open(
        EngineOptions::new(dir.path().join("q.db")),
        Arc::new(SystemClock),
    )
    .unwrap();
    engine
        .create_queue("q", &BTreeMap::new(), &BTreeMap::new())
        .await
        .unwrap();
    engine.send("q", SendMessage::new(body)).await.unwrap();
    engine
        .receive("q", ReceiveRequest::up_to(1))
        .await
        .unwrap()
        .remove(0)
}

fn env(dry_run: bool, secrets: &[(&str, &str)]) -> HandlerEnv {
    let store =
        conveyor_store::Store::local(std::env::temp_dir().join("conveyor-http-handler-tests"))
            .unwrap();
    secrets.iter().fold(
        HandlerEnv::new(store, "q").dry_run(dry_run),
        |env, (k, v)| env.with_secret(k, v),
    )
}

fn handler(url: &str, timeout: u64) -> HttpHandler {
    HttpHandler::new(
        &HttpConfig::to(url, Span(Duration::from_secs(timeout))),
        &env(false, &[]),
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_2xx_answer_is_success_and_is_kept_in_the_output() {
    let calls = Arc::new(AtomicU64::new(0));
    let url = endpoint(calls.clone()).await;
    let out = handler(&url, 5)
        .handle(&one_message(r#"{"say":"ok"}"#).await)
        .await
        .unwrap();
    assert_eq!(out["status"], 200);
    assert_eq!(out["response"]["ticket"], 7);
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_are_retried_after_what_the_server_asks_or_rejected_when_retrying_cannot_help() {
    let calls = Arc::new(AtomicU64::new(0));
    let url = endpoint(calls.clone()).await;
    let h = handler(&url, 5);
    match h.handle(&one_message("boom").await).await.unwrap_err() {
        HandlerError::Retry {
            reason,
            after: None,
        } => {
            assert!(reason.contains("500") && reason.contains(&url), "{reason}")
        }
        other => panic!("a 500 is retried with the queue's backoff: {other:?}"),
    }
    assert_eq!(
        h.handle(&one_message("busy").await).await.unwrap_err(),
        HandlerError::Retry {
            reason: format!("POST {url} answered 429 Too Many Requests: {{\"ticket\":7}}"),
            after: Some(Duration::from_secs(7)),
        },
        "a 429 is retried after its Retry-After"
    );
    assert!(matches!(
        h.handle(&one_message("invalid").await).await.unwrap_err(),
        HandlerError::Reject { .. }
    ));
    let nobody = handler("http://127.0.0.1:9/hook", 2);
    match nobody.handle(&one_message("ok").await).await.unwrap_err() {
        HandlerError::Retry { reason, .. } => assert!(reason.contains("failed"), "{reason}"),
        other => panic!("no answer is retried: {other:?}"),
    }
}

/// Echoes the request's headers and body back, so the test sees what was sent.
async fn echo() -> String {
    let app = axum::Router::new().route(
        "/echo",
        post(|headers: axum::http::HeaderMap, body: String| async move {
            let seen: serde_json::Map<String, serde_json::Value> = headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").into()))
                .collect();
            Json(serde_json::json!({ "headers": seen, "body": body }))
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{address}/echo")
}

fn signed(url: &str) -> HttpConfig {
    let mut config = HttpConfig::to(url, Span(Duration::from_secs(5)));
    config.headers.insert("x-team".into(), "growth".into());
    config.signing_secret = Some("hook_signing_key".into());
    config
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headers_go_with_each_call_and_the_signature_verifies_under_the_secret() {
    let url = echo().await;
    let h = HttpHandler::new(
        &signed(&url),
        &env(false, &[("hook_signing_key", "k3y-for-hmac")]),
    )
    .unwrap();
    let out = h
        .handle(&one_message(r#"{"say":"hi"}"#).await)
        .await
        .unwrap();
    let seen = &out["response"];
    assert_eq!(seen["headers"]["x-team"], "growth");
    let header = seen["headers"]["x-conveyor-signature"].as_str().unwrap();
    let t: u64 = header
        .split(',')
        .next()
        .unwrap()
        .trim_start_matches("t=")
        .parse()
        .unwrap();
    let body = seen["body"].as_str().unwrap();
    assert_eq!(
        header,
        signature("k3y-for-hmac", t, body.as_bytes()),
        "the receiver's own HMAC agrees"
    );
    assert_ne!(header, signature("another-key", t, body.as_bytes()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_builds_the_exact_request_and_sends_nothing() {
    let calls = Arc::new(AtomicU64::new(0));
    let url = endpoint(calls.clone()).await;
    let h = HttpHandler::new(
        &signed(&url),
        &env(true, &[("hook_signing_key", "k3y-for-hmac")]),
    )
    .unwrap();
    let out = h
        .handle(&one_message(r#"{"say":"ok"}"#).await)
        .await
        .unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 0, "nothing was sent");
    let request = &out["request"];
    assert_eq!(
        (
            out["dry_run"].as_bool(),
            request["method"].as_str(),
            request["url"].as_str()
        ),
        (Some(true), Some("POST"), Some(url.as_str()))
    );
    assert_eq!(request["headers"]["x-team"], "growth");
    assert!(request["headers"]["x-conveyor-signature"]
        .as_str()
        .unwrap()
        .starts_with("t="));
    assert_eq!(request["body"]["body"]["say"], "ok");
    assert!(
        !out.to_string().contains("k3y-for-hmac"),
        "no secret in the record: {out}"
    );
}

#[test]
fn a_signing_secret_that_is_not_set_stops_the_handler_naming_the_variable() {
    let err = HttpHandler::new(&signed("http://127.0.0.1:9/x"), &env(false, &[]))
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("hook_signing_key") && err.contains("CONVEYOR_SECRET_HOOK_SIGNING_KEY"),
        "{err}"
    );
}
