//! The HTTP API against the real embedded engine and a local store.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use conveyor_api::{router, ApiLimits, ApiState};
use conveyor_queue::{EmbeddedEngine, EngineOptions, Location, Queue, ReceiveRequest, SystemClock};
use conveyor_store::Store;
use tower::ServiceExt;

struct App {
    router: axum::Router,
    engine: EmbeddedEngine,
    settings: Arc<conveyor_config::Settings>,
    _dir: tempfile::TempDir,
}

async fn app(api_keys: &str, limits: ApiLimits) -> App {
    app_with(api_keys, "", limits).await
}

/// With ingest keys and operator keys (comma-separated, empty for none).
async fn app_with(api_keys: &str, operator_keys: &str, limits: ApiLimits) -> App {
    let dir = tempfile::tempdir().unwrap();
    let mut vars = vec![
        (
            "CONVEYOR_DATA_DIR".to_string(),
            dir.path().display().to_string(),
        ),
        // A standard queue beside the seeds' FIFO ones.
        (
            "CONVEYOR_QUEUES__JOBS__FIFO".to_string(),
            "false".to_string(),
        ),
    ];
    if !api_keys.is_empty() {
        vars.push(("CONVEYOR_API_KEYS".into(), api_keys.into()));
    }
    if !operator_keys.is_empty() {
        vars.push(("CONVEYOR_OPERATOR_KEYS".into(), operator_keys.into()));
    }
    let settings = Arc::new(conveyor_config::load(None, vars).unwrap().selected);
    let engine = EmbeddedEngine::open(
        EngineOptions::new(dir.path().join("q.db")),
        Arc::new(SystemClock),
    )
    .unwrap();
    let location = Location::default();
    for q in &settings.queues {
        engine
            .create_queue(&q.dlq_name, &q.dlq_attributes(), &Default::default())
            .await
            .unwrap();
        engine
            .create_queue(
                &q.name,
                &q.attributes(Some(&location.arn(&q.dlq_name))),
                &Default::default(),
            )
            .await
            .unwrap();
    }
    let store = Store::local(dir.path().join("objects")).unwrap();
    let state = ApiState {
        queue: Arc::new(engine.clone()),
        store,
        settings: settings.clone(),
        metrics: Some(conveyor_api::metrics::install().unwrap()),
        idempotency: Arc::new(engine.clone()),
        finished_jobs: Default::default(),
        alarms: Default::default(),
        dashboard: Default::default(),
    };
    App {
        router: router(state, limits),
        engine,
        settings,
        _dir: dir,
    }
}

async fn call(
    app: &App,
    method: &str,
    uri: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (StatusCode, serde_json::Value, axum::http::HeaderMap) {
    let mut req = Request::builder().method(method).uri(uri);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let response = app
        .router
        .clone()
        .oneshot(req.body(Body::from(body.to_string())).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    let json = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
    (status, json, headers)
}

const JSON: (&str, &str) = ("content-type", "application/json");

fn queue_name(app: &App, key: &str) -> String {
    app.settings.queue(key).unwrap().name.clone()
}

#[tokio::test]
async fn health_and_ready_answer_without_a_key() {
    let app = app("secret-key", ApiLimits::default()).await;
    let (status, body, headers) = call(&app, "GET", "/health", &[], "").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["status"], "ok");
    assert!(
        headers.contains_key("x-request-id"),
        "every response carries a request id"
    );
    let (status, body, _) = call(&app, "GET", "/ready", &[], "").await;
    assert_eq!(
        (status, body["status"].as_str()),
        (StatusCode::OK, Some("ready"))
    );
}

#[tokio::test]
async fn feedback_is_enqueued_durably_in_the_users_group() {
    let app = app("", ApiLimits::default()).await;
    let (status, body, _) = call(
        &app,
        "POST",
        "/v1/feedback",
        &[JSON],
        r#"{"user_id":"u-42","message":"Love it","rating":5,"email":"ada@example.com"}"#,
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let id = body["message_id"].as_str().unwrap().to_string();
    let got = app
        .engine
        .receive(&queue_name(&app, "feedback"), ReceiveRequest::up_to(10))
        .await
        .unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].message_id, id);
    assert_eq!(got[0].group_id.as_deref(), Some("u-42"));
    let stored: serde_json::Value = serde_json::from_str(&got[0].body).unwrap();
    assert_eq!(stored["message"], "Love it");
}

