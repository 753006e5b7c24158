//! The idempotency-key contract on the embedded engine's database, and keys surviving a restart.

use std::sync::Arc;
use std::time::Duration;

use conveyor_queue::idempotency::{contract, Claim, IdempotencyKeys, KeyTimes};
use conveyor_queue::{EmbeddedEngine, EngineOptions, SystemClock};

fn open(dir: &std::path::Path) -> EmbeddedEngine {
    EmbeddedEngine::open(
        EngineOptions::new(dir.join("queue.db")),
        Arc::new(SystemClock),
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_engine_keeps_the_idempotency_contract() {
    let dir = tempfile::tempdir().unwrap();
    contract(Arc::new(open(dir.path()))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_survive_a_restart_and_expire_in_maintenance() {
    let dir = tempfile::tempdir().unwrap();
    let times = KeyTimes {
        window: Duration::from_millis(600),
        lease: Duration::from_secs(60),
    };
    {
        let engine = open(dir.path());
        assert_eq!(engine.claim("k", "f", times).await.unwrap(), Claim::Fresh);
        engine.settle("k", Some("answer")).await.unwrap();
    }
    let engine = open(dir.path());
    assert_eq!(
        engine.claim("k", "f", times).await.unwrap(),
        Claim::Replay("answer".into())
    );
    tokio::time::sleep(Duration::from_millis(700)).await;
    engine.run_maintenance().await.unwrap();
    let left: i64 = rusqlite::Connection::open(dir.path().join("queue.db"))
        .unwrap()
        .query_row("SELECT count(*) FROM idempotency_keys", [], |r| r.get(0))
        .unwrap();
    assert_eq!(left, 0, "maintenance removes expired keys");
}
