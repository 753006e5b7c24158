//! Slow and lying clients against `conveyor serve`: on both listeners (API and SQS), a declared
//! body over the limit is refused at once, stalled headers and bodies are answered 408 and let
//! go, and hundreds of idle or half-sent connections do not keep a normal client waiting.

mod common;

use std::time::{Duration, Instant};

use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Short limits, so a stalled client is let go within the test's time.
const LIMITS: &[(&str, &str)] = &[
    (
        "CONVEYOR_ENVIRONMENTS__LOCAL__CONNECTIONS__HEADER_TIMEOUT",
        "1s",
    ),
    (
        "CONVEYOR_ENVIRONMENTS__LOCAL__CONNECTIONS__BODY_TIMEOUT",
        "1s",
    ),
    (
        "CONVEYOR_ENVIRONMENTS__LOCAL__CONNECTIONS__IDLE_TIMEOUT",
        "30s",
    ),
    (
        "CONVEYOR_JWT_SECRET",
        "slow-clients-test-secret-0123456789abcdef",
    ),
];

fn host(url: &str) -> &str {
    url.trim_start_matches("http://")
}

/// Send `request` as written, then read whatever comes back until the server closes or `wait`
/// passes.
async fn exchange(address: &str, request: &[u8], wait: Duration) -> (String, Duration) {
    let started = Instant::now();
    let mut stream = TcpStream::connect(address).await.unwrap();
    stream.write_all(request).await.unwrap();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(wait, stream.read_to_end(&mut answer)).await;
    (
        String::from_utf8_lossy(&answer).to_string(),
        started.elapsed(),
    )
}

