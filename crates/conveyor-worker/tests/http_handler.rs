//! The http handler against a real local endpoint.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::routing::post;
use axum::Json;
use conveyor_queue::{
    EmbeddedEngine, EngineOptions, Queue, ReceiveRequest, ReceivedMessage, SendMessage, SystemClock,
};
use conveyor_worker::{Handler, HttpHandler};

/// An endpoint that answers 200 to bodies containing "ok", 500 otherwise, counting its calls.
async fn endpoint(calls: Arc<AtomicU64>) -> String {
    let app = axum::Router::new().route(
        "/hook",
        post(move |Json(v): Json<serde_json::Value>| {
            let calls = calls.clone();
            async move {
                calls.fetch_add(1, Ordering::SeqCst);
                if v["body"].to_string().contains("ok") {
                    (
                        axum::http::StatusCode::OK,
                        Json(serde_json::json!({"ticket": 7})),
                    )
                } else {
                    (
                        axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                        Json(serde_json::json!({"error": "boom"})),
                    )
                }
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_2xx_answer_is_success_and_is_kept_in_the_output() {
    let calls = Arc::new(AtomicU64::new(0));
    let url = endpoint(calls.clone()).await;
    let handler = HttpHandler::new(url, Duration::from_secs(5)).unwrap();
    let out = handler
        .handle(&one_message(r#"{"say":"ok"}"#).await)
        .await
        .unwrap();
    assert_eq!(out["status"], 200);
    assert_eq!(out["response"]["ticket"], 7);
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_non_2xx_answer_or_no_answer_is_a_failure_that_says_why() {
    let calls = Arc::new(AtomicU64::new(0));
    let url = endpoint(calls.clone()).await;
    let handler = HttpHandler::new(url.clone(), Duration::from_secs(5)).unwrap();
    let err = handler.handle(&one_message("bad").await).await.unwrap_err();
    assert!(err.0.contains("500") && err.0.contains(&url), "{err}");
    let nobody = HttpHandler::new("http://127.0.0.1:9/hook", Duration::from_secs(2)).unwrap();
    let err = nobody.handle(&one_message("ok").await).await.unwrap_err();
    assert!(err.0.contains("failed"), "{err}");
}