#[tokio::test]
async fn an_analytics_request_becomes_one_message_and_bad_events_are_refused_by_index() {
    let app = app("", ApiLimits::default()).await;
    let mut events: Vec<String> = (0..23)
        .map(|i| {
            format!(
                r#"{{"name":"tap","user_id":"u{}","timestamp":"2026-12-01T10:00:0{}Z","properties":{{"i":{i}}}}}"#,
                i % 3,
                i % 10
            )
        })
        .collect();
    events.insert(5, r#"{"name":"../etc","user_id":"u1"}"#.into());
    events.push(r#"{"name":"open","timestamp":"10000-01-01T00:00:00Z"}"#.into());
    let body = format!(r#"{{"events":[{}]}}"#, events.join(","));
    let (status, answer, _) = call(&app, "POST", "/v1/analytics/events", &[JSON], &body).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    assert_eq!(
        answer["message_ids"].as_array().unwrap().len(),
        1,
        "{answer}"
    );
    assert_eq!(answer["accepted"], 23);
    let rejected: Vec<i64> = answer["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["index"].as_i64().unwrap())
        .collect();
    assert_eq!(rejected, [5, 24], "{answer}");
    let queue = queue_name(&app, "analytics");
    let got = app
        .engine
        .receive(&queue, conveyor_queue::ReceiveRequest::up_to(10))
        .await
        .unwrap();
    assert_eq!(got.len(), 1);
    let stored: serde_json::Value = serde_json::from_str(&got[0].body).unwrap();
    let stored = stored["events"].as_array().unwrap();
    assert_eq!(stored.len(), 23);
    assert_eq!(stored[0]["timestamp"], 1_796_119_200_000i64);
    assert!(stored[0]["received_at"].as_i64().unwrap() > 1_796_119_200_000);

    // Atomic: one bad event, nothing queued, every reason given.
    let (status, answer, _) = call(
        &app,
        "POST",
        "/v1/analytics/events?atomic=true",
        &[JSON],
        &body,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert_eq!(answer["error"]["rejected"].as_array().unwrap().len(), 2);
    assert!(answer["error"]["rejected"][0]["reason"]
        .as_str()
        .unwrap()
        .contains("dot"));
    let too_many = format!(
        r#"{{"events":[{}]}}"#,
        vec![r#"{"name":"x"}"#; 501].join(",")
    );
    for refused in [r#"{"events":[]}"#.to_string(), too_many] {
        let (status, answer, _) =
            call(&app, "POST", "/v1/analytics/events", &[JSON], &refused).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    }
    assert_eq!(
        app.engine.counts(&queue).await.unwrap().in_flight,
        1,
        "nothing more queued"
    );

    // A retry under the same Idempotency-Key is the same request, though stamped later.
    let headers = [JSON, ("idempotency-key", "batch-9")];
    let one = r#"{"events":[{"name":"open"}]}"#;
    let (_, first, _) = call(&app, "POST", "/v1/analytics/events", &headers, one).await;
    let (status, again, _) = call(&app, "POST", "/v1/analytics/events", &headers, one).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{again}");
    assert_eq!(first["message_ids"], again["message_ids"]);
}

#[tokio::test]
async fn an_idempotency_key_makes_a_retried_request_count_once() {
    let app = app("", ApiLimits::default()).await;
    let body = r#"{"to":"a@example.com","subject":"Welcome"}"#;
    let headers = [JSON, ("idempotency-key", "signup-7")];
    let (s1, b1, _) = call(&app, "POST", "/v1/emails", &headers, body).await;
    let (s2, b2, _) = call(&app, "POST", "/v1/emails", &headers, body).await;
    assert_eq!((s1, s2), (StatusCode::ACCEPTED, StatusCode::ACCEPTED));
    assert_eq!(b1["message_id"], b2["message_id"]);
    assert_eq!(
        app.engine
            .counts(&queue_name(&app, "emails"))
            .await
            .unwrap()
            .visible,
        1
    );
}

#[tokio::test]
async fn an_idempotency_key_holds_on_standard_and_fifo_queues_and_replays_the_first_answer() {
    let app = app("key-one,key-two", ApiLimits::default()).await;
    let as_one = [
        JSON,
        ("idempotency-key", "order-1"),
        ("authorization", "Bearer key-one"),
    ];
    for (route, queue, body) in [
        ("/v1/queues/jobs/messages", "jobs", r#"{"body":"charge"}"#),
        (
            "/v1/queues/testflight/messages",
            "testflight",
            r#"{"body":"invite","group_id":"g"}"#,
        ),
    ] {
        let (s1, b1, h1) = call(&app, "POST", route, &as_one, body).await;
        let (s2, b2, h2) = call(&app, "POST", route, &as_one, body).await;
        assert_eq!(
            (s1, s2),
            (StatusCode::ACCEPTED, StatusCode::ACCEPTED),
            "{b1} {b2}"
        );
        assert_eq!(b1, b2, "{route}: the first answer is returned again");
        assert!(!h1.contains_key("idempotent-replayed"));
        assert_eq!(h2["idempotent-replayed"], "true");
        let depth = |app: &App| {
            let name = queue_name(app, queue);
            let engine = app.engine.clone();
            async move { engine.counts(&name).await.unwrap().visible }
        };
        assert_eq!(depth(&app).await, 1, "{route}: enqueued once");
        // The same key with another body is refused, and enqueues nothing.
        let other = body.replace("\"body\":\"", "\"body\":\"other ");
        let (status, json, _) = call(&app, "POST", route, &as_one, &other).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{json}");
        assert_eq!(json["error"]["code"], "idempotency_key_reused");
        assert_eq!(depth(&app).await, 1);
        // Another API key has its own keys: the same Idempotency-Key is a new request there.
        let as_two = [
            JSON,
            ("idempotency-key", "order-1"),
            ("authorization", "Bearer key-two"),
        ];
        let (status, b3, _) = call(&app, "POST", route, &as_two, body).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{b3}");
        assert_ne!(b3, b1);
        assert_eq!(depth(&app).await, 2);
    }
    // Keys are per route: the same key on another route is another request.
    let (status, json, _) = call(
        &app,
        "POST",
        "/v1/emails",
        &as_one,
        r#"{"to":"a@example.com","subject":"Hi"}"#,
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{json}");
}

#[tokio::test]
async fn a_refused_request_does_not_use_up_its_idempotency_key() {
    let app = app("", ApiLimits::default()).await;
    let headers = [JSON, ("idempotency-key", "retry-me")];
    // Refused before any work (the queue does not exist): the key stays free.
    let (status, _, _) = call(
        &app,
        "POST",
        "/v1/queues/nope/messages",
        &headers,
        r#"{"body":"x"}"#,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, json, _) = call(
        &app,
        "POST",
        "/v1/queues/jobs/messages",
        &headers,
        r#"{"body":"x"}"#,
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{json}");
}

#[tokio::test]
async fn api_keys_protect_the_ingest_routes() {
    let app = app("k1,k2", ApiLimits::default()).await;
    let body = r#"{"email":"t@example.com","first_name":"Ada"}"#;
    let (status, json, headers) =
        call(&app, "POST", "/v1/testflight/invitations", &[JSON], body).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(json["error"]["code"], "unauthorized");
    assert_eq!(headers["www-authenticate"], "Bearer");
    let (status, _, _) = call(
        &app,
        "POST",
        "/v1/testflight/invitations",
        &[JSON, ("authorization", "Bearer nope")],
        body,
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, json, _) = call(
        &app,
        "POST",
        "/v1/testflight/invitations",
        &[JSON, ("authorization", "Bearer k2")],
        body,
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{json}");
    assert_eq!(
        app.engine
            .counts(&queue_name(&app, "testflight"))
            .await
            .unwrap()
            .visible,
        1
    );
}

#[tokio::test]
async fn bad_requests_get_clear_4xx_answers_and_enqueue_nothing() {
    let app = app(
        "",
        ApiLimits {
            body_bytes: 2_048,
            ..ApiLimits::default()
        },
    )
    .await;
    // (route, headers, body, expected status, what the error message must mention)
    type Case<'a> = (
        &'a str,
        &'a [(&'a str, &'a str)],
        &'a str,
        StatusCode,
        &'a str,
    );
    let cases: &[Case] = &[
        (
            "/v1/feedback",
            &[JSON],
            "{not json",
            StatusCode::BAD_REQUEST,
            "JSON",
        ),
        (
            "/v1/feedback",
            &[],
            r#"{"user_id":"u","message":"m","email":"u@example.com"}"#,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "content-type",
        ),
        (
            "/v1/feedback",
            &[JSON],
            r#"{"user_id":"u"}"#,
            StatusCode::BAD_REQUEST,
            "message",
        ),
        (
            "/v1/feedback",
            &[JSON],
            r#"{"user_id":"u","message":"m","rating":"five","email":"u@example.com"}"#,
            StatusCode::BAD_REQUEST,
            "a whole number from 0 to 255",
        ),
        (
            "/v1/feedback",
            &[JSON],
            r#"{"user_id":"u","message":"m","rating":6,"email":"u@example.com"}"#,
            StatusCode::BAD_REQUEST,
            "rating",
        ),
        (
            "/v1/feedback",
            &[JSON],
            r#"{"user_id":"has space","message":"m","email":"u@example.com"}"#,
            StatusCode::BAD_REQUEST,
            "user_id",
        ),
        (
            "/v1/emails",
            &[JSON],
            r#"{"to":"not-an-address","subject":"s"}"#,
            StatusCode::BAD_REQUEST,
            "email",
        ),
        (
            "/v1/queues/nope/messages",
            &[JSON],
            r#"{"body":"x"}"#,
            StatusCode::NOT_FOUND,
            "nope",
        ),
        (
            "/v1/queues/testflight/messages",
            &[JSON],
            r#"{"body":"x"}"#,
            StatusCode::BAD_REQUEST,
            "group_id",
        ),
    ];
    for (uri, headers, body, expected, mentions) in cases {
        let (status, json, _) = call(&app, "POST", uri, headers, body).await;
        assert_eq!(status, *expected, "{uri} {body}: {json}");
        let code = json["error"]["code"].as_str().unwrap_or_default();
        let vocabulary = match status {
            StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
            StatusCode::NOT_FOUND => "not_found",
            _ => "bad_request",
        };
        assert_eq!(code, vocabulary, "{uri} {body}: {json}");
        assert!(!json.to_string().contains("u8"), "{uri} {body}: {json}");
        let message = json["error"]["message"].as_str().unwrap_or_default();
        assert!(
            message.contains(mentions),
            "{uri} {body}: the error should mention {mentions}: {message}"
        );
    }
    let huge = format!(
        r#"{{"user_id":"u","email":"u@example.com","message":"{}"}}"#,
        "x".repeat(4_000)
    );
    let (status, json, _) = call(&app, "POST", "/v1/feedback", &[JSON], &huge).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{json}");
    for key in ["feedback", "emails"] {
        assert_eq!(
            app.engine
                .counts(&queue_name(&app, key))
                .await
                .unwrap()
                .visible,
            0,
            "{key}"
        );
    }
}

#[tokio::test]
async fn the_generic_route_enqueues_to_a_configured_queue() {
    let app = app("", ApiLimits::default()).await;
    let (status, json, _) = call(
        &app,
        "POST",
        "/v1/queues/testflight/messages",
        &[JSON],
        r#"{"body":{"any":"json"},"group_id":"g1"}"#,
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{json}");
    let got = app
        .engine
        .receive(&queue_name(&app, "testflight"), ReceiveRequest::up_to(1))
        .await
        .unwrap();
    assert_eq!(got[0].body, r#"{"any":"json"}"#);
    assert_eq!(got[0].group_id.as_deref(), Some("g1"));
}

#[tokio::test]
async fn it_serves_over_a_real_socket() {
    let app = app("", ApiLimits::default()).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = app.router.clone();
    let server = tokio::spawn(async move { axum::serve(listener, router).await });
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    stream
        .write_all(b"GET /health HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut response = String::new();
    tokio::time::timeout(
        std::time::Duration::from_secs(5),
        stream.read_to_string(&mut response),
    )
    .await
    .unwrap()
    .unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    server.abort();
}

#[tokio::test]
async fn metrics_report_requests_queue_depth_and_dead_letters() {
    let app = app("", ApiLimits::default()).await;
    for _ in 0..3 {
        let (status, _, _) = call(
            &app,
            "POST",
            "/v1/feedback",
            &[JSON],
            r#"{"user_id":"u1","message":"m","email":"u1@example.com"}"#,
        )
        .await;
        assert_eq!(status, StatusCode::ACCEPTED);
    }
    let dlq = app.settings.queue("emails").unwrap().dlq_name.clone();
    app.engine
        .send(
            &dlq,
            conveyor_queue::SendMessage::new("dead")
                .group("g")
                .dedup("d"),
        )
        .await
        .unwrap();
    let request = Request::builder()
        .uri("/metrics")
        .body(Body::empty())
        .unwrap();
    let response = app.router.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let text = String::from_utf8(
        axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap()
            .to_vec(),
    )
    .unwrap();
    assert!(
        text.contains(r#"conveyor_queue_messages{queue="feedback",state="visible"} 3"#),
        "{text}"
    );
    assert!(
        text.contains(r#"conveyor_dlq_messages{queue="emails"} 1"#),
        "{text}"
    );
    assert!(
        text.contains("conveyor_queue_oldest_message_age_seconds"),
        "{text}"
    );
    assert!(
        text.contains(
            r#"conveyor_http_requests_total{method="POST",route="/v1/feedback",status="202"}"#
        ),
        "{text}"
    );
    assert!(
        text.contains("conveyor_http_request_duration_seconds_bucket"),
        "{text}"
    );
}

/// The operator routes take operator keys only: an ingest key is 403, no key 401, and a
/// deployment with API keys but no operator keys has them closed; ingest routes take no
/// operator key. The loopback default (no keys at all) stays open.
#[tokio::test]
async fn operator_routes_need_an_operator_key_and_ingest_keys_cannot_reach_them() {
    let split = app_with("ingest-key", "operator-key", ApiLimits::default()).await;
    let with = |key: &'static str| [("authorization", key)];
    for path in ["/v1/admin/queues", "/v1/admin/alarms"] {
        let (status, body, _) = call(&split, "GET", path, &with("Bearer operator-key"), "").await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        let (status, body, _) = call(&split, "GET", path, &with("Bearer ingest-key"), "").await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}: {body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("operator key"),
            "{body}"
        );
        let (status, _, _) = call(&split, "GET", path, &[], "").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}");
        let (status, _, _) = call(&split, "GET", path, &with("Bearer guess"), "").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}");
    }
    let queue = queue_name(&split, "jobs");
    let (status, _, _) = call(
        &split,
        "POST",
        &format!("/v1/admin/queues/{queue}/purge"),
        &with("Bearer ingest-key"),
        "",
    )
    .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "an ingest key purges nothing"
    );
    let ingest = [JSON, ("authorization", "Bearer operator-key")];
    let (status, _, _) = call(
        &split,
        "POST",
        "/v1/queues/jobs/messages",
        &ingest,
        r#"{"body":"x"}"#,
    )
    .await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "ingest routes take ingest keys"
    );

    let closed = app("ingest-key", ApiLimits::default()).await;
    let (status, body, _) = call(
        &closed,
        "GET",
        "/v1/admin/queues",
        &with("Bearer ingest-key"),
        "",
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, body, _) = call(&closed, "GET", "/v1/admin/queues", &[], "").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("set operator_keys"),
        "{body}"
    );

    let open = app("", ApiLimits::default()).await;
    let (status, _, _) = call(&open, "GET", "/v1/admin/queues", &[], "").await;
    assert_eq!(
        status,
        StatusCode::OK,
        "no keys at all: the loopback default stays open"
    );
}
