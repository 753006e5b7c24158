//! The email handler against a real SMTP server (aiosmtpd, started by the test) that checks
//! AUTH and records the MIME structure of what it accepts, and against a local server with
//! SendGrid's v3 request and answer shapes.

use std::sync::{Arc, Mutex};

use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use conveyor_config::HandlerConfig;
use conveyor_handlers::testing::SmtpServer;
use conveyor_handlers::{build, HandlerEnv};
use conveyor_queue::ReceivedMessage;
use conveyor_worker::{Handler, HandlerError};
use serde_json::{json, Value};

fn smtp_server() -> SmtpServer {
    SmtpServer::start()
}

fn received(server: &SmtpServer) -> Vec<Value> {
    server.received()
}

fn env(dry_run: bool, secrets: &[(&str, &str)]) -> HandlerEnv {
    let store =
        conveyor_store::Store::local(std::env::temp_dir().join("conveyor-email-tests")).unwrap();
    secrets.iter().fold(
        HandlerEnv::new(store, "emails").dry_run(dry_run),
        |e, (k, v)| e.with_secret(k, v),
    )
}

fn handler(config: Value, env: &HandlerEnv) -> Arc<dyn Handler> {
    let config: HandlerConfig = serde_json::from_value(config).unwrap();
    build(&config, env).unwrap()
}

fn smtp_config(port: u16) -> Value {
    json!({
        "kind": "email",
        "from": "MHT <noreply@mht.example>",
        "transport": { "kind": "smtp", "host": "127.0.0.1", "port": port, "security": "none", "username": "mailer", "password_secret": "smtp_password" },
        "templates": {
            "default": { "text": "{{ text }}" },
            "welcome": { "subject": "Welcome, {{ name }}", "text": "Hello {{ name }}, your plan is {{ plan }}.", "html": "<p>Hello <b>{{ name }}</b>, your plan is {{ plan }}.</p>" },
        },
    })
}

