//! The web dashboard in headless Chromium (Debian's `chromium`, driven by Playwright from PyPI,
//! both installed by scripts/test-deps.sh) against a real `conveyor serve` with operator keys:
//! the page renders with no console error and no request leaving the server, its throughput
//! chart shows the traffic this test sends, a dead letter is peeked (and is still there), then
//! redriven from the UI and found back in its source queue. Screenshots are kept under
//! target/test-artifacts/dashboard/. Also: ingest keys cannot reach any operator route, and a
//! cross-site form post is refused.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

const CONFIG: &str = r#"
instance = "acme"
use_case = "ops"
environment = "test"

[queues.work]
visibility = "1s"
max_receive_count = 1
handler = "fail"

[queues.jobs]
handler = "log"

[environments.test]
data_dir = "unused"
bucket_suffix = "data"
operator_keys = ["op-key"]
api_keys = ["ingest-key"]
"#;

const OPERATOR: (&str, &str) = ("authorization", "Bearer op-key");
const INGEST: (&str, &str) = ("authorization", "Bearer ingest-key");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_shows_traffic_and_redrives_a_dead_letter_in_chromium() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), CONFIG);
    let data = dir.path().join("data");
    let server = start(&data, &[], Some(&config));
    let work = "acme-test-ops-work";
    let dlq = "acme-test-ops-work-dlq";

    let (status, body) = http(
        &server.address,
        "POST",
        "/v1/queues/work/messages",
        &[JSON, INGEST],
        r#"{"body":{"poison":true}}"#,
    )
    .await;
    assert_eq!(status, 202, "{body}");
    let poison = message_id(&body);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, page) = http(
            &server.address,
            "GET",
            &format!("/v1/admin/queues/{dlq}/messages"),
            &[OPERATOR],
            "",
        )
        .await;
        if page.contains(&poison) {
            break;
        }
        assert!(Instant::now() < deadline, "never dead-lettered: {page}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    // Paused, the source keeps the redriven message where the test can see it.
    let (status, _) = http(
        &server.address,
        "POST",
        &format!("/v1/admin/queues/{work}/pause"),
        &[OPERATOR],
        "",
    )
    .await;
    assert_eq!(status, 200);

    // Traffic for the charts, spread over a sampling interval or two.
    let address = server.address.clone();
    let traffic = tokio::spawn(async move {
        for n in 0..60 {
            let body = format!(r#"{{"body":{{"n":{n}}}}}"#);
            let (status, _) = http(
                &address,
                "POST",
                "/v1/queues/jobs/messages",
                &[JSON, INGEST],
                &body,
            )
            .await;
            assert_eq!(status, 202);
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    });

    let artifacts = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../target/test-artifacts/dashboard");
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser/dashboard.py");
    let mut browser = Command::new("python3")
        .arg(&script)
        .args(["--url", &format!("http://{}", server.address)])
        .args([
            "--key",
            "op-key",
            "--traffic-queue",
            "acme-test-ops-jobs",
            "--dlq",
            dlq,
        ])
        .args(["--message-id", &poison])
        .arg("--artifacts")
        .arg(&artifacts)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run python3: {e}; run scripts/test-deps.sh"));
    // Bounded: a hung browser fails the test instead of the CI job.
    let deadline = Instant::now() + Duration::from_secs(180);
    while browser.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = browser.kill();
            panic!("the browser test did not finish within 180 s");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let out = browser.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the browser test failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    traffic.await.unwrap();
    let seen: Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    assert_eq!(seen["cookie"]["httpOnly"], true, "{seen}");
    assert_eq!(seen["cookie"]["sameSite"], "Strict", "{seen}");
    assert!(seen["throughput_peak"].as_f64().unwrap() > 0.0, "{seen}");
    assert!(
        seen["timeline"].as_str().unwrap().contains("received"),
        "{seen}"
    );
    for shot in ["1-sign-in", "2-dashboard", "3-dead-letters", "4-redriven"] {
        assert!(artifacts.join(format!("{shot}.png")).exists(), "{shot}");
    }

    // Back in its source queue, and gone from the dead letters.
    let (_, page) = http(
        &server.address,
        "GET",
        &format!("/v1/admin/queues/{work}/messages"),
        &[OPERATOR],
        "",
    )
    .await;
    assert!(page.contains(&poison), "{page}");
    let (_, page) = http(
        &server.address,
        "GET",
        &format!("/v1/admin/queues/{dlq}/messages"),
        &[OPERATOR],
        "",
    )
    .await;
    assert!(!page.contains(&poison), "{page}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingest_keys_reach_no_operator_route_and_cross_site_posts_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), CONFIG);
    let server = start(&dir.path().join("data"), &[], Some(&config));
    let (status, doc) = http(&server.address, "GET", "/openapi.json", &[], "").await;
    assert_eq!(status, 200);
    let doc: Value = serde_json::from_str(&doc).unwrap();
    let mut checked = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        if !path.starts_with("/v1/admin") {
            continue;
        }
        let concrete = path
            .replace("{name}", "acme-test-ops-jobs")
            .replace("{message_id}", "01a232a6-5b41-70ce-a411-cf5c35820ab7");
        for method in item.as_object().unwrap().keys() {
            let method = method.to_uppercase();
            let body = if method == "POST" { "{}" } else { "" };
            let (status, answer) =
                http(&server.address, &method, &concrete, &[JSON, INGEST], body).await;
            assert_eq!(
                status, 403,
                "{method} {concrete} with an ingest key: {answer}"
            );
            let (status, _) = http(&server.address, &method, &concrete, &[JSON], body).await;
            assert_eq!(status, 401, "{method} {concrete} with no key");
            checked += 1;
        }
    }
    assert!(checked >= 15, "only {checked} operator routes");
    // The dashboard itself: a sign-in page, and an ingest key does not sign in.
    let (status, page) = http(&server.address, "GET", "/dashboard", &[], "").await;
    assert_eq!(status, 200);
    assert!(page.contains("Operator key"), "{page}");
    let (status, _) = http(&server.address, "GET", "/dashboard", &[INGEST], "").await;
    assert_eq!(status, 403, "an ingest key does not open the dashboard");
    let (status, page) = http(&server.address, "GET", "/dashboard", &[OPERATOR], "").await;
    assert_eq!(status, 200);
    assert!(
        page.contains("csrf-token"),
        "a script with an operator key gets the page"
    );
    let form = ("content-type", "application/x-www-form-urlencoded");
    let (status, _) = http(
        &server.address,
        "POST",
        "/dashboard/login",
        &[form],
        "key=ingest-key",
    )
    .await;
    assert_eq!(status, 401);

    // A form another site's page posts: refused, even with a real operator key's session.
    let purge = "/v1/admin/queues/acme-test-ops-jobs/purge";
    let (status, answer) = http(
        &server.address,
        "POST",
        purge,
        &[OPERATOR, ("origin", "https://evil.example"), form],
        "",
    )
    .await;
    assert_eq!(status, 403, "{answer}");
    assert!(answer.contains("cross-site"), "{answer}");
    let (status, _) = http(
        &server.address,
        "POST",
        "/dashboard/login",
        &[form, ("origin", "https://evil.example")],
        "key=op-key",
    )
    .await;
    assert_eq!(status, 403, "a sign-in from another site");
}
