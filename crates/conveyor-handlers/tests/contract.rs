//! The handler contract, written once and run against every handler kind (as the queue
//! conformance suite is for queues): success is a JSON value; a failure worth retrying is
//! `Retry`; one that retrying cannot fix is `Reject`; a handler gives up within its timeout
//! (as `Retry`); and a handler cancelled mid-way (shutdown drops its future) leaves nothing
//! half-done, so the same message succeeds when handled again. Each kind says how to make it
//! succeed, fail, refuse and hang against a local endpoint, or that it cannot (`None`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use conveyor_config::{HandlerConfig, HandlerSpec, HttpConfig, Span, StepConfig, StepsConfig};
use conveyor_handlers::{build, HandlerEnv};
use conveyor_queue::ReceivedMessage;
use conveyor_store::Store;
use conveyor_worker::HandlerError;

/// A local endpoint: `/ok` 200, `/fail` 500, `/bad` 400, `/hang` never answers.
async fn endpoint() -> String {
    use axum::http::StatusCode;
    let app =
        axum::Router::new()
            .route(
                "/ok",
                axum::routing::post(|| async { axum::Json(serde_json::json!({ "ok": true })) }),
            )
            .route(
                "/fail",
                axum::routing::post(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "boom") }),
            )
            .route(
                "/bad",
                axum::routing::post(|| async { (StatusCode::BAD_REQUEST, "no such address") }),
            )
            .route(
                "/hang",
                axum::routing::post(|| async {
                    tokio::time::sleep(Duration::from_secs(600)).await;
                    "late"
                }),
            )
            // App Store Connect under four base URLs.
            .route(
                "/asc-ok/v1/betaTesters",
                axum::routing::post(|| async {
                    (
                        StatusCode::CREATED,
                        axum::Json(serde_json::json!({ "data": { "id": "bt-1" } })),
                    )
                }),
            )
            .route(
                "/asc-fail/v1/betaTesters",
                axum::routing::post(|| async { (StatusCode::SERVICE_UNAVAILABLE, "maintenance") }),
            )
            .route(
                "/asc-bad/v1/betaTesters",
                axum::routing::post(|| async {
                    (StatusCode::FORBIDDEN, r#"{"errors":[{"status":"403"}]}"#)
                }),
            )
            .route(
                "/asc-hang/v1/betaTesters",
                axum::routing::post(|| async {
                    tokio::time::sleep(Duration::from_secs(600)).await;
                    "late"
                }),
            )
            // SendGrid under four base URLs: accepted, failing, refusing, hanging.
            .route(
                "/sg-ok/v3/mail/send",
                axum::routing::post(|| async { StatusCode::ACCEPTED }),
            )
            .route(
                "/sg-fail/v3/mail/send",
                axum::routing::post(|| async { (StatusCode::BAD_GATEWAY, "upstream") }),
            )
            .route(
                "/sg-bad/v3/mail/send",
                axum::routing::post(|| async {
                    (
                        StatusCode::BAD_REQUEST,
                        r#"{"errors":[{"message":"Does not contain a valid address."}]}"#,
                    )
                }),
            )
            .route(
                "/sg-hang/v3/mail/send",
                axum::routing::post(|| async {
                    tokio::time::sleep(Duration::from_secs(600)).await;
                    "late"
                }),
            )
            // Zendesk under four base URLs: no ticket yet, then creating one works, fails, is refused, hangs.
            .route(
                "/zd-ok/api/v2/tickets.json",
                axum::routing::get(|| async { axum::Json(serde_json::json!({ "tickets": [] })) })
                    .post(|| async {
                        (
                            StatusCode::CREATED,
                            axum::Json(serde_json::json!({ "ticket": { "id": 1 } })),
                        )
                    }),
            )
            .route(
                "/zd-fail/api/v2/tickets.json",
                axum::routing::get(|| async { (StatusCode::SERVICE_UNAVAILABLE, "down") }),
            )
            .route(
                "/zd-bad/api/v2/tickets.json",
                axum::routing::get(|| async { axum::Json(serde_json::json!({ "tickets": [] })) })
                    .post(|| async {
                        (
                            StatusCode::UNPROCESSABLE_ENTITY,
                            r#"{"error":"RecordInvalid"}"#,
                        )
                    }),
            )
            .route(
                "/zd-hang/api/v2/tickets.json",
                axum::routing::get(|| async {
                    tokio::time::sleep(Duration::from_secs(600)).await;
                    "late"
                }),
            );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    base
}

