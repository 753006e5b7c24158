//! A handler of steps survives its process being killed between steps: the message is delivered
//! again and resumes at the step it had not finished, so the first step's side effect happens
//! exactly once. Real `conveyor serve` processes, SIGKILLed, and local HTTP endpoints as steps.

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::*;

/// `/one` counts its calls and answers; `/two` hangs on its first call, then answers.
async fn endpoints(one: Arc<AtomicU64>, two: Arc<AtomicU64>) -> String {
    let app = axum::Router::new()
        .route(
            "/one",
            axum::routing::post(move || {
                let one = one.clone();
                async move {
                    one.fetch_add(1, Ordering::SeqCst);
                    axum::Json(serde_json::json!({ "ticket": 42 }))
                }
            }),
        )
        .route(
            "/two",
            axum::routing::post(move || {
                let two = two.clone();
                async move {
                    if two.fetch_add(1, Ordering::SeqCst) == 0 {
                        tokio::time::sleep(Duration::from_secs(120)).await;
                    }
                    axum::Json(serde_json::json!({ "sent": true }))
                }
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    base
}

fn results(data: &std::path::Path) -> Vec<serde_json::Value> {
    let mut found = Vec::new();
    let mut dirs = vec![data.join("objects/results")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else {
                found.push(serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap());
            }
        }
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_killed_between_steps_resumes_at_the_unfinished_step() {
    let (one, two) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let base = endpoints(one.clone(), two.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("conveyor.toml");
    std::fs::write(
        &config,
        format!(
            r#"
instance = "acme"
use_case = "jobs"
environment = "test"
[queues.work]
visibility = "2s"
handler = {{ kind = "steps", steps = [
    {{ name = "ticket", handler = {{ kind = "http", url = "{base}/one" }} }},
    {{ name = "confirm", handler = {{ kind = "http", url = "{base}/two", timeout = "5m" }} }},
] }}
[environments.test]
data_dir = "unused"
bucket_suffix = "data"
"#
        ),
    )
    .unwrap();
    let data = dir.path().join("data");
    let mut first = start(&data, &[], Some(&config));
    let (status, body) = http(
        &first.address,
        "POST",
        "/v1/queues/work/messages",
        &[("content-type", "application/json")],
        r#"{"body":{"user":"ada"}}"#,
    )
    .await;
    assert_eq!(status, 202, "{body}");
    until("step two is running", || two.load(Ordering::SeqCst) == 1).await;
    let checkpoints = data.join("objects/_conveyor/checkpoints/acme-test-jobs-work");
    let saved: Vec<_> = std::fs::read_dir(&checkpoints).unwrap().flatten().collect();
    assert_eq!(saved.len(), 1, "step one's output is checkpointed");
    let saved: serde_json::Value =
        serde_json::from_slice(&std::fs::read(saved[0].path()).unwrap()).unwrap();
    assert_eq!(saved["ticket"]["response"]["ticket"], 42, "{saved}");
    // Killed between the steps: no chance to hand the message back.
    first.child.kill().unwrap();
    first.child.wait().unwrap();

    let second = start(&data, &[], Some(&config));
    until("the message is finished", || !results(&data).is_empty()).await;
    let record = results(&data).remove(0);
    assert_eq!(one.load(Ordering::SeqCst), 1, "step one ran exactly once");
    assert_eq!(two.load(Ordering::SeqCst), 2, "step two ran again");
    assert_eq!(record["output"]["ticket"]["response"]["ticket"], 42);
    assert_eq!(record["output"]["confirm"]["response"]["sent"], true);
    until("the checkpoint is removed", || {
        std::fs::read_dir(&checkpoints)
            .map(|d| d.count() == 0)
            .unwrap_or(true)
    })
    .await;
    drop(second);
}
