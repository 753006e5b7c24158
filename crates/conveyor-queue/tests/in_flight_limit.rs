//! SQS's cap on in-flight messages, with a small limit so the test stays fast: a standard
//! queue's receive beyond it fails with OverLimit, a FIFO queue's returns nothing; deleting
//! makes room again.

use std::collections::BTreeMap;
use std::sync::Arc;

use conveyor_queue::{
    EmbeddedEngine, EngineOptions, Queue, QueueError, ReceiveRequest, SendMessage, SystemClock,
};

fn engine(dir: &std::path::Path) -> EmbeddedEngine {
    let options = EngineOptions {
        max_in_flight: 3,
        maintenance_interval: None,
        ..EngineOptions::new(dir.join("q.db"))
    };
    EmbeddedEngine::open(options, Arc::new(SystemClock)).unwrap()
}

#[tokio::test]
async fn a_standard_queue_refuses_receives_over_the_in_flight_limit() {
    let dir = tempfile::tempdir().unwrap();
    let q = engine(dir.path());
    q.create_queue("std", &BTreeMap::new(), &BTreeMap::new())
        .await
        .unwrap();
    for i in 0..5 {
        q.send("std", SendMessage::new(format!("m{i}")))
            .await
            .unwrap();
    }
    let first = q.receive("std", ReceiveRequest::up_to(10)).await.unwrap();
    assert_eq!(
        first.len(),
        3,
        "a receive takes only what fits under the limit"
    );
    let refused = q
        .receive("std", ReceiveRequest::up_to(10))
        .await
        .unwrap_err();
    assert!(matches!(refused, QueueError::OverLimit(_)), "{refused:?}");
    assert_eq!(refused.http_status(), 403);
    q.delete("std", &first[0].receipt_handle).await.unwrap();
    let more = q.receive("std", ReceiveRequest::up_to(10)).await.unwrap();
    assert_eq!(more.len(), 1);
}

#[tokio::test]
async fn a_fifo_queue_returns_nothing_over_the_in_flight_limit() {
    let dir = tempfile::tempdir().unwrap();
    let q = engine(dir.path());
    let attrs: BTreeMap<String, String> = [
        ("FifoQueue".to_string(), "true".to_string()),
        ("ContentBasedDeduplication".to_string(), "true".to_string()),
    ]
    .into();
    q.create_queue("f.fifo", &attrs, &BTreeMap::new())
        .await
        .unwrap();
    for i in 0..5 {
        q.send(
            "f.fifo",
            SendMessage::new(format!("m{i}")).group(format!("g{i}")),
        )
        .await
        .unwrap();
    }
    let first = q
        .receive("f.fifo", ReceiveRequest::up_to(10))
        .await
        .unwrap();
    assert_eq!(first.len(), 3);
    assert!(q
        .receive("f.fifo", ReceiveRequest::up_to(10))
        .await
        .unwrap()
        .is_empty());
}
