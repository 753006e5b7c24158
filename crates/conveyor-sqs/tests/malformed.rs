//! Malformed input to the protocol layer: random JSON shapes, random form bodies, invalid UTF-8,
//! unknown actions and oversized bodies. Every answer must be a well-formed AWS answer in the
//! request's protocol, never a panic, a 5xx or a hang.
//!
//! The generated members never include `WaitTimeSeconds`, and the queues keep the default
//! `ReceiveMessageWaitTimeSeconds` of 0, so no request legitimately long-polls; the per-request
//! timeout then catches any hang.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use conveyor_queue::{EmbeddedEngine, EngineOptions, Queue, SystemClock};
use conveyor_sqs::SqsOptions;
use proptest::prelude::*;
use serde_json::Value;
use tower::ServiceExt;

/// Every action but DeleteQueue, which would leave later cases nothing to reach.
const ACTIONS: &[&str] = &[
    "CreateQueue",
    "GetQueueUrl",
    "ListQueues",
    "GetQueueAttributes",
    "SetQueueAttributes",
    "PurgeQueue",
    "SendMessage",
    "SendMessageBatch",
    "ReceiveMessage",
    "DeleteMessage",
    "DeleteMessageBatch",
    "ChangeMessageVisibility",
    "ChangeMessageVisibilityBatch",
    "TagQueue",
    "UntagQueue",
    "ListQueueTags",
    "ListDeadLetterSourceQueues",
    "StartMessageMoveTask",
    "CancelMessageMoveTask",
    "ListMessageMoveTasks",
    "AddPermission",
    "RemovePermission",
    "NoSuchAction",
    "",
];

const MEMBERS: &[&str] = &[
    "QueueUrl",
    "QueueName",
    "MessageBody",
    "DelaySeconds",
    "Attributes",
    "tags",
    "Tags",
    "TagKeys",
    "AttributeNames",
    "MessageAttributeNames",
    "MessageAttributes",
    "MessageSystemAttributes",
    "Entries",
    "Id",
    "ReceiptHandle",
    "VisibilityTimeout",
    "MaxNumberOfMessages",
    "MessageGroupId",
    "MessageDeduplicationId",
    "ReceiveRequestAttemptId",
    "MaxResults",
    "NextToken",
    "QueueNamePrefix",
    "SourceArn",
    "DestinationArn",
    "TaskHandle",
    "Label",
    "AWSAccountIds",
    "Actions",
    "DataType",
    "StringValue",
    "BinaryValue",
];

struct Endpoint {
    app: Router,
    runtime: tokio::runtime::Runtime,
    _dir: tempfile::TempDir,
    url: String,
}

fn endpoint() -> Endpoint {
    let dir = tempfile::tempdir().unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let engine = EmbeddedEngine::open(
        EngineOptions::new(dir.path().join("q.db")),
        Arc::new(SystemClock),
    )
    .unwrap();
    runtime.block_on(async {
        for name in ["fuzz", "fuzz.fifo"] {
            let attrs = if name.ends_with(".fifo") {
                [("FifoQueue".to_string(), "true".to_string())].into()
            } else {
                Default::default()
            };
            engine
                .create_queue(name, &attrs, &Default::default())
                .await
                .unwrap();
        }
    });
    let app = conveyor_sqs::router(Arc::new(engine), SqsOptions::default());
    Endpoint {
        app,
        runtime,
        _dir: dir,
        url: "http://localhost/000000000000/fuzz".into(),
    }
}

