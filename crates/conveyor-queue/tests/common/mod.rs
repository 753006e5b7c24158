//! What the SIGKILL tests share: the child is this same test binary, re-run for one test with an
//! environment variable saying it is the child.

use std::path::Path;
use std::process::{Command, Stdio};

/// The runtime a child (or the parent's reopened engine) runs the engine on.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

/// This test binary, set to run only `test` as a child, its stdout piped to the parent.
pub fn child(test: &str) -> Command {
    let mut command = Command::new(std::env::current_exe().expect("test binary"));
    command
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    command
}

/// A child's output line without the harness's "test … ... " its first line follows.
pub fn child_line(line: &str) -> &str {
    line.rsplit_once(" ... ").map_or(line, |(_, l)| l)
}

/// The killed child's database, opened directly after `PRAGMA integrity_check` passed.
pub fn checked(db: &Path) -> rusqlite::Connection {
    let conn = rusqlite::Connection::open(db).expect("reopen");
    let integrity: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .expect("integrity_check");
    assert_eq!(integrity, "ok");
    conn
}
