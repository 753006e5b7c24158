//! Durable commits without the writer waiting for the disk.
//!
//! Under `Durability::Full` the writer commits with `synchronous=NORMAL` (SQLite writes the
//! transaction's WAL frames but does not fsync them) and hands the group's answers to this
//! thread, which fsyncs the WAL file and only then answers. The writer goes on with the next
//! group meanwhile, so one fsync overlaps the next group's work instead of stalling it, and one
//! fsync covers every group committed while the previous one ran.
//!
//! Why this is as durable as `synchronous=FULL`: an answer is sent only after an fsync of the WAL
//! that began after its transaction's frames were written, so those frames are on disk, and
//! recovery replays every committed frame it finds; a checkpoint that moved them into the main
//! file first has synced that file itself (SQLite does under NORMAL). What changes is visibility:
//! a reader may see a transaction a little before its caller is answered, as with any group
//! commit.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender};
use std::sync::Arc;

use tokio::sync::Notify;

use super::Completion;
use crate::error::QueueError;

/// One committed group, waiting for its fsync.
pub(super) struct Committed {
    pub completions: Vec<Completion>,
    pub wake: Vec<Arc<Notify>>,
}

impl Committed {
    /// Tell every caller of the group it succeeded, and wake its long polls.
    pub fn answer(self) {
        for c in self.completions {
            c(None);
        }
        for n in self.wake {
            n.notify_waiters();
        }
    }
}

/// The writer's handle on the sync thread.
pub(super) struct Syncer {
    groups: Sender<Committed>,
    /// Set when an fsync failed: what was committed may not be on disk, so the writer stops
    /// rather than answer anything more.
    failed: Arc<AtomicBool>,
}

impl Syncer {
    pub fn has_failed(&self) -> bool {
        self.failed.load(Ordering::Acquire)
    }

    /// Answer `group` once the WAL holding it is on disk.
    pub fn hand_over(&self, group: Committed) {
        if self.groups.send(group).is_err() {
            // The sync thread is gone: nothing can be answered as durable any more; the dropped
            // replies tell these callers the writer stopped.
            self.failed.store(true, Ordering::Release);
        }
    }
}

/// Start the sync thread for the database at `db` (SQLite keeps its WAL at `<db>-wal`).
pub(super) fn start(db: &Path) -> std::io::Result<(Syncer, std::thread::JoinHandle<()>)> {
    let (groups, rx) = std::sync::mpsc::channel();
    let failed = Arc::new(AtomicBool::new(false));
    let flag = failed.clone();
    let mut wal = db.as_os_str().to_owned();
    wal.push("-wal");
    let wal = PathBuf::from(wal);
    let thread = std::thread::Builder::new()
        .name("conveyor-queue-sync".into())
        .spawn(move || run(wal, rx, &flag))?;
    Ok((Syncer { groups, failed }, thread))
}

/// Serve committed groups until the writer is gone: fsync, then answer every group that was
/// waiting.
pub(super) fn run(wal: PathBuf, groups: Receiver<Committed>, failed: &AtomicBool) {
    let mut file: Option<std::fs::File> = None;
    while let Ok(first) = groups.recv() {
        let mut batch = vec![first];
        batch.extend(groups.try_iter());
        let synced = match &file {
            Some(f) => f.sync_data(),
            None => std::fs::File::open(&wal).and_then(|f| {
                let result = f.sync_data();
                file = Some(f);
                result
            }),
        };
        match synced {
            Ok(()) => batch.into_iter().for_each(Committed::answer),
            Err(e) => {
                failed.store(true, Ordering::Release);
                eprintln!(
                    "conveyor-queue: flushing {} to disk failed ({e}); the queue engine stops answering",
                    wal.display()
                );
                let error = QueueError::Unavailable(format!(
                    "flushing the queue database to disk failed ({e}); this request may not be stored: check the disk and restart Conveyor"
                ));
                for group in batch {
                    for c in group.completions {
                        c(Some(&error));
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;
    use std::sync::Mutex;

    use super::*;

    /// A group of one caller whose answer lands in the returned slot.
    fn group(answers: &Arc<Mutex<Vec<Option<String>>>>, notify: &Arc<Notify>) -> Committed {
        let answers = answers.clone();
        Committed {
            completions: vec![Box::new(move |failure: Option<&QueueError>| {
                answers.lock().unwrap().push(failure.map(|e| e.to_string()));
            })],
            wake: vec![notify.clone()],
        }
    }

    #[test]
    fn groups_are_answered_after_the_wal_is_flushed() {
        let dir = tempfile::tempdir().unwrap();
        let wal = dir.path().join("q.db-wal");
        std::fs::write(&wal, b"frames").unwrap();
        let (tx, rx) = mpsc::channel();
        let answers = Arc::new(Mutex::new(Vec::new()));
        let notify = Arc::new(Notify::new());
        let woken = notify.clone();
        let (registered, is_registered) = mpsc::channel();
        let waiter = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
                .block_on(async {
                    let notified = woken.notified();
                    tokio::pin!(notified);
                    notified.as_mut().enable();
                    registered.send(()).unwrap();
                    tokio::time::timeout(std::time::Duration::from_secs(10), notified)
                        .await
                        .is_ok()
                })
        });
        is_registered.recv().unwrap();
        for _ in 0..3 {
            tx.send(group(&answers, &notify)).unwrap();
        }
        drop(tx);
        let failed = AtomicBool::new(false);
        run(wal, rx, &failed);
        assert_eq!(*answers.lock().unwrap(), vec![None, None, None]);
        assert!(!failed.load(Ordering::Acquire));
        assert!(
            waiter.join().unwrap(),
            "the group's long-poll waiters were woken"
        );
    }

    #[test]
    fn a_failed_flush_answers_with_an_error_and_stops_the_writer() {
        let dir = tempfile::tempdir().unwrap();
        // No WAL file to flush: the open fails as an fsync would.
        let wal = dir.path().join("missing").join("q.db-wal");
        let (tx, rx) = mpsc::channel();
        let answers = Arc::new(Mutex::new(Vec::new()));
        let notify = Arc::new(Notify::new());
        tx.send(group(&answers, &notify)).unwrap();
        drop(tx);
        let failed = AtomicBool::new(false);
        run(wal, rx, &failed);
        let answers = answers.lock().unwrap();
        let error = answers[0].as_deref().expect("an error, not success");
        assert!(
            error.contains("flushing the queue database to disk failed"),
            "{error}"
        );
        assert!(error.contains("restart"), "{error}");
        assert!(failed.load(Ordering::Acquire), "the writer is told to stop");
    }
}
