//! The database file: opening it with the right pragmas, recognising a file that is not ours,
//! damaged or from a newer Conveyor, and migrating older schemas forward, one version at a time.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags};

/// `PRAGMA application_id` of a Conveyor queue database ("CONV").
const APPLICATION_ID: i32 = 0x434F_4E56;

/// Migrations in order; entry `i` takes the schema from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE queues (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    config TEXT NOT NULL,
    tags TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    modified_at INTEGER NOT NULL,
    last_purge_at INTEGER
);
-- A message's delivery state: small rows, rewritten by every receive.
CREATE TABLE messages (
    id INTEGER PRIMARY KEY,
    queue_id INTEGER NOT NULL,
    payload_id INTEGER NOT NULL,
    group_id TEXT,
    retain_from INTEGER NOT NULL,
    visible_at INTEGER NOT NULL,
    receive_count INTEGER NOT NULL DEFAULT 0,
    first_received_at INTEGER,
    last_received_at INTEGER,
    receipt_token INTEGER
);
-- What was sent: written once, read by receives, removed with the message.
CREATE TABLE payloads (
    id INTEGER PRIMARY KEY,
    message_id TEXT NOT NULL,
    body TEXT NOT NULL,
    attributes TEXT,
    dedup_id TEXT,
    sent_at INTEGER NOT NULL,
    dlq_source_arn TEXT,
    trace_header TEXT
);
CREATE INDEX messages_by_visibility ON messages (queue_id, visible_at);
CREATE INDEX messages_by_retention ON messages (queue_id, retain_from);
CREATE INDEX messages_by_group ON messages (queue_id, group_id, id) WHERE group_id IS NOT NULL;
CREATE TABLE dedup (
    queue_id INTEGER NOT NULL,
    scope TEXT NOT NULL,
    dedup_id TEXT NOT NULL,
    message_id TEXT NOT NULL,
    sequence INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (queue_id, scope, dedup_id)
) WITHOUT ROWID;
CREATE INDEX dedup_by_expiry ON dedup (expires_at);
CREATE TABLE move_tasks (
    handle TEXT PRIMARY KEY,
    source_queue_id INTEGER NOT NULL,
    source_arn TEXT NOT NULL,
    destination_arn TEXT,
    max_per_second INTEGER,
    status TEXT NOT NULL,
    moved INTEGER NOT NULL,
    to_move INTEGER NOT NULL,
    boundary_id INTEGER NOT NULL,
    started_at INTEGER NOT NULL,
    failure_reason TEXT
);
INSERT INTO meta (key, value) VALUES ('next_message_id', 1);
"#,
    r#"
CREATE TABLE idempotency_keys (
    key TEXT PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    answer TEXT,
    claimed_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX idempotency_keys_expiry ON idempotency_keys (expires_at);
"#,
    // Job status finds a message by its id. Ids are UUIDv7 from this version on, so new
    // entries land at the index's end instead of at random pages.
    r#"
CREATE INDEX payloads_by_message_id ON payloads (message_id);
"#,
];

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Why a database could not be opened. Each says what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("cannot create the data directory {path}: {source}")]
    CreateDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not a readable SQLite database ({detail}); it may be truncated or damaged: restore it from a backup or move it aside to start empty")]
    Corrupt { path: PathBuf, detail: String },
    #[error("{path} is a SQLite database but not a Conveyor queue database; point Conveyor at another file")]
    Foreign { path: PathBuf },
    #[error("{path} has schema version {found}, newer than this build supports ({supported}); run a newer Conveyor, or restore a backup made by this version")]
    NewerSchema {
        path: PathBuf,
        found: i64,
        supported: i64,
    },
    #[error("cannot open {path}: {detail}")]
    Sqlite { path: PathBuf, detail: String },
    #[error("{path} is in use by another Conveyor process (its lock file {lock} is held); stop that process or use another data directory")]
    InUse { path: PathBuf, lock: PathBuf },
}

