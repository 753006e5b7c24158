//! Alarms in a real `conveyor serve`: a paused queue pushed past its depth threshold posts
//! exactly one Discord-shaped ALARM to a local webhook within two evaluation periods (the
//! webhook's first answer a 429 whose `retry_after` is waited out), and one OK once it drains;
//! a Slack-compatible webhook and a signed generic webhook get the same two; each change is
//! kept in the alarm history, which `/v1/admin/alarms` and `conveyor alarms ls|history` show.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use serde_json::{json, Value};

/// Discord's webhook, enough of it: the first post is refused with a 429 and `retry_after`,
/// the others accepted and recorded with when they came.
async fn webhook(
    posts: Arc<Mutex<Vec<(Instant, Value)>>>,
    refused: Arc<Mutex<Option<Instant>>>,
    others: Others,
) -> String {
    use axum::http::StatusCode;
    use axum::response::IntoResponse;
    let app = axum::Router::new().route(
        "/api/webhooks/1/token",
        axum::routing::post(move |axum::Json(body): axum::Json<Value>| {
            let (posts, refused) = (posts.clone(), refused.clone());
            async move {
                let mut first = refused.lock().unwrap();
                if first.is_none() {
                    *first = Some(Instant::now());
                    return (
                        StatusCode::TOO_MANY_REQUESTS,
                        axum::Json(json!({ "message": "You are being rate limited.", "retry_after": 1.5, "global": false })),
                    )
                        .into_response();
                }
                posts.lock().unwrap().push((Instant::now(), body.clone()));
                axum::Json(json!({ "id": "1", "content": body["content"] })).into_response()
            }
        }),
    );
    let app = app.route(
        "/other/{channel}",
        axum::routing::post(
            move |axum::extract::Path(channel): axum::extract::Path<String>,
                  headers: axum::http::HeaderMap,
                  body: String| {
                let others = others.clone();
                async move {
                    let signature = headers
                        .get("x-conveyor-signature")
                        .map(|v| v.to_str().unwrap().to_string());
                    others.lock().unwrap().push((channel, signature, body));
                    "ok"
                }
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    base
}

/// What the Slack and generic webhooks received: (channel, signature header, body).
type Others = Arc<Mutex<Vec<(String, Option<String>, String)>>>;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deep_queue_raises_one_alarm_and_its_recovery_tells_ok() {
    let posts: Arc<Mutex<Vec<(Instant, Value)>>> = Default::default();
    let refused: Arc<Mutex<Option<Instant>>> = Default::default();
    let others: Others = Default::default();
    let base = webhook(posts.clone(), refused.clone(), others.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        &format!(
            r#"
instance = "acme"
use_case = "ops"
environment = "test"

[queues.jobs]
handler = "log"
alarms.depth = {{ threshold = 3, period = "10s", evaluation_periods = 1 }}

[environments.test]
data_dir = "unused"
bucket_suffix = "data"
alarms = {{ discord_webhook_secret = "discord_alarm_webhook", slack_webhook_secret = "slack_alarm_webhook", webhook_url = "{base}/other/signed", webhook_signing_secret = "alarm_signing_key", min_interval = "1s" }}

[environments.test.secrets]
discord_alarm_webhook = "{base}/api/webhooks/1/token"
slack_alarm_webhook = "{base}/other/slack"
alarm_signing_key = "k3y"
"#
        ),
    );
    let data = dir.path().join("data");
    let server = start(&data, &[], Some(&config));
    let queue = "acme-test-ops-jobs";
    let (status, body) = http(
        &server.address,
        "POST",
        &format!("/v1/admin/queues/{queue}/pause"),
        &[],
        "",
    )
    .await;
    assert!(status < 300, "{body}");
    // The pause is read once per poll: let the loops see it before anything arrives.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let pushed = Instant::now();
    for n in 0..5 {
        let (status, body) = http(
            &server.address,
            "POST",
            "/v1/queues/jobs/messages",
            &[JSON],
            &json!({ "body": { "n": n } }).to_string(),
        )
        .await;
        assert_eq!(status, 202, "{body}");
    }

    until_within("the alarm is posted", Duration::from_secs(40), || {
        !posts.lock().unwrap().is_empty()
    })
    .await;
    let (at, alarm) = posts.lock().unwrap()[0].clone();
    assert!(
        at - pushed <= Duration::from_secs(25),
        "within two periods of 10 s (and one sample): {:?}",
        at - pushed
    );
    assert_eq!(alarm["content"], format!("ALARM: {queue}-depth"), "{alarm}");
    assert_eq!(alarm["embeds"][0]["fields"][2]["value"], "ALARM", "{alarm}");
    let first_try = refused.lock().unwrap().expect("the 429 came first");
    assert!(
        at - first_try >= Duration::from_millis(1500),
        "retry_after waited out: {:?}",
        at - first_try
    );

    let (status, body) = http(
        &server.address,
        "POST",
        &format!("/v1/admin/queues/{queue}/resume"),
        &[],
        "",
    )
    .await;
    assert!(status < 300, "{body}");
    until_within("the recovery is posted", Duration::from_secs(40), || {
        posts.lock().unwrap().len() >= 2
    })
    .await;
    tokio::time::sleep(Duration::from_secs(12)).await;
    let posts = posts.lock().unwrap().clone();
    assert_eq!(posts.len(), 2, "exactly one ALARM and one OK: {posts:?}");
    assert_eq!(posts[1].1["content"], format!("OK: {queue}-depth"));

    until_within(
        "the other channels tell both",
        Duration::from_secs(10),
        || others.lock().unwrap().len() >= 4,
    )
    .await;
    let others = others.lock().unwrap().clone();
    assert_eq!(others.len(), 4, "one ALARM and one OK each: {others:?}");
    let slack: Vec<Value> = others
        .iter()
        .filter(|(c, _, _)| c == "slack")
        .map(|(_, _, b)| serde_json::from_str(b).unwrap())
        .collect();
    assert!(
        slack[0]["text"]
            .as_str()
            .unwrap()
            .starts_with(&format!("ALARM: {queue}-depth")),
        "{slack:?}"
    );
    assert!(
        slack[1]["text"]
            .as_str()
            .unwrap()
            .starts_with(&format!("OK: {queue}-depth")),
        "{slack:?}"
    );
    let signed: Vec<&(String, Option<String>, String)> =
        others.iter().filter(|(c, _, _)| c == "signed").collect();
    assert_eq!(signed.len(), 2, "{others:?}");
    for (_, signature, body) in signed {
        let signature = signature.as_deref().expect("signed");
        let t: u64 = signature
            .strip_prefix("t=")
            .and_then(|r| r.split(',').next())
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(
            signature,
            conveyor_handlers::signature("k3y", t, body.as_bytes())
        );
        let v: Value = serde_json::from_str(body).unwrap();
        assert_eq!(v["body"]["alarm"], format!("{queue}-depth"), "{v}");
    }

    // The operator's view: the alarm's state, and its history newest first.
    let (status, board) = http(&server.address, "GET", "/v1/admin/alarms", &[], "").await;
    assert_eq!(status, 200, "{board}");
    let board: Value = serde_json::from_str(&board).unwrap();
    let alarm = &board["alarms"][0];
    assert_eq!(
        (alarm["name"].as_str(), alarm["state"].as_str()),
        (Some(format!("{queue}-depth").as_str()), Some("OK")),
        "{board}"
    );
    // What each channel last did with the alarm is visible.
    for channel in ["discord", "slack", "webhook"] {
        assert_eq!(
            alarm["notifications"][channel]["outcome"], "sent",
            "{board}"
        );
        assert_eq!(alarm["notifications"][channel]["state"], "OK", "{board}");
    }
    let ls = operator_cli(&server, "alarms", &["ls"]);
    assert!(
        ls.contains(&format!("{queue}-depth")) && ls.contains("OK") && ls.contains("> 3"),
        "{ls}"
    );
    let history = operator_cli(&server, "alarms", &["history", &format!("{queue}-depth")]);
    let lines: Vec<&str> = history.lines().skip(1).collect();
    assert!(
        lines[0].contains("ALARM") && lines[0].contains(" OK "),
        "newest first: {history}"
    );
    assert!(lines[1].contains("ALARM"), "{history}");

    let history = data.join(format!("objects/_conveyor/alarms/history/{queue}-depth"));
    let mut states: Vec<String> = std::fs::read_dir(&history)
        .unwrap()
        .map(|e| {
            let v: Value =
                serde_json::from_slice(&std::fs::read(e.unwrap().path()).unwrap()).unwrap();
            format!("{}@{}", v["to"].as_str().unwrap(), v["at"])
        })
        .collect();
    states.sort_by_key(|s| s.split('@').nth(1).unwrap().parse::<i64>().unwrap());
    let states: Vec<&str> = states
        .iter()
        .map(|s| s.split('@').next().unwrap())
        .collect();
    // From INSUFFICIENT_DATA to OK first, unless the first full period already saw the backlog.
    assert!(
        states == ["OK", "ALARM", "OK"] || states == ["ALARM", "OK"],
        "{states:?}"
    );
}