fn status_line(answer: &str) -> &str {
    answer.lines().next().unwrap_or("")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declared_body_over_the_limit_is_refused_before_it_is_sent() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), LIMITS, None);
    let token = String::from_utf8(
        std::process::Command::new(BIN)
            .args(["token", "--tenant", "acme"])
            .env("CONVEYOR_JWT_SECRET", LIMITS[3].1)
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let token = token.trim();
    for path in [
        "/files/upload?folder=docs",
        "/files/upload-multiple?folder=docs",
    ] {
        let request = format!(
            "POST {path} HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {token}\r\ncontent-type: multipart/form-data; boundary=b\r\ncontent-length: 1099511627776\r\n\r\n"
        );
        let (answer, took) =
            exchange(&server.address, request.as_bytes(), Duration::from_secs(5)).await;
        assert!(status_line(&answer).contains(" 413 "), "{path}: {answer}");
        assert!(
            took < Duration::from_secs(2),
            "{path} answered after {took:?}"
        );
    }
    let request = "POST /v1/feedback HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 1099511627776\r\n\r\n";
    let (answer, _) = exchange(&server.address, request.as_bytes(), Duration::from_secs(5)).await;
    assert!(status_line(&answer).contains(" 413 "), "{answer}");
    // SQS: its own error shape.
    let request = "POST / HTTP/1.1\r\nhost: x\r\nx-amz-target: AmazonSQS.ListQueues\r\ncontent-type: application/x-amz-json-1.0\r\ncontent-length: 1099511627776\r\n\r\n";
    let (answer, _) = exchange(
        host(&server.sqs),
        request.as_bytes(),
        Duration::from_secs(5),
    )
    .await;
    assert!(status_line(&answer).contains(" 413 "), "{answer}");
    assert!(answer.contains("RequestEntityTooLarge"), "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_headers_and_bodies_are_answered_408_on_both_listeners() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), LIMITS, None);
    for address in [server.address.as_str(), host(&server.sqs)] {
        let (answer, took) = exchange(
            address,
            b"POST /v1/feedback HTTP/1.1\r\nhost: x\r\n",
            Duration::from_secs(10),
        )
        .await;
        assert!(
            status_line(&answer).contains(" 408 "),
            "{address}: {answer:?}"
        );
        assert!(
            took < Duration::from_secs(5),
            "headers: let go after {took:?}"
        );
    }
    let half_body = "POST /v1/feedback HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{\"user_id\":";
    let (answer, took) = exchange(
        &server.address,
        half_body.as_bytes(),
        Duration::from_secs(10),
    )
    .await;
    assert!(status_line(&answer).contains(" 408 "), "{answer:?}");
    assert!(took < Duration::from_secs(5), "body: let go after {took:?}");
    let half_sqs = "POST / HTTP/1.1\r\nhost: x\r\nx-amz-target: AmazonSQS.ListQueues\r\ncontent-type: application/x-amz-json-1.0\r\ncontent-length: 100\r\n\r\n{";
    let (answer, _) = exchange(
        host(&server.sqs),
        half_sqs.as_bytes(),
        Duration::from_secs(10),
    )
    .await;
    assert!(status_line(&answer).contains(" 408 "), "{answer:?}");
    // The process is still serving.
    let (status, _) = http(&server.address, "GET", "/health", &[], "").await;
    assert_eq!(status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundreds_of_idle_and_half_sent_connections_do_not_delay_a_normal_client() {
    let dir = tempfile::tempdir().unwrap();
    // Timeouts far longer than the test: the connections stay open throughout.
    let server = start(
        dir.path(),
        &[
            (
                "CONVEYOR_ENVIRONMENTS__LOCAL__CONNECTIONS__HEADER_TIMEOUT",
                "60s",
            ),
            (
                "CONVEYOR_ENVIRONMENTS__LOCAL__CONNECTIONS__BODY_TIMEOUT",
                "60s",
            ),
        ],
        None,
    );
    let mut held = Vec::new();
    // 200 idle and 200 half-sent on the API, and as many again on the SQS endpoint.
    for address in [server.address.as_str(), host(&server.sqs)] {
        for i in 0..400 {
            let mut stream = TcpStream::connect(address).await.unwrap();
            if i % 2 == 1 {
                // Half-sent: headers cut off, or a body that never comes.
                let part: &[u8] = if i % 4 == 1 {
                    b"GET /health HTTP/1.1\r\nhost: x\r\nx-slow: "
                } else {
                    b"POST /v1/feedback HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 50\r\n\r\n{"
                };
                stream.write_all(part).await.unwrap();
            }
            held.push(stream);
        }
    }
    // A normal client, measured several times: the median must stay under 100 ms.
    let mut took = Vec::new();
    for _ in 0..9 {
        let started = Instant::now();
        let (status, _) = http(&server.address, "GET", "/health", &[], "").await;
        assert_eq!(status, 200);
        took.push(started.elapsed());
    }
    took.sort();
    assert!(
        took[4] < Duration::from_millis(100),
        "a normal client waited {:?} (median of {took:?}) behind {} held connections",
        took[4],
        held.len()
    );
    drop(held);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_beyond_the_cap_wait_until_one_is_let_go() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(
        dir.path(),
        &[
            (
                "CONVEYOR_ENVIRONMENTS__LOCAL__CONNECTIONS__MAX_CONNECTIONS",
                "5",
            ),
            (
                "CONVEYOR_ENVIRONMENTS__LOCAL__CONNECTIONS__IDLE_TIMEOUT",
                "2s",
            ),
        ],
        None,
    );
    let mut idle = Vec::new();
    for _ in 0..5 {
        idle.push(TcpStream::connect(&server.address).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    // The sixth is not served while five idle connections hold every slot ...
    let started = Instant::now();
    let (status, _) = http(&server.address, "GET", "/health", &[], "").await;
    assert_eq!(status, 200);
    let waited = started.elapsed();
    // ... until the idle ones are closed by the idle timeout.
    assert!(
        waited >= Duration::from_millis(1500),
        "served after {waited:?}: the cap of 5 did not hold"
    );
    drop(idle);
}