/// How hard a commit works to survive failures.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Durability {
    /// A commit is on disk (the WAL fsynced, by the engine's sync thread) before it is
    /// acknowledged; survives power loss.
    #[default]
    Full,
    /// `synchronous=NORMAL` and no fsync before answering: survives a process crash, but the
    /// last commits may be lost on power loss.
    Relaxed,
}

fn sqlite_error(path: &Path, e: rusqlite::Error) -> OpenError {
    let detail = e.to_string();
    let corrupt = matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::NotADatabase) | Some(rusqlite::ErrorCode::DatabaseCorrupt)
    );
    if corrupt {
        OpenError::Corrupt {
            path: path.to_path_buf(),
            detail,
        }
    } else {
        OpenError::Sqlite {
            path: path.to_path_buf(),
            detail,
        }
    }
}

/// Open (creating if needed) the database the writer uses, migrated to the current schema.
pub fn open_writer(path: &Path) -> Result<Connection, OpenError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| OpenError::CreateDir {
            path: dir.to_path_buf(),
            source,
        })?;
    }
    // Only the writer thread uses this connection, so SQLite's own locking is pure overhead.
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(|e| sqlite_error(path, e))?;
    // Room for every statement the writer prepares (about 33, plus three per batch-delete size
    // up to ten), so none is parsed twice.
    conn.set_prepared_statement_cache_capacity(128);
    // journal_mode reads page 1, so a file that is not a database fails here, not later.
    conn.query_row("PRAGMA journal_mode=WAL", [], |_| Ok(()))
        .map_err(|e| sqlite_error(path, e))?;
    // The writer checkpoints itself (SQLite's default, every 1000 pages). A checkpointer on another
    // thread measured slower: under constant writes its passive checkpoints rarely finish before
    // the next transaction, so the WAL never restarts and keeps growing.
    // `synchronous=NORMAL` in both durabilities: the commit does not wait for the disk; under
    // `Durability::Full` the engine's sync thread fsyncs the WAL before any caller is answered
    // (`writer/sync.rs`), so the writer can go on with the next group.
    conn.execute_batch(
        "PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=OFF; PRAGMA cache_size=-16384; \
         PRAGMA temp_store=MEMORY;",
    )
    .map_err(|e| sqlite_error(path, e))?;
    migrate(path, &conn)?;
    Ok(conn)
}

/// Hold `<db>.lock` exclusively for as long as the returned file lives: the writer thread must be
/// the only writer, and a second process on the same file would also keep its own stale caches.
/// The OS releases the lock when the process dies, so a crash never leaves it stuck.
pub fn lock_exclusively(path: &Path) -> Result<std::fs::File, OpenError> {
    let lock = path.with_extension("lock");
    if let Some(dir) = lock.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| OpenError::CreateDir {
            path: dir.to_path_buf(),
            source,
        })?;
    }
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock)
        .map_err(|e| OpenError::Sqlite {
            path: path.to_path_buf(),
            detail: format!("cannot open its lock file {}: {e}", lock.display()),
        })?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(OpenError::InUse {
            path: path.to_path_buf(),
            lock,
        }),
        Err(std::fs::TryLockError::Error(e)) => Err(OpenError::Sqlite {
            path: path.to_path_buf(),
            detail: format!("cannot lock {}: {e}", lock.display()),
        }),
    }
}

/// A read-only connection for counts and listings, which WAL lets run beside the writer.
pub fn open_reader(path: &Path) -> Result<Connection, OpenError> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_URI,
    )
    .map_err(|e| sqlite_error(path, e))?;
    conn.busy_timeout(std::time::Duration::from_secs(5))
        .map_err(|e| sqlite_error(path, e))?;
    Ok(conn)
}

