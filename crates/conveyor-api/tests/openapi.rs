//! The OpenAPI document: the checked-in copy is what the code generates, the server serves it
//! with an interactive page that needs no network, and every operation in it reaches a handler.

use std::sync::Arc;

use conveyor_api::{openapi_document, router, ApiLimits, ApiState};
use conveyor_queue::{EmbeddedEngine, EngineOptions, SystemClock};
use conveyor_store::Store;

const CHECKED_IN: &str = include_str!("../../../docs/openapi.json");

#[test]
fn the_checked_in_document_is_the_generated_one() {
    let generated = openapi_document().to_pretty_json().unwrap();
    assert!(
        generated.trim() == CHECKED_IN.trim(),
        "docs/openapi.json is out of date with the routes: run `cargo run -p conveyor -- openapi > docs/openapi.json` and commit it"
    );
}

async fn serve() -> (String, tokio::task::JoinHandle<()>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let settings = conveyor_config::load(
        None,
        [(
            "CONVEYOR_DATA_DIR".to_string(),
            dir.path().display().to_string(),
        )],
    )
    .unwrap()
    .selected;
    let engine = EmbeddedEngine::open(
        EngineOptions::new(dir.path().join("q.db")),
        Arc::new(SystemClock),
    )
    .unwrap();
    let state = ApiState {
        queue: Arc::new(engine.clone()),
        store: Store::local(dir.path().join("objects")).unwrap(),
        settings: Arc::new(settings),
        metrics: None,
        idempotency: Arc::new(engine),
        finished_jobs: Default::default(),
        alarms: Default::default(),
        dashboard: Default::default(),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = router(state, ApiLimits::default());
    let server = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (base, server, dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_document_and_its_page_are_served_without_a_network() {
    let (base, server, _dir) = serve().await;
    let served: serde_json::Value = reqwest::get(format!("{base}/openapi.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let expected: serde_json::Value = serde_json::from_str(CHECKED_IN).unwrap();
    assert_eq!(served, expected);

    let page = reqwest::get(format!("{base}/docs/")).await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("swagger-ui"), "{html}");
    assert!(
        !html.contains("https://"),
        "the page loads nothing from a CDN: {html}"
    );
    for asset in [
        "swagger-ui-bundle.js",
        "swagger-ui.css",
        "swagger-initializer.js",
    ] {
        let response = reqwest::get(format!("{base}/docs/{asset}")).await.unwrap();
        assert_eq!(
            response.status(),
            200,
            "{asset} is served by Conveyor itself"
        );
        let text = response.text().await.unwrap();
        if asset == "swagger-initializer.js" {
            assert!(text.contains("/openapi.json"), "{text}");
        }
    }
    server.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_documented_operation_reaches_a_handler() {
    let (base, server, _dir) = serve().await;
    let http = reqwest::Client::new();
    let doc: serde_json::Value = serde_json::from_str(CHECKED_IN).unwrap();
    let mut operations = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        let concrete = path
            .split('/')
            .map(|s| if s.starts_with('{') { "x" } else { s })
            .collect::<Vec<_>>()
            .join("/");
        for method in item.as_object().unwrap().keys() {
            let response = http
                .request(
                    method.to_uppercase().parse().unwrap(),
                    format!("{base}{concrete}"),
                )
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            let body = response.text().await.unwrap();
            assert_ne!(status, 405, "{method} {path} is documented but not routed");
            assert!(
                !body.contains("no such route"),
                "{method} {path} is documented but not routed"
            );
            operations += 1;
        }
    }
    assert!(operations >= 31, "{operations}");
    server.abort();
}
