//! A damaged, truncated, foreign or too-new database file: `EmbeddedEngine::open` answers with a
//! typed error that says what to do, never a panic, and never silently starts empty over it.

use std::collections::BTreeMap;
use std::sync::Arc;

use conveyor_queue::{EmbeddedEngine, EngineOptions, OpenError, Queue, SendMessage, SystemClock};

fn open(path: &std::path::Path) -> Result<EmbeddedEngine, OpenError> {
    let mut options = EngineOptions::new(path);
    options.maintenance_interval = None;
    EmbeddedEngine::open(options, Arc::new(SystemClock))
}

/// A database with a queue holding messages, closed and checkpointed into the main file.
fn filled(path: &std::path::Path) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let engine = open(path).unwrap();
        engine
            .create_queue("q", &BTreeMap::new(), &BTreeMap::new())
            .await
            .unwrap();
        for i in 0..200 {
            engine
                .send(
                    "q",
                    SendMessage::new(format!("message {i} {}", "x".repeat(500))),
                )
                .await
                .unwrap();
        }
    });
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
        .unwrap();
}

#[test]
fn garbage_file_is_refused_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("q.db");
    let garbage = vec![0xA5u8; 64 * 1024];
    std::fs::write(&path, &garbage).unwrap();
    let err = open(&path).err().expect("garbage must not open");
    assert!(matches!(err, OpenError::Corrupt { .. }), "{err}");
    assert!(
        err.to_string().contains("q.db"),
        "the error names the file: {err}"
    );
    assert_eq!(
        std::fs::read(&path).unwrap(),
        garbage,
        "the file was modified"
    );
}

#[test]
fn truncated_file_is_refused_or_fails_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("q.db");
    filled(&path);
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    match open(&path) {
        Err(e) => assert!(
            matches!(e, OpenError::Corrupt { .. } | OpenError::Sqlite { .. }),
            "{e}"
        ),
        Ok(engine) => {
            // SQLite reads pages lazily: if the damage is past what opening reads, the first
            // operation that touches it fails with an error, not a panic.
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                let r = engine
                    .receive("q", conveyor_queue::ReceiveRequest::up_to(10))
                    .await;
                let c = engine.counts("q").await;
                assert!(
                    r.is_err() || c.is_err(),
                    "a half-missing database answered as if whole"
                );
            });
        }
    }
}

#[test]
fn newer_schema_and_foreign_databases_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let newer = dir.path().join("newer.db");
    filled(&newer);
    rusqlite::Connection::open(&newer)
        .unwrap()
        .execute_batch("PRAGMA user_version = 7;")
        .unwrap();
    let err = open(&newer).err().expect("newer schema must not open");
    assert!(
        matches!(err, OpenError::NewerSchema { found: 7, .. }),
        "{err}"
    );

    let foreign = dir.path().join("foreign.db");
    rusqlite::Connection::open(&foreign)
        .unwrap()
        .execute_batch("CREATE TABLE accounts (id INTEGER);")
        .unwrap();
    assert!(matches!(
        open(&foreign).err(),
        Some(OpenError::Foreign { .. })
    ));
}

#[test]
fn a_second_engine_on_the_same_file_is_refused_until_the_first_closes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("q.db");
    let first = open(&path).unwrap();
    let err = open(&path).err().expect("a second opener must be refused");
    assert!(matches!(err, OpenError::InUse { .. }), "{err}");
    assert!(
        err.to_string().contains("another Conveyor process"),
        "{err}"
    );
    drop(first);
    assert!(
        open(&path).is_ok(),
        "the lock is released when the engine closes"
    );
}

#[test]
fn a_missing_directory_is_created() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested/deeper/q.db");
    assert!(open(&path).is_ok());
}
