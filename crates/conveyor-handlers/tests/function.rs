//! The `function` handler's Lambda contract, run by the real worker runtime on the embedded
//! engine: the example Python function unchanged, batch item failures, the FIFO short-circuit,
//! the batching window, filters, a hung function killed at its timeout and on shutdown, and a
//! URL that answers as Lambda's Invoke API does.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use conveyor_config::HandlerConfig;
use conveyor_handlers::{build, HandlerEnv};
use conveyor_queue::{Queue, ReceivedMessage, SendMessage};
use conveyor_store::Store;
use conveyor_worker::testing::{eventually, fixture, Fixture};
use conveyor_worker::{Backoff, BatchLimits, Handler, HandlerError, QueueWorker, WorkerStats};
use tokio::sync::watch;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn handler(f: &Fixture, queue: &str, table: serde_json::Value) -> Arc<dyn Handler> {
    let config = HandlerConfig::Function(serde_json::from_value(table).unwrap());
    let env = HandlerEnv {
        store: f.store.clone(),
        queue: queue.into(),
        queue_arn: format!("arn:aws:sqs:us-east-1:000000000000:{queue}"),
        region: "us-east-1".into(),
        dry_run: false,
        secrets: Default::default(),
    };
    build(&config, &env).unwrap()
}

/// Run the queue's function in batches of `batch` gathered for at most `window`.
fn run(
    f: &Fixture,
    queue: &str,
    handler: Arc<dyn Handler>,
    batch: usize,
    window: Duration,
) -> (
    watch::Sender<bool>,
    tokio::task::JoinHandle<()>,
    Arc<WorkerStats>,
) {
    let worker = QueueWorker {
        queue: queue.into(),
        handler,
        concurrency: 1,
        visibility: Duration::from_secs(30),
        poll_wait: Duration::from_secs(1),
        shutdown_grace: Duration::from_secs(1),
        backoff: Backoff {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(1),
        },
        dead_letter_queue: None,
        flow: Default::default(),
        batch: Some(BatchLimits {
            max_messages: batch,
            max_wait: window,
            max_bytes: None,
        }),
    };
    let stats = Arc::new(WorkerStats::default());
    let (stop, stopped) = watch::channel(false);
    let task = tokio::spawn(conveyor_worker::run(
        Arc::new(f.engine.clone()),
        f.store.clone(),
        worker,
        stats.clone(),
        stopped,
    ));
    (stop, task, stats)
}

async fn results(store: &Store, queue: &str) -> BTreeMap<String, serde_json::Value> {
    let mut out = BTreeMap::new();
    for key in store.list(&format!("results/{queue}")).await.unwrap() {
        let record: serde_json::Value =
            serde_json::from_slice(&store.get(&key).await.unwrap()).unwrap();
        out.insert(record["message_id"].as_str().unwrap().to_string(), record);
    }
    out
}

/// The events a recording function saved, in the order it was invoked.
fn recorded(dir: &Path) -> Vec<serde_json::Value> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    files.sort();
    files
        .iter()
        .map(|p| serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap())
        .collect()
}

fn ids_of(event: &serde_json::Value) -> Vec<String> {
    event["Records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["messageId"].as_str().unwrap().to_string())
        .collect()
}

/// A shell function that saves each event under `events/` (numbered), then runs `then`.
fn recording(dir: &Path, then: &str) -> serde_json::Value {
    let events = dir.join("events");
    std::fs::create_dir_all(&events).unwrap();
    let script = format!(
        "n=$(ls {e} | wc -l); cat > {e}/$(printf %04d $n).json; {then}",
        e = events.display()
    );
    serde_json::json!({ "command": ["sh", "-c", script] })
}

fn alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .unwrap_or_default()
            .contains(") Z ")
}

