//! The seed's feedback flow in a real `conveyor serve`: a Zendesk ticket, then a confirmation
//! e-mail through a real SMTP server (aiosmtpd). The worker is SIGKILLed while the e-mail step
//! is under way; after a restart the message resumes at that step, so there is exactly one
//! ticket and exactly one e-mail, and the e-mail names the ticket the first step opened.

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn feedback_opens_one_ticket_and_sends_one_email_though_the_worker_dies_between() {
    let created = Arc::new(AtomicU64::new(0));
    let desk = zendesk(created.clone()).await;
    let mail = SmtpServer::start();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("conveyor.toml");
    std::fs::write(
        &config,
        format!(
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
transport = {{ kind = "smtp", host = "127.0.0.1", port = {port}, security = "none", username = "mailer", password_secret = "smtp_password" }}
templates.default.subject = "We received your feedback"
templates.default.text = "Hi {{{{ name }}}}, your ticket is {{{{ steps.ticket.ticket_id }}}}."

[environments.test]
data_dir = "unused"
bucket_suffix = "data"

[environments.test.secrets]
zendesk_api_token = "zd-token"
smtp_password = "s3cret-smtp"
"#,
            port = mail.port
        ),
    )
    .unwrap();
    let data = dir.path().join("data");
    let mut first = start(&data, &[], Some(&config));
    let (status, body) = http(
        &first.address,
        "POST",
        "/v1/feedback",
        &[("content-type", "application/json")],
        r#"{"user_id":"u-1","message":"The export button does nothing","email":"ada@slow.example","name":"Ada"}"#,
    )
    .await;
    assert_eq!(status, 202, "{body}");
    until("the e-mail step is under way", || {
        mail.out_dir().join("stalled-ada@slow.example").exists()
    })
    .await;
    assert_eq!(created.load(Ordering::SeqCst), 1, "the ticket is open");
    first.child.kill().unwrap();
    first.child.wait().unwrap();

    let second = start(&data, &[], Some(&config));
    until("the message has its result", || {
        !result_files(&data).is_empty()
    })
    .await;
    let record: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&result_files(&data)[0]).unwrap()).unwrap();
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
    assert_eq!(record["output"]["ticket"]["ticket_id"], 5000, "{record}");
    assert_eq!(record["output"]["confirm"]["smtp_code"], "250", "{record}");
    drop(second);
}