/// How one kind is made to do each thing the contract checks; `None` where it cannot (the
/// fail handler never succeeds, the log handler never fails).
trait Kind {
    fn ok(&self, base: &str) -> Option<HandlerConfig>;
    fn retry(&self, base: &str) -> Option<HandlerConfig>;
    fn reject(&self, base: &str) -> Option<HandlerConfig>;
    /// A configuration that would wait on `/hang`, with a 1 s timeout.
    fn hang(&self, base: &str) -> Option<HandlerConfig>;
}

fn http(base: &str, path: &str, timeout: u64) -> HandlerConfig {
    HandlerConfig::Http(HttpConfig::to(
        format!("{base}{path}"),
        Span(Duration::from_secs(timeout)),
    ))
}

fn steps(list: Vec<(&str, HandlerConfig)>) -> HandlerConfig {
    HandlerConfig::Steps(StepsConfig {
        steps: list
            .into_iter()
            .map(|(name, handler)| StepConfig {
                name: name.into(),
                handler: HandlerSpec(handler),
            })
            .collect(),
    })
}

struct Log;
impl Kind for Log {
    fn ok(&self, _: &str) -> Option<HandlerConfig> {
        Some(HandlerConfig::Log {})
    }
    fn retry(&self, _: &str) -> Option<HandlerConfig> {
        None
    }
    fn reject(&self, _: &str) -> Option<HandlerConfig> {
        None
    }
    fn hang(&self, _: &str) -> Option<HandlerConfig> {
        None
    }
}

struct Fail;
impl Kind for Fail {
    fn ok(&self, _: &str) -> Option<HandlerConfig> {
        None
    }
    fn retry(&self, _: &str) -> Option<HandlerConfig> {
        Some(HandlerConfig::Fail {})
    }
    fn reject(&self, _: &str) -> Option<HandlerConfig> {
        None
    }
    fn hang(&self, _: &str) -> Option<HandlerConfig> {
        None
    }
}

struct Http;
impl Kind for Http {
    fn ok(&self, base: &str) -> Option<HandlerConfig> {
        Some(http(base, "/ok", 5))
    }
    fn retry(&self, base: &str) -> Option<HandlerConfig> {
        Some(http(base, "/fail", 5))
    }
    fn reject(&self, base: &str) -> Option<HandlerConfig> {
        Some(http(base, "/bad", 5))
    }
    fn hang(&self, base: &str) -> Option<HandlerConfig> {
        Some(http(base, "/hang", 1))
    }
}

struct Steps;
impl Kind for Steps {
    fn ok(&self, base: &str) -> Option<HandlerConfig> {
        Some(steps(vec![
            ("first", http(base, "/ok", 5)),
            ("second", HandlerConfig::Log {}),
        ]))
    }
    fn retry(&self, base: &str) -> Option<HandlerConfig> {
        Some(steps(vec![
            ("first", http(base, "/ok", 5)),
            ("second", http(base, "/fail", 5)),
        ]))
    }
    fn reject(&self, base: &str) -> Option<HandlerConfig> {
        Some(steps(vec![("first", http(base, "/bad", 5))]))
    }
    fn hang(&self, base: &str) -> Option<HandlerConfig> {
        Some(steps(vec![
            ("first", http(base, "/ok", 5)),
            ("second", http(base, "/hang", 1)),
        ]))
    }
}

