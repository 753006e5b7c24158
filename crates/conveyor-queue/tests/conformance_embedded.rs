//! The conformance suite against the embedded engine, with a manual clock.

use std::sync::Arc;
use std::time::Duration;

use conveyor_queue::conformance::Harness;
use conveyor_queue::{EmbeddedEngine, EngineOptions, Location, ManualClock, Queue};

struct Embedded {
    engine: EmbeddedEngine,
    clock: ManualClock,
    _dir: tempfile::TempDir,
}

async fn embedded() -> Embedded {
    let dir = tempfile::tempdir().expect("temp dir");
    let clock = ManualClock::default();
    let mut options = EngineOptions::new(dir.path().join("queue.db"));
    options.maintenance_interval = None;
    let engine = EmbeddedEngine::open(options, Arc::new(clock.clone())).expect("open engine");
    Embedded {
        engine,
        clock,
        _dir: dir,
    }
}

#[async_trait::async_trait]
impl Harness for Embedded {
    fn queue(&self) -> Arc<dyn Queue> {
        Arc::new(self.engine.clone())
    }

    async fn advance(&self, seconds: u64) {
        self.clock.advance(Duration::from_secs(seconds));
    }

    async fn settle(&self) {
        self.engine.run_maintenance().await.expect("maintenance");
    }

    fn name(&self, base: &str) -> String {
        base.to_string()
    }

    fn arn(&self, name: &str) -> String {
        Location::default().arn(name)
    }
}

conveyor_queue::conformance_suite!(embedded());

/// `locate` follows a message by its id through its life: queued, in flight, visible again,
/// moved to the dead-letter queue by the redrive policy (same id), gone once deleted.
#[tokio::test]
async fn locate_follows_a_message_to_its_dead_letter_queue_and_forgets_it_once_deleted() {
    use std::collections::BTreeMap;
    let now = || conveyor_queue::ReceiveRequest {
        wait_time_seconds: Some(0),
        ..Default::default()
    };
    let e = embedded().await;
    let q = e.queue();
    assert!(q.locates_messages());
    let none = BTreeMap::new();
    q.create_queue("jobs-dlq", &none, &none).await.unwrap();
    let policy = format!(
        r#"{{"deadLetterTargetArn":"{}","maxReceiveCount":"1"}}"#,
        Location::default().arn("jobs-dlq")
    );
    let attributes = BTreeMap::from([
        ("RedrivePolicy".to_string(), policy),
        ("VisibilityTimeout".to_string(), "30".to_string()),
    ]);
    q.create_queue("jobs", &attributes, &none).await.unwrap();
    let sent = q
        .send("jobs", conveyor_queue::SendMessage::new("work"))
        .await
        .unwrap();
    let id = sent.message_id.clone();
    assert_eq!(uuid::Uuid::parse_str(&id).unwrap().get_version_num(), 7);

    let queued = q.locate(&id).await.unwrap().expect("queued message found");
    assert_eq!(
        (
            queued.queue.as_str(),
            queued.receive_count,
            queued.in_flight
        ),
        ("jobs", 0, false)
    );
    let got = q.receive("jobs", now()).await.unwrap();
    assert_eq!(got.len(), 1);
    let flying = q.locate(&id).await.unwrap().unwrap();
    assert_eq!((flying.receive_count, flying.in_flight), (1, true));
    assert_eq!(flying.sent_timestamp, got[0].sent_timestamp);

    e.advance(31).await;
    let again = q.locate(&id).await.unwrap().unwrap();
    assert_eq!((again.receive_count, again.in_flight), (1, false));
    // The next receive finds it over its limit and moves it, keeping its id.
    assert!(q.receive("jobs", now()).await.unwrap().is_empty());
    let moved = q.locate(&id).await.unwrap().expect("found in the DLQ");
    assert_eq!(moved.queue, "jobs-dlq");
    assert_eq!(
        moved.dead_letter_source_arn.as_deref(),
        Some(Location::default().arn("jobs").as_str())
    );
    // Redriven back to its source: a new row again, found in the source queue.
    q.start_message_move_task(&Location::default().arn("jobs-dlq"), None, None)
        .await
        .unwrap();
    for _ in 0..50 {
        e.settle().await;
        if q.locate(&id).await.unwrap().unwrap().queue == "jobs" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let back = q.locate(&id).await.unwrap().unwrap();
    assert_eq!((back.queue.as_str(), back.in_flight), ("jobs", false));
    assert_eq!(back.dead_letter_source_arn, None);
    let again = q.receive("jobs", now()).await.unwrap();
    q.delete("jobs", &again[0].receipt_handle).await.unwrap();
    assert_eq!(q.locate(&id).await.unwrap(), None);
    assert_eq!(q.locate("not-an-id").await.unwrap(), None);
}