fn migrate(path: &Path, conn: &Connection) -> Result<(), OpenError> {
    let app_id: i32 = conn
        .query_row("PRAGMA application_id", [], |r| r.get(0))
        .map_err(|e| sqlite_error(path, e))?;
    let table_count: i64 = conn
        .query_row("SELECT count(*) FROM sqlite_schema", [], |r| r.get(0))
        .map_err(|e| sqlite_error(path, e))?;
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(|e| sqlite_error(path, e))?;
    if app_id != APPLICATION_ID && (app_id != 0 || table_count > 0) {
        return Err(OpenError::Foreign {
            path: path.to_path_buf(),
        });
    }
    if version > SCHEMA_VERSION {
        return Err(OpenError::NewerSchema {
            path: path.to_path_buf(),
            found: version,
            supported: SCHEMA_VERSION,
        });
    }
    for (from, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        let to = from as i64 + 1;
        let script = format!(
            "BEGIN IMMEDIATE; {sql}; PRAGMA application_id={APPLICATION_ID}; PRAGMA user_version={to}; COMMIT;"
        );
        if let Err(e) = conn.execute_batch(&script) {
            let _ = conn.execute_batch("ROLLBACK");
            return Err(sqlite_error(path, e));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_database_gets_current_schema_and_reopens() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("q.db");
        drop(open_writer(&path).unwrap());
        let conn = open_writer(&path).unwrap();
        let v: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v, SCHEMA_VERSION);
    }

    #[test]
    fn a_version_1_database_is_migrated_keeping_its_queues() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("q.db");
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(&format!(
                "{} INSERT INTO queues (name, config, tags, created_at, modified_at) VALUES ('kept', '{{}}', '{{}}', 0, 0); \
                 PRAGMA application_id={APPLICATION_ID}; PRAGMA user_version=1;",
                MIGRATIONS[0]
            ))
            .unwrap();
        }
        let conn = open_writer(&path).unwrap();
        let v: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v, SCHEMA_VERSION);
        let kept: String = conn
            .query_row("SELECT name FROM queues", [], |r| r.get(0))
            .unwrap();
        assert_eq!(kept, "kept");
        let keys: i64 = conn
            .query_row("SELECT count(*) FROM idempotency_keys", [], |r| r.get(0))
            .unwrap();
        assert_eq!(keys, 0, "the new table exists, empty");
        let index: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE name = 'payloads_by_message_id'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(index, 1, "job status's index is built on migration");
    }

    #[test]
    fn garbage_file_is_reported_as_corrupt() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("q.db");
        std::fs::write(&path, vec![0x5a; 8192]).unwrap();
        let err = open_writer(&path).unwrap_err();
        assert!(matches!(err, OpenError::Corrupt { .. }), "{err}");
        assert!(err.to_string().contains("backup"));
    }

    #[test]
    fn truncated_database_is_reported_not_panicked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("q.db");
        {
            let conn = open_writer(&path).unwrap();
            conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
                .unwrap();
        }
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() / 3]).unwrap();
        let _ = std::fs::remove_file(dir.path().join("q.db-wal"));
        // A truncated file opens or fails with a typed error; it never panics.
        match open_writer(&path) {
            Ok(conn) => {
                let check: Result<String, _> =
                    conn.query_row("PRAGMA integrity_check", [], |r| r.get(0));
                assert_ne!(check.ok().as_deref(), Some("ok"));
            }
            Err(e) => assert!(
                matches!(e, OpenError::Corrupt { .. } | OpenError::Sqlite { .. }),
                "{e}"
            ),
        }
    }

    #[test]
    fn newer_schema_is_refused_with_both_versions() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("q.db");
        drop(open_writer(&path).unwrap());
        Connection::open(&path)
            .unwrap()
            .execute_batch("PRAGMA user_version=99")
            .unwrap();
        let err = open_writer(&path).unwrap_err();
        assert!(
            matches!(err, OpenError::NewerSchema { found: 99, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("newer"));
    }

    #[test]
    fn foreign_database_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("other.db");
        Connection::open(&path)
            .unwrap()
            .execute_batch("CREATE TABLE t(x)")
            .unwrap();
        assert!(matches!(open_writer(&path), Err(OpenError::Foreign { .. })));
    }
}