fn function(table: serde_json::Value) -> HandlerConfig {
    HandlerConfig::Function(serde_json::from_value(table).unwrap())
}

fn shell(script: &str, timeout: u64) -> HandlerConfig {
    function(
        serde_json::json!({ "command": ["sh", "-c", script], "timeout": format!("{timeout}s") }),
    )
}

/// A function never rejects: as on Lambda, a failed batch is retried and the redrive policy
/// decides when it has failed for good.
struct Function;
impl Kind for Function {
    fn ok(&self, _: &str) -> Option<HandlerConfig> {
        Some(shell("cat > /dev/null; echo null", 5))
    }
    fn retry(&self, _: &str) -> Option<HandlerConfig> {
        Some(shell("cat > /dev/null; echo broken >&2; exit 3", 5))
    }
    fn reject(&self, _: &str) -> Option<HandlerConfig> {
        None
    }
    fn hang(&self, _: &str) -> Option<HandlerConfig> {
        Some(shell("sleep 600", 1))
    }
}

fn zendesk(base: &str, path: &str, timeout: u64) -> HandlerConfig {
    HandlerConfig::Zendesk(
        serde_json::from_value(serde_json::json!({
            "url": format!("{base}{path}"),
            "email": "agent@example.com",
            "timeout": format!("{timeout}s"),
        }))
        .unwrap(),
    )
}

struct Zendesk;
impl Kind for Zendesk {
    fn ok(&self, base: &str) -> Option<HandlerConfig> {
        Some(zendesk(base, "/zd-ok", 5))
    }
    fn retry(&self, base: &str) -> Option<HandlerConfig> {
        Some(zendesk(base, "/zd-fail", 5))
    }
    fn reject(&self, base: &str) -> Option<HandlerConfig> {
        Some(zendesk(base, "/zd-bad", 5))
    }
    fn hang(&self, base: &str) -> Option<HandlerConfig> {
        Some(zendesk(base, "/zd-hang", 1))
    }
}

/// The webhook is a secret: each case names the one (set in `contract`) pointing at its path.
fn discord(hook: &str, timeout: u64) -> HandlerConfig {
    HandlerConfig::Discord(
        serde_json::from_value(serde_json::json!({
            "webhook_secret": hook,
            "timeout": format!("{timeout}s"),
        }))
        .unwrap(),
    )
}

struct Discord;
impl Kind for Discord {
    fn ok(&self, _: &str) -> Option<HandlerConfig> {
        Some(discord("hook_ok", 5))
    }
    fn retry(&self, _: &str) -> Option<HandlerConfig> {
        Some(discord("hook_fail", 5))
    }
    fn reject(&self, _: &str) -> Option<HandlerConfig> {
        Some(discord("hook_bad", 5))
    }
    fn hang(&self, _: &str) -> Option<HandlerConfig> {
        Some(discord("hook_hang", 1))
    }
}

/// As Discord's, the webhook is a secret: the same secrets, Slack's payload.
fn slack(hook: &str, timeout: u64) -> HandlerConfig {
    HandlerConfig::Slack(
        serde_json::from_value(serde_json::json!({
            "webhook_secret": hook,
            "timeout": format!("{timeout}s"),
        }))
        .unwrap(),
    )
}

struct Slack;
impl Kind for Slack {
    fn ok(&self, _: &str) -> Option<HandlerConfig> {
        Some(slack("hook_ok", 5))
    }
    fn retry(&self, _: &str) -> Option<HandlerConfig> {
        Some(slack("hook_fail", 5))
    }
    fn reject(&self, _: &str) -> Option<HandlerConfig> {
        Some(slack("hook_bad", 5))
    }
    fn hang(&self, _: &str) -> Option<HandlerConfig> {
        Some(slack("hook_hang", 1))
    }
}

