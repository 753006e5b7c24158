//! The seed's feedback flow in a real `conveyor serve`, on the embedded default and on SQS + S3
//! (moto_server): a Zendesk ticket, then a confirmation e-mail through a real SMTP server
//! (aiosmtpd). The worker is SIGKILLed while the e-mail step is under way (job status says
//! in flight, the ticket step done); after a restart the message resumes at that step, so
//! there is exactly one ticket and exactly one e-mail, and the e-mail names the ticket the
//! first step opened.

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use common::*;
use conveyor_handlers::testing::SmtpServer;

/// Zendesk's tickets endpoint, enough of it: lookup by external id, and create.
async fn zendesk(created: Arc<AtomicU64>) -> String {
    let tickets: Arc<std::sync::Mutex<Vec<serde_json::Value>>> = Default::default();
    let (t1, t2) = (tickets.clone(), tickets);
    let app = axum::Router::new().route(
        "/api/v2/tickets.json",
        axum::routing::get(
            move |q: axum::extract::Query<std::collections::HashMap<String, String>>| {
                let t = t1.clone();
                async move {
                    let found: Vec<_> = t
                        .lock()
                        .unwrap()
                        .iter()
                        .filter(|x| {
                            q.get("external_id")
                                .is_some_and(|id| x["external_id"] == id.as_str())
                        })
                        .cloned()
                        .collect();
                    axum::Json(serde_json::json!({ "tickets": found }))
                }
            },
        )
        .post(move |axum::Json(body): axum::Json<serde_json::Value>| {
            let (t, created) = (t2.clone(), created.clone());
            async move {
                let n = created.fetch_add(1, Ordering::SeqCst);
                let mut ticket = body["ticket"].clone();
                ticket["id"] = serde_json::json!(5000 + n);
                t.lock().unwrap().push(ticket.clone());
                (
                    axum::http::StatusCode::CREATED,
                    axum::Json(serde_json::json!({ "ticket": ticket })),
                )
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    base
}

/// Both environments over the same flow: `test` embedded, `aws` on SQS and S3 (moto).
fn config(dir: &std::path::Path, desk: &str, smtp_port: u16) -> std::path::PathBuf {
    write_config(
        dir,
        &format!(
            r#"
instance = "acme"
use_case = "mht"
environment = "test"

[queues.feedback]
fifo = true
visibility = "3s"

[queues.feedback.handler]
kind = "steps"

[[queues.feedback.handler.steps]]
name = "ticket"
handler = {{ kind = "zendesk", url = "{desk}", email = "agent@acme.example" }}

[[queues.feedback.handler.steps]]
name = "confirm"
[queues.feedback.handler.steps.handler]
kind = "email"
from = "Acme <noreply@acme.example>"
to = "{{{{ email }}}}"
transport = {{ kind = "smtp", host = "127.0.0.1", port = {smtp_port}, security = "none", username = "mailer", password_secret = "smtp_password" }}
templates.default.subject = "We received your feedback"
templates.default.text = "Hi {{{{ name }}}}, your ticket is {{{{ steps.ticket.ticket_id }}}}."

[environments.test]
data_dir = "unused"
bucket_suffix = "data"

[environments.test.secrets]
zendesk_api_token = "zd-token"
smtp_password = "s3cret-smtp"

[environments.aws]
data_dir = "unused"
bucket_suffix = "data"

[environments.aws.backend]
queue = "sqs"
store = "s3"

[environments.aws.secrets]
zendesk_api_token = "zd-token"
smtp_password = "s3cret-smtp"
"#
        ),
    )
}

/// The flow with the worker SIGKILLed while the e-mail step is under way, then restarted.
async fn killed_between_steps(env: &[(&str, &str)]) {
    let peers = Peers::start().await;
    let (created, mail) = (&peers.created, &peers.mail);
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), &peers.desk, mail.port);
    let data = dir.path().join("data");
    if env.iter().any(|(k, _)| *k == "CONVEYOR_AWS_ENDPOINT") {
        let provision = std::process::Command::new(BIN)
            .args(["provision", "--config"])
            .arg(&config)
            .arg("--data-dir")
            .arg(&data)
            .envs(env.iter().copied())
            .output()
            .unwrap();
        assert!(
            provision.status.success(),
            "{}",
            String::from_utf8_lossy(&provision.stderr)
        );
    }
    let (config, data) = (config.as_path(), data.as_path());
    let mut first = start(data, env, Some(config));
    let (status, body) = http(
        &first.address,
        "POST",
        "/v1/feedback",
        &[("content-type", "application/json")],
        r#"{"user_id":"u-1","message":"The export button does nothing","email":"ada@slow.example","name":"Ada"}"#,
    )
    .await;
    assert_eq!(status, 202, "{body}");
    let answer: serde_json::Value = serde_json::from_str(&body).unwrap();
    let url = answer["status_url"].as_str().unwrap().to_string();
    until("the e-mail step is under way", || {
        mail.out_dir().join("stalled-ada@slow.example").exists()
    })
    .await;
    assert_eq!(created.load(Ordering::SeqCst), 1, "the ticket is open");
    let (_, under_way) = http(&first.address, "GET", &url, &[], "").await;
    let under_way: serde_json::Value = serde_json::from_str(&under_way).unwrap();
    assert_eq!(under_way["status"], "in_flight", "{under_way}");
    assert_eq!(under_way["steps_done"][0]["name"], "ticket", "{under_way}");
    first.child.kill().unwrap();
    first.child.wait().unwrap();

    let second = start(data, env, Some(config));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let job = loop {
        let (_, text) = http(&second.address, "GET", &url, &[], "").await;
        let job: serde_json::Value = serde_json::from_str(&text).unwrap();
        if job["status"] == "succeeded" {
            break job;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the job did not finish: {job}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    assert_eq!(created.load(Ordering::SeqCst), 1, "exactly one ticket");
    let mails = mail.received();
    assert_eq!(mails.len(), 1, "exactly one e-mail: {mails:?}");
    assert_eq!(
        mails[0]["rcpt_tos"],
        serde_json::json!(["ada@slow.example"])
    );
    assert_eq!(
        mails[0]["parts"][0]["text"].as_str().unwrap().trim(),
        "Hi Ada, your ticket is 5000."
    );
    assert_eq!(job["steps"][0]["name"], "ticket", "{job}");
    assert_eq!(job["steps"][0]["output"]["ticket_id"], 5000, "{job}");
    assert_eq!(job["steps"][1]["name"], "confirm", "{job}");
    assert_eq!(job["steps"][1]["output"]["smtp_code"], "250", "{job}");
    assert!(job["receive_count"].as_u64().unwrap() >= 2, "{job}");
    drop(second);
}

/// The services the flow calls: Zendesk (counting tickets created) and a real SMTP server.
struct Peers {
    created: Arc<AtomicU64>,
    desk: String,
    mail: SmtpServer,
}

impl Peers {
    async fn start() -> Peers {
        let created = Arc::new(AtomicU64::new(0));
        let desk = zendesk(created.clone()).await;
        Peers {
            created,
            desk,
            mail: SmtpServer::start(),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn feedback_opens_one_ticket_and_sends_one_email_though_the_worker_dies_between() {
    killed_between_steps(&[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_on_sqs_and_s3() {
    let moto = conveyor_aws::testing::start_moto();
    killed_between_steps(&[
        ("CONVEYOR_ENVIRONMENT", "aws"),
        ("CONVEYOR_AWS_ENDPOINT", moto.url.as_str()),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_EC2_METADATA_DISABLED", "true"),
    ])
    .await;
}