async fn pid_in(file: &Path) -> u32 {
    for _ in 0..100 {
        if let Some(pid) = std::fs::read_to_string(file)
            .ok()
            .and_then(|s| s.trim().parse().ok())
        {
            return pid;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the function never wrote {}", file.display());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_python_function_runs_unchanged_and_only_its_reported_failures_are_retried() {
    // Its own tests first: the same file is what the Lambda image runs.
    let unit = std::process::Command::new("python3")
        .args(["-m", "unittest", "-q", "test_app"])
        .current_dir(repo().join("functions/example"))
        .output()
        .unwrap();
    assert!(
        unit.status.success(),
        "{}",
        String::from_utf8_lossy(&unit.stderr)
    );

    let f = fixture();
    f.engine
        .create_queue("words", &BTreeMap::new(), &BTreeMap::new())
        .await
        .unwrap();
    let mut sent = Vec::new();
    for body in [
        r#"{"text":"one two three"}"#,
        "not json",
        r#"{"text":"four five"}"#,
    ] {
        sent.push(
            f.engine
                .send("words", SendMessage::new(body))
                .await
                .unwrap()
                .message_id,
        );
    }
    let runner = repo().join("functions/lambda_runner.py");
    let app = repo().join("functions/example/app.py");
    let h = handler(
        &f,
        "words",
        serde_json::json!({
            "command": ["python3", runner, format!("{}:handler", app.display())],
            "report_batch_item_failures": true,
        }),
    );
    let (stop, task, stats) = run(&f, "words", h, 10, Duration::ZERO);
    eventually("the two good messages are done", async || {
        stats.processed() == 2
    })
    .await;
    eventually("the bad one has failed", async || stats.failed() >= 1).await;
    stop.send(true).unwrap();
    task.await.unwrap();
    let done = results(&f.store, "words").await;
    assert!(
        done.contains_key(&sent[0]) && done.contains_key(&sent[2]),
        "{done:?}"
    );
    assert!(
        !done.contains_key(&sent[1]),
        "the reported failure has no result"
    );
    assert_eq!(done[&sent[0]]["handler"], "function");
    assert_eq!(done[&sent[0]]["output"]["function"], "words");
    let c = f.engine.counts("words").await.unwrap();
    assert_eq!(
        c.visible + c.in_flight + c.delayed,
        1,
        "only the failure is left: {c:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_answer_or_an_unknown_id_fails_the_whole_batch() {
    for answer in [
        r#"{"batchItemFailures":[{"itemIdentifier":"no-such-id"}]}"#,
        "surely not json",
        r#"{"batchItemFailures":[{"id":"x"}]}"#,
    ] {
        let f = fixture();
        f.engine
            .create_queue("q", &BTreeMap::new(), &BTreeMap::new())
            .await
            .unwrap();
        for i in 0..3 {
            f.engine
                .send("q", SendMessage::new(format!("m{i}")))
                .await
                .unwrap();
        }
        let mut table = recording(f.dir.path(), &format!("echo '{answer}'"));
        table["report_batch_item_failures"] = true.into();
        let (stop, task, stats) = run(&f, "q", handler(&f, "q", table), 10, Duration::ZERO);
        eventually("the batch has failed", async || stats.failed() >= 3).await;
        stop.send(true).unwrap();
        task.await.unwrap();
        assert_eq!(stats.processed(), 0, "{answer}: nothing is deleted");
        assert!(results(&f.store, "q").await.is_empty(), "{answer}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_fifo_a_failed_message_holds_back_the_rest_of_its_group() {
    let f = fixture();
    let fifo = BTreeMap::from([
        ("FifoQueue".to_string(), "true".to_string()),
        ("ContentBasedDeduplication".to_string(), "true".to_string()),
    ]);
    f.engine
        .create_queue("orders.fifo", &fifo, &BTreeMap::new())
        .await
        .unwrap();
    let mut ids = Vec::new();
    for (body, group) in [("a1", "a"), ("a2", "a"), ("a3", "a"), ("b1", "b")] {
        let mut m = SendMessage::new(body);
        m.group_id = Some(group.into());
        ids.push(f.engine.send("orders.fifo", m).await.unwrap().message_id);
    }
    // The first invocation reports a2 failed (and claims a3 and b1 succeeded); later ones succeed.
    let flag = f.dir.path().join("failed-once");
    let then = format!(
        "if [ -e {flag} ]; then echo null; else touch {flag}; echo '{{\"batchItemFailures\":[{{\"itemIdentifier\":\"{a2}\"}}]}}'; fi",
        flag = flag.display(),
        a2 = ids[1]
    );
    let mut table = recording(f.dir.path(), &then);
    table["report_batch_item_failures"] = true.into();
    let (stop, task, stats) = run(
        &f,
        "orders.fifo",
        handler(&f, "orders.fifo", table),
        10,
        Duration::ZERO,
    );
    eventually("all four are done", async || stats.processed() == 4).await;
    stop.send(true).unwrap();
    task.await.unwrap();
    let events = recorded(&f.dir.path().join("events"));
    let first = ids_of(&events[0]);
    assert_eq!(&first[..3], &ids[..3], "group a arrives in order");
    let again: Vec<String> = events[1..].iter().flat_map(ids_of).collect();
    assert_eq!(
        again,
        [ids[1].clone(), ids[2].clone()],
        "a2 and the a3 behind it come again, in order; a1 and b1 do not"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batching_window_gathers_messages_sent_over_time_into_one_invocation() {
    let f = fixture();
    f.engine
        .create_queue("q", &BTreeMap::new(), &BTreeMap::new())
        .await
        .unwrap();
    let table = recording(f.dir.path(), "echo null");
    let (stop, task, stats) = run(&f, "q", handler(&f, "q", table), 50, Duration::from_secs(3));
    for i in 0..5 {
        f.engine
            .send("q", SendMessage::new(format!("m{i}")))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    eventually("all five are done", async || stats.processed() == 5).await;
    stop.send(true).unwrap();
    task.await.unwrap();
    let events = recorded(&f.dir.path().join("events"));
    assert_eq!(events.len(), 1, "one invocation for the window: {events:?}");
    assert_eq!(ids_of(&events[0]).len(), 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_matching_no_filter_are_finished_without_an_invocation() {
    let f = fixture();
    f.engine
        .create_queue("q", &BTreeMap::new(), &BTreeMap::new())
        .await
        .unwrap();
    let keep = f
        .engine
        .send("q", SendMessage::new(r#"{"kind":"signup"}"#))
        .await
        .unwrap()
        .message_id;
    let drop = f
        .engine
        .send("q", SendMessage::new(r#"{"kind":"noise"}"#))
        .await
        .unwrap()
        .message_id;
    let mut table = recording(f.dir.path(), "echo null");
    table["filter"] = serde_json::json!([{ "body": { "kind": ["signup"] } }]);
    let (stop, task, stats) = run(&f, "q", handler(&f, "q", table), 10, Duration::ZERO);
    eventually("both are done", async || stats.processed() == 2).await;
    stop.send(true).unwrap();
    task.await.unwrap();
    let seen: Vec<String> = recorded(&f.dir.path().join("events"))
        .iter()
        .flat_map(ids_of)
        .collect();
    assert_eq!(
        seen,
        std::slice::from_ref(&keep),
        "the function saw only the match"
    );
    let done = results(&f.store, "q").await;
    assert_eq!(done[&drop]["output"]["filtered"], true);
    assert!(done[&keep]["output"]["invocation"].is_string());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_function_is_killed_at_its_timeout_with_its_children_and_its_batch_retried() {
    let f = fixture();
    f.engine
        .create_queue("q", &BTreeMap::new(), &BTreeMap::new())
        .await
        .unwrap();
    let message = ReceivedMessage {
        message_id: "m".into(),
        body: "x".into(),
        ..Default::default()
    };
    let pidfile = f.dir.path().join("pid");
    // The child of the shell is what hangs: the whole process group must go.
    let script = format!("sleep 600 & echo $! > {}; wait", pidfile.display());
    let h = handler(
        &f,
        "q",
        serde_json::json!({ "command": ["sh", "-c", script], "timeout": "1s" }),
    );
    let started = std::time::Instant::now();
    let out = h.handle(&message).await;
    let Err(HandlerError::Retry { reason, .. }) = out else {
        panic!("{out:?}")
    };
    assert!(
        reason.contains("timeout") && started.elapsed() < Duration::from_secs(5),
        "{reason}"
    );
    let pid = pid_in(&pidfile).await;
    eventually("the hung child is gone", async || !alive(pid)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_function_running_at_shutdown_is_killed_after_the_grace_and_its_message_released() {
    let f = fixture();
    f.engine
        .create_queue("q", &BTreeMap::new(), &BTreeMap::new())
        .await
        .unwrap();
    f.engine.send("q", SendMessage::new("x")).await.unwrap();
    let pidfile = f.dir.path().join("pid");
    let script = format!(
        "cat > /dev/null; echo $$ > {}; exec sleep 600",
        pidfile.display()
    );
    let h = handler(
        &f,
        "q",
        serde_json::json!({ "command": ["sh", "-c", script], "timeout": "10m" }),
    );
    let (stop, task, stats) = run(&f, "q", h, 1, Duration::ZERO);
    let pid = pid_in(&pidfile).await;
    assert!(alive(pid));
    stop.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .expect("stops after its grace")
        .unwrap();
    eventually("the function is gone", async || !alive(pid)).await;
    assert_eq!(stats.released(), 1);
    let c = f.engine.counts("q").await.unwrap();
    assert_eq!(
        (c.visible, c.in_flight),
        (1, 0),
        "the message is handed back at once"
    );
}

/// Answers as Lambda's Invoke API and its runtime interface emulator do: 200 with the return
/// value, or 200 with `X-Amz-Function-Error` when the function raised.
async fn invoke_api() -> String {
    let app = axum::Router::new()
        .route(
            "/ok",
            axum::routing::post(|body: String| async move {
                let event: serde_json::Value = serde_json::from_str(&body).unwrap();
                let first = event["Records"][0]["messageId"].clone();
                axum::Json(
                    serde_json::json!({ "batchItemFailures": [{ "itemIdentifier": first }] }),
                )
            }),
        )
        .route(
            "/raises",
            axum::routing::post(|| async {
                (
                    [("x-amz-function-error", "Unhandled")],
                    r#"{"errorMessage":"boom","errorType":"RuntimeError"}"#,
                )
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    base
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_url_function_is_posted_the_event_and_read_as_lambda_s_invoke_api() {
    let f = fixture();
    let base = invoke_api().await;
    let batch: Vec<ReceivedMessage> = (0..3)
        .map(|i| ReceivedMessage {
            message_id: format!("m{i}"),
            body: "{}".into(),
            ..Default::default()
        })
        .collect();
    let ok = handler(
        &f,
        "q",
        serde_json::json!({ "url": format!("{base}/ok"), "report_batch_item_failures": true }),
    );
    let out = ok.handle_batch(&batch).await;
    assert!(matches!(out[0], Err(HandlerError::Retry { .. })), "{out:?}");
    assert!(out[1].is_ok() && out[2].is_ok(), "{out:?}");
    let raises = handler(
        &f,
        "q",
        serde_json::json!({ "url": format!("{base}/raises") }),
    );
    let out = raises.handle_batch(&batch).await;
    for o in &out {
        let Err(HandlerError::Retry { reason, .. }) = o else {
            panic!("{out:?}")
        };
        assert!(reason.contains("RuntimeError: boom"), "{reason}");
    }
}
