//! `conveyor serve` and `conveyor config check` as a user runs them: the real binary, a fresh
//! data directory per test, the API on a free loopback port, stopped by the test.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn posted_feedback_gets_a_result_under_its_partition_path() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = start(dir.path(), &[], None);
    let (status, body) = http(
        &server.address,
        "POST",
        "/v1/feedback",
        &[JSON],
        r#"{"user_id":"u1","message":"hello","email":"u1@example.com"}"#,
    )
    .await;
    assert_eq!(status, 202, "{body}");
    let id = message_id(&body);
    let deadline = Instant::now() + Duration::from_secs(20);
    let found = loop {
        if let Some(f) = result_files(&server.data)
            .into_iter()
            .find(|f| f.ends_with(format!("{id}.json")))
        {
            break f;
        }
        assert!(Instant::now() < deadline, "no result for {id}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let path = found.to_string_lossy();
    assert!(
        path.contains("results/mht-api-local-api-processing-feedback.fifo/year="),
        "{path}"
    );
    assert!(
        path.contains("/month=") && path.contains("/day=") && path.contains("/hour="),
        "{path}"
    );
    assert!(terminate(&mut server).success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_under_load_loses_no_acknowledged_message() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = start(dir.path(), &[], None);
    let mut acknowledged = Vec::new();
    for i in 0..150 {
        let body = format!(r#"{{"events":[{{"name":"e{i}","user_id":"u{}"}}]}}"#, i % 7);
        let Some((status, answer)) = try_http(
            &server.address,
            "POST",
            "/v1/analytics/events",
            &[JSON],
            &body,
        )
        .await
        else {
            continue; // refused while shutting down: not acknowledged, so nothing is owed
        };
        if status == 202 {
            let v: serde_json::Value = serde_json::from_str(&answer).unwrap();
            acknowledged.extend(
                v["message_ids"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|x| x.as_str().unwrap().to_string()),
            );
        }
        if i == 100 {
            Command::new("kill")
                .args(["-TERM", &server.child.id().to_string()])
                .status()
                .unwrap();
        }
    }
    let status = terminate(&mut server);
    assert!(status.success(), "conveyor exited with {status}");
    assert!(
        acknowledged.len() >= 100,
        "only {} acknowledged",
        acknowledged.len()
    );
    // Every acknowledged message is either processed (a result exists) or still queued.
    let processed: Vec<String> = result_files(&server.data)
        .iter()
        .filter_map(|f| f.file_stem().map(|s| s.to_string_lossy().to_string()))
        .collect();
    let conn = rusqlite::Connection::open(server.data.join("queue.db")).unwrap();
    let mut stmt = conn
        .prepare("SELECT p.message_id FROM messages m JOIN payloads p ON p.id = m.payload_id")
        .unwrap();
    let queued: Vec<String> = stmt
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    for id in &acknowledged {
        assert!(
            processed.contains(id) || queued.contains(id),
            "acknowledged message {id} was lost"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_handler_sends_the_message_to_the_dead_letter_queue_after_three_receives() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("conveyor.toml");
    std::fs::write(
        &config,
        r#"
instance = "acme"
use_case = "jobs"
environment = "test"
[queues.work]
fifo = true
visibility = "1s"
max_receive_count = 3
handler = "fail"
# Failures back off (10 s by default); a second keeps the test short.
worker = { backoff = { initial = "1s", max = "1s" } }
[environments.test]
data_dir = "unused"
bucket_suffix = "data"
"#,
    )
    .unwrap();
    let data = dir.path().join("data");
    let mut server = start(&data, &[], Some(&config));
    let (status, body) = http(
        &server.address,
        "POST",
        "/v1/queues/work/messages",
        &[JSON],
        r#"{"body":"poison","group_id":"g"}"#,
    )
    .await;
    assert_eq!(status, 202, "{body}");
    let id = message_id(&body);
    // Three failed receives, a second apart, then the fourth receive moves it.
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert!(terminate(&mut server).success());
    let conn = rusqlite::Connection::open(data.join("queue.db")).unwrap();
    let (queue, count): (String, i64) = conn
        .query_row(
            "SELECT q.name, m.receive_count FROM messages m JOIN payloads p ON p.id = m.payload_id \
             JOIN queues q ON q.id = m.queue_id WHERE p.message_id = ?1",
            [&id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(queue, "acme-test-jobs-work-dlq.fifo");
    assert!(count >= 3, "receive count {count}");
    assert!(
        result_files(&data).is_empty(),
        "a failed message has no result"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_keys_are_required_when_configured() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = start(dir.path(), &[("CONVEYOR_API_KEYS", "s3cret")], None);
    let body = r#"{"user_id":"u1","message":"hi","email":"u1@example.com"}"#;
    assert_eq!(
        http(&server.address, "POST", "/v1/feedback", &[JSON], body)
            .await
            .0,
        401
    );
    assert_eq!(
        http(
            &server.address,
            "POST",
            "/v1/feedback",
            &[JSON, ("authorization", "Bearer wrong")],
            body
        )
        .await
        .0,
        401
    );
    assert_eq!(
        http(
            &server.address,
            "POST",
            "/v1/feedback",
            &[JSON, ("authorization", "Bearer s3cret")],
            body
        )
        .await
        .0,
        202
    );
    assert_eq!(
        http(&server.address, "GET", "/health", &[], "").await.0,
        200
    );
    // Malformed JSON and oversized bodies: clear 4xx answers in the JSON error shape.
    let auth = ("authorization", "Bearer s3cret");
    let (status, body) = http(
        &server.address,
        "POST",
        "/v1/feedback",
        &[JSON, auth],
        "{oops",
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("\"code\":\"bad_request\""), "{body}");
    let huge = format!(
        r#"{{"user_id":"u1","email":"u1@example.com","message":"{}"}}"#,
        "x".repeat(2 * 1024 * 1024)
    );
    let (status, body) = http(
        &server.address,
        "POST",
        "/v1/feedback",
        &[JSON, auth],
        &huge,
    )
    .await;
    assert_eq!(status, 413, "{body}");
    assert!(terminate(&mut server).success());
}

#[test]
fn config_check_prints_masked_settings_and_refuses_shared_data_directories() {
    let ok = Command::new(BIN)
        .args(["config", "check", "--env", "staging"])
        .env("CONVEYOR_API_KEYS", "do-not-print-me")
        .env("CONVEYOR_SECRET_ZENDESK_API_TOKEN", "zendesk-do-not-print")
        .env("CONVEYOR_SECRET_SENDGRID_API_KEY", "SG.do-not-print")
        .env("CONVEYOR_SECRET_APP_STORE_CONNECT_KEY", "p8-do-not-print")
        .output()
        .unwrap();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let out = String::from_utf8_lossy(&ok.stdout);
    assert!(
        out.contains("mht-api-staging-api-processing-feedback.fifo"),
        "{out}"
    );
    assert!(
        out.contains("****") && !out.contains("do-not-print"),
        "{out}"
    );

    // Without API keys, staging's public address is what `conveyor api` would refuse.
    let open = Command::new(BIN)
        .args(["config", "check", "--env", "staging"])
        .env_remove("CONVEYOR_API_KEYS")
        .env("CONVEYOR_SECRET_ZENDESK_API_TOKEN", "z")
        .env("CONVEYOR_SECRET_SENDGRID_API_KEY", "SG.x")
        .env("CONVEYOR_SECRET_APP_STORE_CONNECT_KEY", "p8")
        .output()
        .unwrap();
    assert!(!open.status.success());
    let err = String::from_utf8_lossy(&open.stderr);
    assert!(
        err.contains("conveyor api would refuse to start") && err.contains("CONVEYOR_API_KEYS"),
        "{err}"
    );
    assert!(!err.contains("conveyor worker would refuse"), "{err}");

    let shared = Command::new(BIN)
        .args(["config", "check"])
        .env(
            "CONVEYOR_ENVIRONMENTS__PRODUCTION__DATA_DIR",
            "data/staging",
        )
        .output()
        .unwrap();
    assert!(!shared.status.success());
    let err = String::from_utf8_lossy(&shared.stderr);
    assert!(
        err.contains("production") && err.contains("staging") && err.contains("data directory"),
        "{err}"
    );
}

#[test]
fn serve_refuses_a_public_address_without_api_keys() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .args(["serve", "--listen", "0.0.0.0:0", "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("API keys"), "{err}");
}

#[test]
fn command_line_mistakes_name_the_flag_and_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let out = Command::new(BIN)
            .args(args)
            .env_remove("CONVEYOR_ENVIRONMENT")
            .current_dir(dir.path())
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).to_string(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    // A hostname where an address belongs: the flag is named, not the setting behind it.
    let (ok, _, err) = run(&["serve", "--listen", "localhost"]);
    assert!(!ok);
    assert!(
        err.contains("--listen") && err.contains("127.0.0.1:8080"),
        "{err}"
    );
    assert!(!err.contains("environments.local.listen"), "{err}");
    // A busy port suggests another.
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = busy.local_addr().unwrap().to_string();
    let (ok, _, err) = run(&[
        "serve",
        "--listen",
        &address,
        "--sqs-listen",
        "off",
        "--s3-listen",
        "off",
    ]);
    assert!(!ok);
    assert!(err.contains("--listen 127.0.0.1:PORT"), "{err}");
    // Commands show only the options that apply to them, each with its unit.
    let (_, token_help, _) = run(&["token", "--help"]);
    let (_, queue_help, _) = run(&["queue", "receive", "--help"]);
    for help in [&token_help, &queue_help] {
        for serve_only in ["--listen", "--data-dir", "--sqs-listen", "--s3-listen"] {
            assert!(!help.contains(serve_only), "{serve_only} in:\n{help}");
        }
    }
    assert!(
        queue_help.contains("--visibility <SECONDS>"),
        "{queue_help}"
    );
    assert!(queue_help.contains("--wait <SECONDS>"), "{queue_help}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_whose_worker_is_killed_is_redelivered_after_its_visibility_timeout() {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;
    // The endpoint hangs on its first call (the worker is killed meanwhile), then answers 200.
    let calls = Arc::new(AtomicU64::new(0));
    let counter = calls.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move || {
            let counter = counter.clone();
            async move {
                if counter.fetch_add(1, Ordering::SeqCst) == 0 {
                    tokio::time::sleep(Duration::from_secs(60)).await;
                }
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hook = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });

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
handler = {{ kind = "http", url = "{hook}", timeout = "90s" }}
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
        &[JSON],
        r#"{"body":"job"}"#,
    )
    .await;
    assert_eq!(status, 202, "{body}");
    let id = message_id(&body);
    let deadline = Instant::now() + Duration::from_secs(20);
    while calls.load(Ordering::SeqCst) == 0 {
        assert!(
            Instant::now() < deadline,
            "the worker never called the endpoint"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // SIGKILL mid-message: no chance to release it.
    first.child.kill().unwrap();
    first.child.wait().unwrap();
    let killed_at = Instant::now();

    let mut second = start(&data, &[], Some(&config));
    let deadline = Instant::now() + Duration::from_secs(30);
    let result = loop {
        if let Some(f) = result_files(&data)
            .into_iter()
            .find(|f| f.ends_with(format!("{id}.json")))
        {
            break f;
        }
        assert!(Instant::now() < deadline, "the message was not redelivered");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(
        killed_at.elapsed() >= Duration::from_millis(500),
        "redelivered before its visibility timeout could pass"
    );
    let record: serde_json::Value =
        serde_json::from_slice(&std::fs::read(result).unwrap()).unwrap();
    assert_eq!(record["receive_count"], 2, "{record}");
    assert_eq!(record["handler"], "http");
    assert!(calls.load(Ordering::SeqCst) >= 2);
    assert!(terminate(&mut second).success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_and_worker_run_as_separate_processes() {
    let dir = tempfile::tempdir().unwrap();
    let mut api = start_command("api", dir.path(), &[], None);
    let (status, body) = http(
        &api.address,
        "POST",
        "/v1/feedback",
        &[JSON],
        r#"{"user_id":"u1","message":"later","email":"u1@example.com"}"#,
    )
    .await;
    assert_eq!(status, 202, "{body}");
    let id = message_id(&body);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        result_files(dir.path()).is_empty(),
        "the api process must not run workers"
    );

    // The embedded engine is one process's: a worker beside the api is refused, saying why.
    let refused = Command::new(BIN)
        .args(["worker", "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("in use by another Conveyor process"));

    assert!(terminate(&mut api).success());
    let mut worker = start_command("worker", dir.path(), &[], None);
    let deadline = Instant::now() + Duration::from_secs(20);
    while !result_files(dir.path())
        .iter()
        .any(|f| f.ends_with(format!("{id}.json")))
    {
        assert!(
            Instant::now() < deadline,
            "the worker did not process the queued message"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(terminate(&mut worker).success());
}

/// Run `conveyor queue <args> --url <server>`; returns stdout, failing the test on a non-zero exit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_tools_work_against_a_running_server() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = start(dir.path(), &[], None);

    let ls = queue_cli(&server, &["ls"]);
    assert!(ls.starts_with("QUEUE"), "{ls}");
    assert!(
        ls.contains("mht-api-local-api-processing-feedback.fifo"),
        "{ls}"
    );
    assert!(
        ls.contains("mht-api-local-api-processing-feedback-dlq.fifo"),
        "{ls}"
    );

    let attrs = queue_cli(&server, &["attrs", "feedback"]);
    assert!(
        attrs
            .lines()
            .any(|l| l.starts_with("VisibilityTimeout") && l.trim_end().ends_with("300")),
        "{attrs}"
    );

    assert!(queue_cli(&server, &["create", "ops-scratch"]).contains("created ops-scratch"));
    assert!(queue_cli(&server, &["send", "ops-scratch", "hello operator"]).starts_with("sent "));
    let received = queue_cli(&server, &["receive", "ops-scratch", "--delete"]);
    assert!(
        received.contains("hello operator") && received.contains("(1 deleted)"),
        "{received}"
    );
    queue_cli(&server, &["send", "ops-scratch", "to purge"]);
    assert!(queue_cli(&server, &["purge", "ops-scratch"]).contains("purged ops-scratch"));

    // A message in feedback's dead-letter queue, redriven back to feedback, where a worker takes it.
    queue_cli(
        &server,
        &[
            "send",
            "feedback-dlq",
            "{\"user_id\":\"u9\",\"message\":\"again\",\"email\":\"u9@example.com\"}",
            "--group",
            "u9",
            "--dedup",
            "r1",
        ],
    );
    assert!(
        queue_cli(&server, &["redrive", "feedback-dlq", "--to", "feedback"])
            .contains("redrive started")
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let status = queue_cli(&server, &["redrive", "feedback-dlq", "--status"]);
        if status
            .lines()
            .nth(1)
            .is_some_and(|l| l.starts_with("COMPLETED"))
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the redrive did not complete: {status}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // Errors are one clear line and a non-zero exit.
    let bad = Command::new(BIN)
        .args([
            "queue",
            "attrs",
            "no-such-queue",
            "--url",
            &format!("http://{}", server.address),
        ])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("does not exist"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
    assert!(terminate(&mut server).success());
}

#[test]
fn a_malformed_handler_credential_stops_serve_with_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(BIN)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--sqs-listen",
            "off",
            "--s3-listen",
            "off",
            "--data-dir",
        ])
        .arg(dir.path())
        .env_remove("CONVEYOR_ENVIRONMENT")
        .env("CONVEYOR_ENVIRONMENTS__LOCAL__DRY_RUN", "false")
        .env("CONVEYOR_SECRET_ZENDESK_API_TOKEN", "zendesk-token")
        .env("CONVEYOR_SECRET_SENDGRID_API_KEY", "SG.key")
        .env(
            "CONVEYOR_SECRET_APP_STORE_CONNECT_KEY",
            "this is not a .p8 key",
        )
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("serve started with a malformed key");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert!(!status.success());
    let line = err
        .lines()
        .find(|l| l.contains("app_store_connect_key"))
        .unwrap_or_else(|| panic!("{err}"));
    assert!(
        line.contains("queue testflight") && line.contains("BEGIN PRIVATE KEY"),
        "{line}"
    );
    assert!(!err.contains("panicked"), "{err}");
    assert!(
        !err.contains("zendesk-token") && !err.contains("SG.key"),
        "{err}"
    );
}