/// Send one request; check the answer is well-formed for its protocol.
fn exchange(endpoint: &Endpoint, request: Request<Body>, json: bool) -> Result<(), String> {
    let app = endpoint.app.clone();
    let (status, body) = endpoint.runtime.block_on(async move {
        let response = tokio::time::timeout(Duration::from_secs(10), app.oneshot(request))
            .await
            .map_err(|_| "no answer within 10 s".to_string())?
            .map_err(|e| format!("the router failed: {e}"))?;
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .map_err(|e| format!("unreadable body: {e}"))?;
        Ok::<_, String>((status, body))
    })?;
    if status.is_server_error() {
        return Err(format!(
            "server error {status}: {}",
            String::from_utf8_lossy(&body)
        ));
    }
    let text = std::str::from_utf8(&body).map_err(|_| "the answer is not UTF-8".to_string())?;
    if json {
        let v: Value = serde_json::from_str(text).map_err(|e| format!("not JSON ({e}): {text}"))?;
        if status != StatusCode::OK {
            let kind = v["__type"].as_str().unwrap_or("");
            if !kind.starts_with("com.amazonaws.sqs#") || !v["message"].is_string() {
                return Err(format!("not an AWS JSON error: {text}"));
            }
        }
    } else {
        let root = if status == StatusCode::OK {
            "Response xmlns="
        } else {
            "<ErrorResponse xmlns="
        };
        if !text.starts_with("<?xml") || !text.contains(root) {
            return Err(format!("not an SQS XML answer ({status}): {text}"));
        }
    }
    Ok(())
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        (0u32..50).prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        ".{0,40}".prop_map(Value::String),
        Just(Value::String("http://localhost/000000000000/fuzz".into())),
        Just(Value::String(
            "http://localhost/000000000000/fuzz.fifo".into()
        )),
        Just(Value::String("AAAA".into())),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(
                prop::sample::select(MEMBERS).prop_map(str::to_string),
                inner,
                0..6
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Mostly an object of plausible members addressed to a real queue, so requests get past the
/// envelope and into the actions; sometimes anything at all.
fn json_body() -> impl Strategy<Value = Vec<u8>> {
    let request = (
        prop::collection::btree_map(
            prop::sample::select(MEMBERS).prop_map(str::to_string),
            json_value(),
            0..8,
        ),
        prop::sample::select(
            &[
                Some("http://localhost/000000000000/fuzz"),
                Some("http://localhost/000000000000/fuzz.fifo"),
                Some("http://localhost/999999999999/fuzz"),
                Some("nonsense"),
                None,
            ][..],
        ),
    )
        .prop_map(|(mut members, url)| {
            if let Some(url) = url {
                members.insert("QueueUrl".into(), Value::String(url.into()));
            }
            Value::Object(members.into_iter().collect())
                .to_string()
                .into_bytes()
        });
    prop_oneof![
        6 => request,
        1 => json_value().prop_map(|v| v.to_string().into_bytes()),
        1 => prop::collection::vec(any::<u8>(), 0..200),
        1 => Just(b"{\"QueueUrl\": \"\xff\xfe\"}".to_vec()),
        1 => Just(b"{\"QueueUrl\": ".to_vec()),
    ]
}

/// Form keys in SQS's flattened style, sometimes broken (`a..b`, `x.0`, `Attribute.one`).
fn form_key() -> impl Strategy<Value = String> {
    let segment = prop_oneof![
        prop::sample::select(MEMBERS).prop_map(str::to_string),
        prop::sample::select(
            &[
                "Attribute",
                "MessageAttribute",
                "SendMessageBatchRequestEntry",
                "DeleteMessageBatchRequestEntry",
                "Tag",
                "AttributeName",
                "Name",
                "Value",
                "Key"
            ][..]
        )
        .prop_map(str::to_string),
        (0u32..4).prop_map(|n| n.to_string()),
        Just(String::new()),
        "[a-z%]{0,4}",
    ];
    prop::collection::vec(segment, 1..5).prop_map(|parts| parts.join("."))
}

fn form_body() -> impl Strategy<Value = Vec<u8>> {
    let value = prop_oneof![
        ".{0,20}".prop_map(|s| urlencode(&s)),
        Just("%FF%FE".to_string()),
        Just("%".to_string()),
        Just("http%3A%2F%2Flocalhost%2F000000000000%2Ffuzz".to_string()),
        (0u32..50).prop_map(|n| n.to_string()),
    ];
    (
        prop::sample::select(ACTIONS),
        prop::collection::vec((form_key(), value), 0..8),
        prop::collection::vec(any::<u8>(), 0..40),
        prop::bool::weighted(0.2),
    )
        .prop_map(|(action, pairs, noise, add_noise)| {
            let mut body =
                format!("Action={action}&QueueUrl=http%3A%2F%2Flocalhost%2F000000000000%2Ffuzz");
            for (k, v) in pairs {
                body.push_str(&format!("&{}={v}", urlencode(&k)));
            }
            let mut bytes = body.into_bytes();
            if add_noise {
                bytes.push(b'&');
                bytes.extend(noise);
            }
            bytes
        })
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 192, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn json_protocol_answers_every_body_with_an_aws_answer(
        action in prop::sample::select(ACTIONS),
        body in json_body(),
    ) {
        let endpoint = ENDPOINT.with(|e| e.clone());
        let request = Request::post("/")
            .header("x-amz-target", format!("AmazonSQS.{action}"))
            .header("content-type", "application/x-amz-json-1.0")
            .body(Body::from(body))
            .unwrap();
        exchange(&endpoint, request, true).map_err(TestCaseError::fail)?;
    }

    #[test]
    fn query_protocol_answers_every_form_with_an_aws_answer(body in form_body()) {
        let endpoint = ENDPOINT.with(|e| e.clone());
        let request = Request::post("/")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from(body))
            .unwrap();
        exchange(&endpoint, request, false).map_err(TestCaseError::fail)?;
    }
}

thread_local! {
    // One engine per test thread: opening SQLite per case would dominate the run time.
    static ENDPOINT: Arc<Endpoint> = Arc::new(endpoint());
}

#[test]
fn oversized_bodies_get_a_413_in_either_protocol() {
    let endpoint = endpoint();
    let huge = vec![b'a'; conveyor_sqs::DEFAULT_MAX_REQUEST_BYTES + 1];
    let json = Request::post("/")
        .header("x-amz-target", "AmazonSQS.SendMessage")
        .body(Body::from(huge.clone()))
        .unwrap();
    exchange(&endpoint, json, true).unwrap();
    let app = endpoint.app.clone();
    let status = endpoint.runtime.block_on(async move {
        app.oneshot(Request::post("/").body(Body::from(huge)).unwrap())
            .await
            .unwrap()
            .status()
    });
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
}

#[test]
fn a_long_poll_beyond_twenty_seconds_is_refused_at_once() {
    let endpoint = endpoint();
    let body = serde_json::json!({"QueueUrl": endpoint.url, "WaitTimeSeconds": 21}).to_string();
    let request = Request::post("/")
        .header("x-amz-target", "AmazonSQS.ReceiveMessage")
        .body(Body::from(body))
        .unwrap();
    let app = endpoint.app.clone();
    let (status, body) = endpoint.runtime.block_on(async move {
        let r = tokio::time::timeout(Duration::from_secs(2), app.oneshot(request))
            .await
            .expect("answered at once")
            .unwrap();
        let status = r.status();
        (
            status,
            axum::body::to_bytes(r.into_body(), usize::MAX)
                .await
                .unwrap(),
        )
    });
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(String::from_utf8_lossy(&body).contains("InvalidParameterValue"));
}
