//! Job status and e-mail campaigns in a real `conveyor serve`, on the embedded default and on
//! SQS + S3 (moto_server), against a SendGrid stand-in that checks its API key and records what
//! it was sent:
//! - job status walks queued → in flight → succeeded (a delayed queue, a slow endpoint);
//! - an address SendGrid refuses reaches the dead-letter queue after one receive, with
//!   SendGrid's error in the job status;
//! - a 429 with `Retry-After: 2` delays the retry by 2 s, not by the visibility timeout;
//! - a campaign of 1,000 at 50 e-mails a second (200 at 10 on moto, see there) takes at least
//!   19 s and sends each e-mail exactly once, and its counts say so.

mod common;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use serde_json::{json, Value};

const API_KEY: &str = "SG.test-key";

/// What the stand-in received: the recipient of each accepted or refused request, and when.
#[derive(Default)]
struct Received {
    requests: Vec<(String, Instant)>,
}

/// SendGrid's `POST /v3/mail/send`, enough of it: 401 without the key; `limited@…` answers 429
/// with `Retry-After: 2` the first time; `@invalid.example` answers SendGrid's 400 for an
/// invalid address; everything else 202. `POST /slow` takes 3 s, for the job-status walk.
async fn sendgrid(received: Arc<Mutex<Received>>) -> String {
    use axum::http::{HeaderMap, StatusCode};
    use axum::response::IntoResponse;
    let app = axum::Router::new()
        .route(
            "/v3/mail/send",
            axum::routing::post(move |headers: HeaderMap, axum::Json(body): axum::Json<Value>| {
                let received = received.clone();
                async move {
                    if headers.get("authorization").and_then(|v| v.to_str().ok())
                        != Some(&format!("Bearer {API_KEY}"))
                    {
                        return (StatusCode::UNAUTHORIZED, "{\"errors\":[{\"message\":\"bad key\"}]}")
                            .into_response();
                    }
                    let to = body["personalizations"][0]["to"][0]["email"]
                        .as_str()
                        .unwrap_or("")
                        .to_string();
                    let seen = {
                        let mut r = received.lock().unwrap();
                        let seen = r.requests.iter().filter(|(t, _)| *t == to).count();
                        r.requests.push((to.clone(), Instant::now()));
                        seen
                    };
                    if to.starts_with("limited@") && seen == 0 {
                        return (
                            StatusCode::TOO_MANY_REQUESTS,
                            [("retry-after", "2")],
                            "{\"errors\":[{\"message\":\"too many requests\"}]}",
                        )
                            .into_response();
                    }
                    if to.ends_with("@invalid.example") {
                        let error = json!({"errors": [{"message": "The to email does not contain a valid address.",
                            "field": "personalizations.0.to.0.email"}]});
                        return (StatusCode::BAD_REQUEST, error.to_string()).into_response();
                    }
                    StatusCode::ACCEPTED.into_response()
                }
            }),
        )
        .route(
            "/slow",
            axum::routing::post(|| async {
                tokio::time::sleep(Duration::from_secs(3)).await;
                axum::Json(json!({ "ok": true }))
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    base
}

/// Two environments over the same queues: `test` embedded, `aws` on SQS and S3 (moto).
fn config(dir: &std::path::Path, base: &str, rate: u32) -> std::path::PathBuf {
    write_config(
        dir,
        &format!(
            r#"
instance = "acme"
use_case = "mht"
environment = "test"

[queues.emails]
fifo = true
visibility = "30s"
max_receive_count = 3

[queues.emails.handler]
kind = "email"
from = "Acme <noreply@acme.example>"
transport = {{ kind = "sendgrid", url = "{base}" }}
templates.default.text = "{{{{ text or '' }}}}"

[queues.emails.worker]
rate = {rate}.0
concurrency = 8

[queues.jobs]
delay = "2s"
visibility = "30s"

[queues.jobs.handler]
kind = "http"
url = "{base}/slow"

[environments.test]
data_dir = "unused"
bucket_suffix = "data"

[environments.test.secrets]
sendgrid_api_key = "{API_KEY}"

[environments.aws]
data_dir = "unused"
bucket_suffix = "data"

[environments.aws.backend]
queue = "sqs"
store = "s3"

[environments.aws.secrets]
sendgrid_api_key = "{API_KEY}"
"#
        ),
    )
}

async fn get_json(address: &str, path: &str) -> Value {
    // A campaign's counts are a lookup per open recipient: on moto's S3, a few hundred a second.
    let (status, body) = try_http_within(address, "GET", path, &[], "", Duration::from_secs(60))
        .await
        .expect("the server answers");
    assert_eq!(status, 200, "GET {path}: {body}");
    serde_json::from_str(&body).unwrap()
}

async fn post_json(address: &str, path: &str, body: &Value) -> Value {
    let (status, answer) = try_http_within(
        address,
        "POST",
        path,
        &[JSON],
        &body.to_string(),
        Duration::from_secs(60),
    )
    .await
    .expect("the server answers");
    assert_eq!(status, 202, "POST {path}: {answer}");
    serde_json::from_str(&answer).unwrap()
}

/// Poll a job's status until `done`, answering every distinct status seen on the way.
async fn watch_job(address: &str, url: &str, done: &str, within: Duration) -> (Vec<String>, Value) {
    let deadline = Instant::now() + within;
    let mut seen: Vec<String> = Vec::new();
    loop {
        let status = get_json(address, url).await;
        let now = status["status"].as_str().unwrap_or("?").to_string();
        if seen.last() != Some(&now) {
            seen.push(now.clone());
        }
        if now == done {
            return (seen, status);
        }
        assert!(
            Instant::now() < deadline,
            "job {url} never became {done}: saw {seen:?}, last {status}"
        );
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
}

/// The campaign's size and the queue's rate: `recipients / rate - 1` seconds at least (one
/// second's burst, then the rate).
struct Campaign {
    recipients: usize,
    rate: u32,
}

async fn scenario(server: &Server, received: Arc<Mutex<Received>>, campaign: Campaign) {
    let Campaign {
        recipients: size,
        rate,
    } = campaign;
    let address = server.address.as_str();

    // queued (the queue delays every message 2 s) → in flight (the endpoint takes 3 s) → succeeded.
    let answer = post_json(
        address,
        "/v1/queues/jobs/messages",
        &json!({ "body": { "n": 1 } }),
    )
    .await;
    let url = answer["status_url"]
        .as_str()
        .expect("the answer holds the status URL")
        .to_string();
    let (walk, done) = watch_job(address, &url, "succeeded", Duration::from_secs(30)).await;
    assert_eq!(walk, ["queued", "in_flight", "succeeded"], "{done}");
    assert!(
        done["result_key"]
            .as_str()
            .unwrap()
            .starts_with("results/acme-"),
        "{done}"
    );
    assert_eq!(done["output"]["status"], 200, "{done}");

    // Refused by SendGrid: to the DLQ after one receive, SendGrid's words in the status.
    let answer = post_json(
        address,
        "/v1/emails",
        &json!({ "to": "nobody@invalid.example", "subject": "Hello", "variables": { "text": "hi" } }),
    )
    .await;
    let url = answer["status_url"].as_str().unwrap().to_string();
    let (_, dead) = watch_job(address, &url, "dead_lettered", Duration::from_secs(30)).await;
    assert_eq!(dead["receive_count"], 1, "{dead}");
    assert_eq!(dead["rejected"], true, "{dead}");
    assert!(
        dead["error"]
            .as_str()
            .unwrap()
            .contains("does not contain a valid address"),
        "{dead}"
    );
    assert!(
        dead["dead_letter_queue"]
            .as_str()
            .unwrap()
            .ends_with("-emails-dlq.fifo"),
        "{dead}"
    );

    // 429 with Retry-After: 2 → the second try 2 s later, not after the 30 s visibility timeout.
    let answer = post_json(
        address,
        "/v1/emails",
        &json!({ "to": "limited@acme.example", "subject": "Hello", "variables": { "text": "hi" } }),
    )
    .await;
    let url = answer["status_url"].as_str().unwrap().to_string();
    let (_, sent) = watch_job(address, &url, "succeeded", Duration::from_secs(30)).await;
    assert_eq!(sent["receive_count"], 2, "{sent}");
    let tries: Vec<Instant> = received
        .lock()
        .unwrap()
        .requests
        .iter()
        .filter(|(to, _)| to == "limited@acme.example")
        .map(|(_, at)| *at)
        .collect();
    assert_eq!(tries.len(), 2);
    let gap = tries[1] - tries[0];
    assert!(
        gap >= Duration::from_secs(2) && gap < Duration::from_secs(10),
        "retried after {gap:?}"
    );

    // A campaign of `size` at `rate` a second.
    let recipients: Vec<Value> = (0..size)
        .map(|i| json!({ "email": format!("r{i}@list.example"), "name": format!("Reader {i}"), "variables": { "n": i } }))
        .collect();
    let started = Instant::now();
    let answer = post_json(
        address,
        "/v1/emails/campaigns",
        &json!({ "subject": "News for {{ name }}", "template": "Hello {{ name }}, number {{ n }}.",
                 "html_template": "<p>Hello {{ name }}</p>", "recipients": recipients }),
    )
    .await;
    assert_eq!(answer["recipients"], size, "{answer}");
    let campaign = answer["status_url"].as_str().unwrap().to_string();
    let early = get_json(address, &campaign).await;
    assert_eq!(early["recipients"], size);
    assert!(early["queued"].as_u64().unwrap() > 0, "{early}");
    let deadline = Instant::now() + Duration::from_secs(120);
    let last = loop {
        let counts = get_json(address, &campaign).await;
        if counts["sent"] == size {
            break counts;
        }
        assert!(
            Instant::now() < deadline,
            "the campaign did not finish: {counts}"
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    };
    assert_eq!(
        (
            last["queued"].as_u64(),
            last["failed"].as_u64(),
            last["rejected"].as_u64()
        ),
        (Some(0), Some(0), Some(0)),
        "{last}"
    );
    let requests = received.lock().unwrap().requests.clone();
    let mut per_recipient: BTreeMap<&str, usize> = BTreeMap::new();
    let mut latest = started;
    for (to, at) in &requests {
        if to.ends_with("@list.example") {
            *per_recipient.entry(to.as_str()).or_default() += 1;
            latest = latest.max(*at);
        }
    }
    assert_eq!(per_recipient.len(), size);
    assert!(
        per_recipient.values().all(|n| *n == 1),
        "each e-mail exactly once"
    );
    let took = latest - started;
    let least = Duration::from_secs_f64(size as f64 / f64::from(rate) - 1.0);
    assert!(took >= least, "{size} at {rate}/s took only {took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_and_campaigns_on_the_embedded_default() {
    let received = Arc::new(Mutex::new(Received::default()));
    let base = sendgrid(received.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), &base, 50);
    let server = start(&dir.path().join("data"), &[], Some(&config));
    let campaign = Campaign {
        recipients: 1000,
        rate: 50,
    };
    scenario(&server, received, campaign).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_and_campaigns_on_sqs_and_s3() {
    let moto = conveyor_aws::testing::start_moto();
    let received = Arc::new(Mutex::new(Received::default()));
    let base = sendgrid(received.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), &base, 10);
    let env = [
        ("CONVEYOR_ENVIRONMENT", "aws"),
        ("CONVEYOR_AWS_ENDPOINT", moto.url.as_str()),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_EC2_METADATA_DISABLED", "true"),
    ];
    let provision = std::process::Command::new(BIN)
        .args(["provision", "--config"])
        .arg(&config)
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .envs(env)
        .output()
        .unwrap();
    assert!(
        provision.status.success(),
        "{}",
        String::from_utf8_lossy(&provision.stderr)
    );
    let server = start(&dir.path().join("data"), &env, Some(&config));
    // moto's SendMessageBatch takes time in proportion to the queue's length (measured: 30
    // batches into a FIFO queue, 5.8 s, the last ten at 280 ms each), so 1,000 at once would
    // outlast the request timeout: the same 19 s proof with 200 at 10 a second.
    let campaign = Campaign {
        recipients: 200,
        rate: 10,
    };
    scenario(&server, received, campaign).await;
}
