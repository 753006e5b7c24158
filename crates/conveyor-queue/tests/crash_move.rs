//! A message move task (a dead-letter queue's redrive) killed with SIGKILL, three times, resumes
//! when the engine opens again and finishes: every message ends in the destination exactly once,
//! none lost and none doubled at any kill.
//!
//! The engine runs in a child process: this same test binary, re-run with `CHILD_DB` set.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{BufRead, BufReader, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

mod common;

use conveyor_queue::{
    BatchEntry, EmbeddedEngine, EngineOptions, MoveTaskStatus, Queue, SendMessage, SystemClock,
};

const CHILD_DB: &str = "CONVEYOR_CRASH_MOVE_CHILD_DB";
const CHILD_START: &str = "CONVEYOR_CRASH_MOVE_START";
const MESSAGES: usize = 2_000;
/// The most SQS allows: 2,000 messages take 4 s, so each kill lands mid-move.
const RATE: u32 = 500;
const KILLS: usize = 3;

fn open(db: &str) -> EmbeddedEngine {
    EmbeddedEngine::open(EngineOptions::new(db), Arc::new(SystemClock)).expect("open")
}

/// Child mode: with `start`, create the queues, fill the dead-letter queue and start the move;
/// either way, keep the engine open (its writer moves the messages) until killed.
fn run_child(db: &str, start: bool) -> ! {
    let rt = common::runtime();
    rt.block_on(async {
        let engine = open(db);
        if start {
            let none = BTreeMap::new();
            let dlq = engine
                .create_queue("work-dlq", &none, &none)
                .await
                .expect("dlq");
            let policy = format!(
                r#"{{"deadLetterTargetArn":"{}","maxReceiveCount":"3"}}"#,
                dlq.arn
            );
            let work = engine
                .create_queue(
                    "work",
                    &BTreeMap::from([("RedrivePolicy".to_string(), policy)]),
                    &none,
                )
                .await
                .expect("work");
            let mut out = std::io::stdout().lock();
            for chunk in 0..MESSAGES / 10 {
                let entries = (0..10)
                    .map(|k| BatchEntry {
                        id: k.to_string(),
                        entry: SendMessage::new(format!("m{}", chunk * 10 + k)),
                    })
                    .collect();
                let sent = engine.send_batch("work-dlq", entries).await.expect("send");
                for (_, s) in sent.successful {
                    writeln!(out, "SENT {}", s.message_id).expect("stdout");
                }
            }
            engine
                .start_message_move_task(&dlq.arn, Some(&work.arn), Some(RATE))
                .await
                .expect("start move");
            writeln!(out, "ARN {}", dlq.arn).expect("stdout");
            writeln!(out, "MOVING").expect("stdout");
            out.flush().expect("flush");
        } else {
            println!("OPEN");
        }
        std::future::pending::<()>().await;
    });
    std::process::exit(0)
}

/// How many messages the destination holds, read while the child writes (WAL readers do not block).
fn moved_so_far(db: &std::path::Path) -> usize {
    let Ok(conn) = rusqlite::Connection::open(db) else {
        return 0;
    };
    conn.query_row(
        "SELECT count(*) FROM messages m JOIN queues q ON q.id = m.queue_id WHERE q.name = 'work'",
        [],
        |r| r.get::<_, i64>(0),
    )
    .map_or(0, |n| n as usize)
}

/// Each stored message id, with the queue holding it and how many rows carry it.
fn where_they_are(db: &std::path::Path) -> HashMap<String, (String, usize)> {
    let conn = common::checked(db);
    let mut stmt = conn
        .prepare(
            "SELECT p.message_id, q.name, count(*) OVER (PARTITION BY p.message_id) \
             FROM messages m JOIN payloads p ON p.id = m.payload_id JOIN queues q ON q.id = m.queue_id",
        )
        .expect("query");
    let rows = stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                (r.get::<_, String>(1)?, r.get::<_, i64>(2)? as usize),
            ))
        })
        .expect("rows");
    rows.map(|r| r.expect("row")).collect()
}

#[test]
fn a_move_task_killed_mid_move_resumes_and_loses_nothing() {
    if let Ok(db) = std::env::var(CHILD_DB) {
        run_child(&db, std::env::var(CHILD_START).is_ok());
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("move.db");
    let mut sent: HashSet<String> = HashSet::new();
    let mut dlq_arn = String::new();
    let mut moved_before = 0;
    for kill in 0..KILLS {
        let mut command = common::child("a_move_task_killed_mid_move_resumes_and_loses_nothing");
        command.env(CHILD_DB, &db);
        if kill == 0 {
            command.env(CHILD_START, "1");
        }
        let mut child = command.spawn().expect("spawn child");
        let lines = BufReader::new(child.stdout.take().expect("child stdout")).lines();
        for line in lines.map_while(Result::ok) {
            let line = common::child_line(&line);
            if let Some(id) = line.strip_prefix("SENT ") {
                sent.insert(id.to_string());
            }
            if let Some(arn) = line.strip_prefix("ARN ") {
                dlq_arn = arn.to_string();
            }
            if line == "MOVING" || line == "OPEN" {
                break;
            }
        }
        // Kill it mid-move: as soon as the writer has moved more since the last kill.
        let watching = Instant::now();
        while moved_so_far(&db) <= moved_before && watching.elapsed() < Duration::from_secs(20) {
            std::thread::sleep(Duration::from_millis(20));
        }
        child.kill().expect("SIGKILL the child");
        let _ = child.wait();
        assert_eq!(
            sent.len(),
            MESSAGES,
            "the dead-letter queue was filled in full"
        );

        let now = where_they_are(&db);
        let moved = now.values().filter(|(q, _)| q == "work").count();
        for id in &sent {
            let (_, rows) = now
                .get(id)
                .unwrap_or_else(|| panic!("kill {kill}: message {id} is in neither queue"));
            assert_eq!(*rows, 1, "kill {kill}: message {id} is stored {rows} times");
        }
        assert_eq!(
            now.len(),
            MESSAGES,
            "kill {kill}: only the sent messages are stored"
        );
        eprintln!("kill {kill}: {moved} of {MESSAGES} moved, none lost or doubled");
        assert!(
            moved_before < moved && moved < MESSAGES,
            "kill {kill} did not land mid-move ({moved_before} moved before it, {moved} after); the test proves nothing"
        );
        moved_before = moved;
    }

    // Opened once more, the engine finishes the task it was killed in.
    let rt = common::runtime();
    rt.block_on(async {
        let engine = open(db.to_str().expect("utf-8 path"));
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let tasks = engine
                .list_message_move_tasks(&dlq_arn, Some(1))
                .await
                .expect("list tasks");
            let task = tasks.first().expect("the task survives the kills");
            if task.status == MoveTaskStatus::Completed {
                assert_eq!(task.approximate_number_of_messages_moved as usize, MESSAGES);
                break;
            }
            assert_eq!(task.status, MoveTaskStatus::Running, "{task:?}");
            assert!(
                Instant::now() < deadline,
                "the resumed task did not finish: {task:?}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });
    let end = where_they_are(&db);
    assert!(
        sent.iter().all(|id| end
            .get(id)
            .is_some_and(|(q, rows)| q == "work" && *rows == 1)),
        "after the task completed, every message is in the destination exactly once"
    );
    assert_eq!(end.len(), MESSAGES);
}
