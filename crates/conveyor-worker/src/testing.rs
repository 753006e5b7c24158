//! What tests of the runtime and of handlers share (cargo feature `testing`): a fresh embedded
//! engine and local store in a temporary directory, and waiting for a condition.

use std::sync::Arc;
use std::time::Duration;

use conveyor_queue::{EmbeddedEngine, EngineOptions, SystemClock};
use conveyor_store::Store;

/// An embedded engine and a local store, removed with the fixture.
pub struct Fixture {
    pub engine: EmbeddedEngine,
    pub store: Store,
    pub dir: tempfile::TempDir,
}

pub fn fixture() -> Fixture {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let engine = EmbeddedEngine::open(
        EngineOptions::new(dir.path().join("q.db")),
        Arc::new(SystemClock),
    )
    .expect("the engine opens");
    let store = Store::local(dir.path().join("objects")).expect("the store opens");
    Fixture { engine, store, dir }
}

/// Wait up to 30 s for `check` to hold, looking every 100 ms.
pub async fn eventually(what: &str, mut check: impl AsyncFnMut() -> bool) {
    for _ in 0..300 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out waiting until {what}");
}