/// Analytics writes only events batches: the contract's message is not one, so it is refused
/// (a malformed message goes to the DLQ at once); success and retries are its own tests'.
struct Analytics;
impl Kind for Analytics {
    fn ok(&self, _: &str) -> Option<HandlerConfig> {
        None
    }
    fn retry(&self, _: &str) -> Option<HandlerConfig> {
        None
    }
    fn reject(&self, _: &str) -> Option<HandlerConfig> {
        Some(HandlerConfig::Analytics(
            serde_json::from_value(serde_json::json!({})).unwrap(),
        ))
    }
    fn hang(&self, _: &str) -> Option<HandlerConfig> {
        None
    }
}

fn email(base: &str, path: &str, timeout: u64) -> HandlerConfig {
    HandlerConfig::Email(
        serde_json::from_value(serde_json::json!({
            "from": "MHT <noreply@mht.example>",
            "transport": { "kind": "sendgrid", "url": format!("{base}{path}") },
            "timeout": format!("{timeout}s"),
        }))
        .unwrap(),
    )
}

struct Email;
impl Kind for Email {
    fn ok(&self, base: &str) -> Option<HandlerConfig> {
        Some(email(base, "/sg-ok", 5))
    }
    fn retry(&self, base: &str) -> Option<HandlerConfig> {
        Some(email(base, "/sg-fail", 5))
    }
    fn reject(&self, base: &str) -> Option<HandlerConfig> {
        Some(email(base, "/sg-bad", 5))
    }
    fn hang(&self, base: &str) -> Option<HandlerConfig> {
        Some(email(base, "/sg-hang", 1))
    }
}

fn testflight(base: &str, path: &str, timeout: u64) -> HandlerConfig {
    HandlerConfig::Testflight(
        serde_json::from_value(serde_json::json!({
            "url": format!("{base}{path}"),
            "issuer_id": "issuer",
            "key_id": "KEY",
            "beta_group_id": "group",
            "timeout": format!("{timeout}s"),
        }))
        .unwrap(),
    )
}

struct Testflight;
impl Kind for Testflight {
    fn ok(&self, base: &str) -> Option<HandlerConfig> {
        Some(testflight(base, "/asc-ok", 5))
    }
    fn retry(&self, base: &str) -> Option<HandlerConfig> {
        Some(testflight(base, "/asc-fail", 5))
    }
    fn reject(&self, base: &str) -> Option<HandlerConfig> {
        Some(testflight(base, "/asc-bad", 5))
    }
    fn hang(&self, base: &str) -> Option<HandlerConfig> {
        Some(testflight(base, "/asc-hang", 1))
    }
}

/// A P-256 key in the `.p8` form App Store Connect issues.
fn team_key_pem() -> String {
    use base64::Engine as _;
    let rng = ring::rand::SystemRandom::new();
    let pkcs8 = ring::signature::EcdsaKeyPair::generate_pkcs8(
        &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
        &rng,
    )
    .unwrap();
    let body = base64::engine::general_purpose::STANDARD.encode(pkcs8.as_ref());
    format!("-----BEGIN PRIVATE KEY-----\n{body}\n-----END PRIVATE KEY-----\n")
}

/// The contract case of each kind. Exhaustive: a new `HandlerConfig` kind does not compile
/// until it has a case (and then its generated test below).
fn case(config: &HandlerConfig) -> &'static dyn Kind {
    match config {
        HandlerConfig::Log {} => &Log,
        HandlerConfig::Fail {} => &Fail,
        HandlerConfig::Http(_) => &Http,
        HandlerConfig::Steps(_) => &Steps,
        HandlerConfig::Function(_) => &Function,
        HandlerConfig::Zendesk(_) => &Zendesk,
        HandlerConfig::Discord(_) => &Discord,
        HandlerConfig::Slack(_) => &Slack,
        HandlerConfig::Analytics(_) => &Analytics,
        HandlerConfig::Email(_) => &Email,
        HandlerConfig::Testflight(_) => &Testflight,
    }
}

