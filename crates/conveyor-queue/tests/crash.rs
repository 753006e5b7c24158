//! Durability under SIGKILL: every send the engine acknowledged is in the database exactly once
//! after the process is killed mid-stream, and the file passes `PRAGMA integrity_check`.
//!
//! The writer runs in a child process: this same test binary, re-run with `CHILD_DB` set.

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

mod common;

use conveyor_queue::{EmbeddedEngine, EngineOptions, Queue, SendMessage, SystemClock};

const CHILD_DB: &str = "CONVEYOR_CRASH_TEST_CHILD_DB";
const PRODUCERS: usize = 32;

/// Child mode: send from many tasks until killed, printing each acknowledged body.
fn run_child(db: &str) -> ! {
    let rt = common::runtime();
    rt.block_on(async {
        let engine =
            EmbeddedEngine::open(EngineOptions::new(db), Arc::new(SystemClock)).expect("open");
        engine
            .create_queue("crash", &BTreeMap::new(), &BTreeMap::new())
            .await
            .expect("create");
        let mut tasks = Vec::new();
        for producer in 0..PRODUCERS {
            let engine = engine.clone();
            tasks.push(tokio::spawn(async move {
                for n in 0.. {
                    let body = format!("p{producer}-{n}");
                    engine
                        .send("crash", SendMessage::new(body.clone()))
                        .await
                        .expect("send");
                    let mut out = std::io::stdout().lock();
                    writeln!(out, "ACK {body}").expect("stdout");
                    out.flush().expect("flush");
                }
            }));
        }
        for t in tasks {
            let _ = t.await;
        }
    });
    std::process::exit(0)
}

#[test]
fn acknowledged_sends_survive_sigkill() {
    if let Ok(db) = std::env::var(CHILD_DB) {
        run_child(&db);
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("crash.db");
    let mut child = common::child("acknowledged_sends_survive_sigkill")
        .env(CHILD_DB, &db)
        .spawn()
        .expect("spawn child");
    let stdout = child.stdout.take().expect("child stdout");
    let mut lines = BufReader::new(stdout).lines();
    let mut acked: Vec<String> = Vec::new();
    let started = Instant::now();
    // Let it get well into its stride, then kill it in the middle of sending.
    while acked.len() < 3_000 && started.elapsed() < Duration::from_secs(20) {
        match lines.next() {
            Some(Ok(line)) => {
                if let Some(body) = common::child_line(&line).strip_prefix("ACK ") {
                    acked.push(body.to_string());
                }
            }
            _ => break,
        }
    }
    child.kill().expect("SIGKILL the child");
    // Whatever it printed before dying was acknowledged too.
    for line in lines.map_while(Result::ok) {
        if let Some(body) = common::child_line(&line).strip_prefix("ACK ") {
            acked.push(body.to_string());
        }
    }
    let _ = child.wait();
    assert!(
        acked.len() >= 100,
        "the child acknowledged only {} sends before the kill",
        acked.len()
    );

    let conn = common::checked(&db);
    let mut stored: HashMap<String, i64> = HashMap::new();
    let mut stmt = conn
        .prepare("SELECT p.body, count(*) FROM messages m JOIN payloads p ON p.id = m.payload_id GROUP BY p.body")
        .expect("query");
    for row in stmt
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
        .expect("rows")
    {
        let (body, n) = row.expect("row");
        stored.insert(body, n);
    }
    for body in &acked {
        assert_eq!(
            stored.get(body),
            Some(&1),
            "acknowledged message {body} is not stored exactly once"
        );
    }
    assert!(
        stored.values().all(|n| *n == 1),
        "a message was stored twice"
    );
    eprintln!(
        "{} acknowledged before SIGKILL, {} stored, all acknowledged present once",
        acked.len(),
        stored.len()
    );

    // The engine itself reopens the killed database and serves it.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let engine = EmbeddedEngine::open(EngineOptions::new(&db), Arc::new(SystemClock))
            .expect("engine reopens");
        let counts = engine.counts("crash").await.expect("counts");
        assert_eq!(counts.visible as usize, stored.len());
    });
}
