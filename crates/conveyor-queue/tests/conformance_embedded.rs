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