fn email(id: &str, body: Value) -> ReceivedMessage {
    ReceivedMessage {
        message_id: id.into(),
        body: body.to_string(),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtp_sends_a_multipart_message_with_auth_and_templates() {
    let server = smtp_server();
    let h = handler(
        smtp_config(server.port),
        &env(false, &[("smtp_password", "s3cret-smtp")]),
    );
    let out = h
        .handle(&email("e-1", json!({ "to": "ada@example.com", "subject": "ignored", "template": "welcome", "variables": { "name": "Ada", "plan": "pro" } })))
        .await
        .unwrap();
    assert_eq!(out["smtp_code"], "250", "{out}");
    let got = received(&server);
    assert_eq!(got.len(), 1);
    let m = &got[0];
    assert_eq!(
        (m["authenticated"].as_bool(), m["login"].as_str()),
        (Some(true), Some("mailer"))
    );
    assert_eq!(m["rcpt_tos"], json!(["ada@example.com"]));
    assert_eq!(m["mail_from"], "noreply@mht.example");
    assert_eq!(m["subject"], "Welcome, Ada");
    assert_eq!(m["content_type"], "multipart/alternative");
    assert_eq!(m["parts"][0]["type"], "text/plain");
    assert_eq!(
        m["parts"][0]["text"].as_str().unwrap().trim(),
        "Hello Ada, your plan is pro."
    );
    assert_eq!(m["parts"][1]["type"], "text/html");
    assert!(m["parts"][1]["text"]
        .as_str()
        .unwrap()
        .contains("<b>Ada</b>"));
    assert_eq!(m["conveyor_message_id"], "e-1");

    // A plain message: the default template, one text part.
    h.handle(&email("e-2", json!({ "to": "bob@example.com", "subject": "Plain", "variables": { "text": "just text" } }))).await.unwrap();
    let plain = &received(&server)[1];
    assert_eq!(
        (plain["content_type"].as_str(), plain["subject"].as_str()),
        (Some("text/plain"), Some("Plain"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hard_bounce_or_a_bad_address_rejects_and_a_transient_refusal_or_bad_login_retries() {
    let server = smtp_server();
    let h = handler(
        smtp_config(server.port),
        &env(false, &[("smtp_password", "s3cret-smtp")]),
    );
    match h
        .handle(&email(
            "b-1",
            json!({ "to": "gone@bounce.example", "subject": "x", "variables": { "text": "x" } }),
        ))
        .await
    {
        Err(HandlerError::Reject { reason }) => assert!(
            reason.contains("550") || reason.contains("mailbox unavailable"),
            "{reason}"
        ),
        other => panic!("a 550 is a hard bounce: {other:?}"),
    }
    match h
        .handle(&email(
            "b-2",
            json!({ "to": "not an address", "subject": "x" }),
        ))
        .await
    {
        Err(HandlerError::Reject { reason }) => {
            assert!(reason.contains("not an e-mail address"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
    match h
        .handle(&email(
            "b-3",
            json!({ "to": "later@busy.example", "subject": "x", "variables": { "text": "x" } }),
        ))
        .await
    {
        Err(HandlerError::Retry { .. }) => {}
        other => panic!("a 451 is retried: {other:?}"),
    }
    match h
        .handle(&email(
            "b-4",
            json!({ "to": "a@example.com", "subject": "x", "template": "nope" }),
        ))
        .await
    {
        Err(HandlerError::Reject { reason }) => assert!(
            reason.contains("nope") && reason.contains("welcome"),
            "{reason}"
        ),
        other => panic!("{other:?}"),
    }
    let wrong = handler(
        smtp_config(server.port),
        &env(false, &[("smtp_password", "wrong")]),
    );
    let refused = wrong
        .handle(&email(
            "b-5",
            json!({ "to": "a@example.com", "subject": "x", "variables": { "text": "x" } }),
        ))
        .await;
    match refused {
        Err(HandlerError::Retry { reason, .. }) => {
            assert!(
                reason.contains("login") && !reason.contains("wrong"),
                "{reason}"
            )
        }
        other => panic!("a refused login is not a bounce: {other:?}"),
    }
    assert!(received(&server).is_empty(), "nothing was accepted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_smtp_dry_run_stores_the_exact_message_and_sends_nothing() {
    let server = smtp_server();
    let h = handler(smtp_config(server.port), &env(true, &[]));
    let out = h.handle(&email("d-1", json!({ "to": "ada@example.com", "template": "welcome", "variables": { "name": "Ada", "plan": "pro" } }))).await.unwrap();
    assert_eq!(out["dry_run"], true);
    let text = out["message"].as_str().unwrap();
    assert!(
        text.contains("Subject: Welcome, Ada")
            && text.contains("multipart/alternative")
            && text.contains("X-Conveyor-Message-Id: d-1"),
        "{text}"
    );
    assert_eq!(out["envelope"]["to"], json!(["ada@example.com"]));
    assert!(received(&server).is_empty());
}

async fn sendgrid(seen: Arc<Mutex<Vec<Value>>>) -> String {
    let app = axum::Router::new().route(
        "/v3/mail/send",
        axum::routing::post(move |headers: HeaderMap, Json(body): Json<Value>| {
            let seen = seen.clone();
            async move {
                if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some("Bearer SG.test-key") {
                    return (StatusCode::UNAUTHORIZED, Json(json!({ "errors": [{ "message": "The provided authorization grant is invalid, expired, or revoked" }] })));
                }
                let to = body["personalizations"][0]["to"][0]["email"].as_str().unwrap_or("").to_string();
                if to.ends_with("@busy.example") {
                    return (StatusCode::TOO_MANY_REQUESTS, Json(json!({ "errors": [{ "message": "too many requests" }] })));
                }
                seen.lock().unwrap().push(body);
                (StatusCode::ACCEPTED, Json(json!(null)))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    base
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sendgrid_gets_its_v3_request_and_its_answers_map_to_outcomes() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let base = sendgrid(seen.clone()).await;
    let config = |key: &str| {
        let mut c = smtp_config(0);
        c["transport"] = json!({ "kind": "sendgrid", "url": base });
        (c, env(false, &[("sendgrid_api_key", key)]))
    };
    let (c, e) = config("SG.test-key");
    let h = handler(c, &e);
    let out = h.handle(&email("s-1", json!({ "to": "ada@example.com", "name": "Ada", "template": "welcome", "variables": { "plan": "pro" } }))).await.unwrap();
    assert_eq!(
        (out["provider"].as_str(), out["status"].as_u64()),
        (Some("sendgrid"), Some(202))
    );
    let body = seen.lock().unwrap()[0].clone();
    assert_eq!(
        body["personalizations"][0]["to"][0],
        json!({ "email": "ada@example.com", "name": "Ada" })
    );
    assert_eq!(
        body["from"],
        json!({ "email": "noreply@mht.example", "name": "MHT" })
    );
    assert_eq!(body["subject"], "Welcome, Ada");
    assert_eq!(body["content"][0]["type"], "text/plain");
    assert_eq!(body["content"][1]["type"], "text/html");
    assert_eq!(body["custom_args"]["conveyor_message_id"], "s-1");
    assert!(matches!(
        h.handle(&email(
            "s-2",
            json!({ "to": "x@busy.example", "subject": "x" })
        ))
        .await,
        Err(HandlerError::Retry { .. })
    ));
    let (c, e) = config("SG.revoked");
    match handler(c, &e)
        .handle(&email(
            "s-3",
            json!({ "to": "ada@example.com", "subject": "x" }),
        ))
        .await
    {
        Err(HandlerError::Reject { reason }) => assert!(
            reason.contains("401") && !reason.contains("SG.revoked"),
            "{reason}"
        ),
        other => panic!("{other:?}"),
    }
}

/// The runtime with the email handler on the embedded engine: a hard bounce and an invalid
/// address each reach the dead-letter queue after one receive, the good one is sent once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bounced_or_invalid_recipient_reaches_the_dead_letter_queue_after_one_receive() {
    use conveyor_queue::{Queue, ReceiveRequest, SendMessage};
    use conveyor_worker::testing::{eventually, fixture};
    use std::collections::BTreeMap;
    use std::time::Duration;

    let server = smtp_server();
    let f = fixture();
    f.engine
        .create_queue("mail-dlq", &BTreeMap::new(), &BTreeMap::new())
        .await
        .unwrap();
    let policy = format!(
        r#"{{"deadLetterTargetArn":"{}","maxReceiveCount":5}}"#,
        conveyor_queue::Location::default().arn("mail-dlq")
    );
    f.engine
        .create_queue(
            "mail",
            &BTreeMap::from([("RedrivePolicy".to_string(), policy)]),
            &BTreeMap::new(),
        )
        .await
        .unwrap();
    for to in ["ada@example.com", "gone@bounce.example", "not an address"] {
        let body = json!({ "to": to, "subject": "Hello", "variables": { "text": "hi" } });
        f.engine
            .send("mail", SendMessage::new(body.to_string()))
            .await
            .unwrap();
    }
    let handler = handler(
        smtp_config(server.port),
        &env(false, &[("smtp_password", "s3cret-smtp")]),
    );
    let worker = conveyor_worker::QueueWorker {
        queue: "mail".into(),
        handler,
        concurrency: 2,
        visibility: Duration::from_secs(30),
        poll_wait: Duration::from_secs(1),
        shutdown_grace: Duration::from_secs(2),
        backoff: conveyor_worker::Backoff {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(1),
        },
        dead_letter_queue: Some("mail-dlq".into()),
        flow: Default::default(),
        batch: None,
    };
    let stats = Arc::new(conveyor_worker::WorkerStats::default());
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(conveyor_worker::run(
        Arc::new(f.engine.clone()),
        f.store.clone(),
        worker,
        stats.clone(),
        stopped,
    ));
    eventually("two are in the dead-letter queue", async || {
        f.engine.counts("mail-dlq").await.unwrap().visible == 2
    })
    .await;
    eventually("the good one is sent", async || stats.processed() == 1).await;
    stop.send(true).unwrap();
    task.await.unwrap();
    let dead = f
        .engine
        .receive("mail-dlq", ReceiveRequest::up_to(10))
        .await
        .unwrap();
    let mut seen: Vec<String> = dead
        .iter()
        .map(|m| {
            serde_json::from_str::<Value>(&m.body).unwrap()["to"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    seen.sort();
    assert_eq!(seen, ["gone@bounce.example", "not an address"]);
    assert_eq!(
        f.engine.counts("mail").await.unwrap().visible,
        0,
        "nothing left to retry"
    );
    assert_eq!(received(&server).len(), 1, "one e-mail went out");
    assert_eq!(
        stats.failed(),
        2,
        "each refused one was received once, never retried"
    );
}

/// `security = "starttls"` never sends credentials in clear: a server that does not offer
/// STARTTLS gets no AUTH and no e-mail, and the message is retried with a reason saying why.
/// `security = "tls"` against a plain server fails its handshake the same way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_settings_refuse_a_server_that_cannot_encrypt() {
    let server = smtp_server();
    for (security, says) in [
        ("starttls", "does not offer STARTTLS"),
        ("tls", "cannot make a TLS connection"),
    ] {
        let mut config = smtp_config(server.port);
        config["transport"]["security"] = json!(security);
        config["transport"]["host"] = json!("localhost");
        let h = handler(config, &env(false, &[("smtp_password", "s3cret-smtp")]));
        let e = h
            .handle(&email(
                "e-tls",
                json!({ "to": "ada@example.com", "text": "hi" }),
            ))
            .await
            .unwrap_err();
        match e {
            HandlerError::Retry { reason, .. } => {
                assert!(reason.contains(says), "{security}: {reason}")
            }
            other => panic!("{security}: expected a retry, got {other:?}"),
        }
    }
    assert!(received(&server).is_empty(), "nothing was sent");
}