/// A message of its own for each check: a handler may keep state per message (steps do).
fn message() -> ReceivedMessage {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    ReceivedMessage {
        message_id: format!("contract-message-{n}"),
        body: r#"{"to":"ada@example.com","email":"ada@example.com","name":"Ada","message":"hi"}"#
            .into(),
        approximate_receive_count: 1,
        ..ReceivedMessage::default()
    }
}

async fn contract(kind: &dyn Kind) {
    let base = endpoint().await;
    let dir = tempfile::tempdir().unwrap();
    let env = HandlerEnv {
        store: Store::local(dir.path()).unwrap(),
        queue: "contract".into(),
        queue_arn: "arn:aws:sqs:us-east-1:000000000000:contract".into(),
        region: "us-east-1".into(),
        dry_run: false,
        secrets: [
            ("zendesk_api_token".to_string(), "t0ken".to_string()),
            ("sendgrid_api_key".into(), "SG.k3y".into()),
            ("app_store_connect_key".into(), team_key_pem()),
            ("hook_ok".into(), format!("{base}/ok")),
            ("hook_fail".into(), format!("{base}/fail")),
            ("hook_bad".into(), format!("{base}/bad")),
            ("hook_hang".into(), format!("{base}/hang")),
        ]
        .into_iter()
        .map(|(k, v)| (k, conveyor_config::Secret::new(v)))
        .collect(),
    };
    let make = |c: &HandlerConfig| build(c, &env).unwrap();

    if let Some(c) = kind.ok(&base) {
        let out = make(&c).handle(&message()).await;
        assert!(
            matches!(out, Ok(serde_json::Value::Object(_))),
            "success is a JSON object: {out:?}"
        );
    }
    if let Some(c) = kind.retry(&base) {
        let out = make(&c).handle(&message()).await;
        assert!(
            matches!(out, Err(HandlerError::Retry { .. })),
            "a passing failure is Retry: {out:?}"
        );
    }

    if let Some(c) = kind.reject(&base) {
        let out = make(&c).handle(&message()).await;
        assert!(
            matches!(out, Err(HandlerError::Reject { .. })),
            "a lasting one is Reject: {out:?}"
        );
    }

    if let Some(c) = kind.hang(&base) {
        let started = Instant::now();
        let out = make(&c).handle(&message()).await;
        assert!(
            matches!(out, Err(HandlerError::Retry { .. }))
                && started.elapsed() < Duration::from_secs(4),
            "a hung call gives up within its timeout as Retry: {out:?} after {:?}",
            started.elapsed()
        );
        // Cancelled mid-way (as shutdown drops it): the message still succeeds afterwards.
        let handler: Arc<dyn conveyor_worker::Handler> = make(&c);
        let m = message();
        let _ = tokio::time::timeout(Duration::from_millis(300), handler.handle(&m)).await;
        if let Some(ok) = kind.ok(&base) {
            let again = make(&ok).handle(&m).await;
            assert!(again.is_ok(), "nothing was left half-done: {again:?}");
        }
    }
}

macro_rules! handler_contract {
    ($($name:ident => $config:expr),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                contract(case(&$config)).await;
            }
        )*
    };
}

handler_contract! {
    log_keeps_the_handler_contract => HandlerConfig::Log {},
    fail_keeps_the_handler_contract => HandlerConfig::Fail {},
    http_keeps_the_handler_contract => http("http://unused", "/", 1),
    steps_keeps_the_handler_contract => steps(vec![]),
    function_keeps_the_handler_contract => shell("true", 1),
    zendesk_keeps_the_handler_contract => zendesk("http://unused", "/", 1),
    discord_keeps_the_handler_contract => discord("hook_ok", 1),
    slack_keeps_the_handler_contract => slack("hook_ok", 1),
    analytics_keeps_the_handler_contract => HandlerConfig::Analytics(serde_json::from_value(serde_json::json!({})).unwrap()),
    email_keeps_the_handler_contract => email("http://unused", "/", 1),
    testflight_keeps_the_handler_contract => testflight("http://unused", "/", 1),
}
