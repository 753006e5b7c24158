//! The conformance suite against the SQS adapter pointed at Conveyor's own SQS endpoint: the
//! adapter, the wire protocol and the engine together, on a loopback port. The engine behind the
//! endpoint runs on a manual clock, so the cases that wait minutes take none.

use std::sync::Arc;
use std::time::Duration;

use conveyor_aws::{static_sqs_client, SqsQueue};
use conveyor_queue::conformance::Harness;
use conveyor_queue::{EmbeddedEngine, EngineOptions, Location, ManualClock, Queue};

struct ThroughEndpoint {
    engine: EmbeddedEngine,
    clock: ManualClock,
    adapter: Arc<SqsQueue>,
    _dir: tempfile::TempDir,
}

async fn through_endpoint() -> ThroughEndpoint {
    let dir = tempfile::tempdir().expect("temp dir");
    let clock = ManualClock::default();
    let mut options = EngineOptions::new(dir.path().join("queue.db"));
    options.maintenance_interval = None;
    let engine = EmbeddedEngine::open(options, Arc::new(clock.clone())).expect("open engine");
    let app = conveyor_sqs::router(
        Arc::new(engine.clone()),
        conveyor_sqs::SqsOptions::default(),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    // The server lives as long as the test's runtime: it stops with the test.
    tokio::spawn(async move { axum::serve(listener, app).await });
    let client = static_sqs_client(&endpoint, "us-east-1", "conveyor", "conveyor");
    ThroughEndpoint {
        engine,
        clock,
        adapter: Arc::new(SqsQueue::new(client, "us-east-1", endpoint)),
        _dir: dir,
    }
}

#[async_trait::async_trait]
impl Harness for ThroughEndpoint {
    fn queue(&self) -> Arc<dyn Queue> {
        self.adapter.clone()
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

    fn skip_reason(&self, case: &str) -> Option<&'static str> {
        match case {
            "oldest_message_age" => Some(
                "the SQS API does not report the oldest message's age (only CloudWatch's ApproximateAgeOfOldestMessage does), so the adapter cannot",
            ),
            _ => None,
        }
    }
}

conveyor_queue::conformance_suite!(through_endpoint());
