//! Durability of the consuming side under SIGKILL: consumers receive, delete, change visibility
//! and let messages expire while the process is killed, three times over on the same database.
//! After each kill, no message is lost (each is stored, or its deletion was under way), no
//! acknowledged delete is undone, and no receive count has gone backwards; after the last, every
//! message still stored becomes visible again once its visibility runs out (none stuck in flight).
//!
//! The engine runs in a child process: this same test binary, re-run with `CHILD_DB` set. The
//! child prints what it did, each line after the engine answered, so the parent knows what was
//! acknowledged before the kill.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{BufRead, BufReader, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

mod common;

use conveyor_queue::{
    BatchEntry, EmbeddedEngine, EngineOptions, Queue, ReceiveRequest, SendMessage, SystemClock,
};

const CHILD_DB: &str = "CONVEYOR_CRASH_CONSUME_CHILD_DB";
const CHILD_FILL: &str = "CONVEYOR_CRASH_CONSUME_FILL";
const QUEUE: &str = "work";
const MESSAGES: usize = 3_000;
const CONSUMERS: usize = 8;
/// Long enough that a consumer deletes with a fresh receipt, short enough to wait out.
const VISIBILITY: u32 = 4;
const ROUNDS: usize = 3;

fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}").expect("stdout");
    out.flush().expect("flush");
}

/// What a consumer does with a message it received, varied by id and receive count.
fn fate(id: &str, count: u32) -> u8 {
    let h = id
        .bytes()
        .fold(count as u64, |h, b| h.wrapping_mul(31) + b as u64);
    (h % 4) as u8
}

/// Child mode: (fill, then) consume until killed.
fn run_child(db: &str, fill: bool) -> ! {
    let rt = common::runtime();
    rt.block_on(async {
        let engine =
            EmbeddedEngine::open(EngineOptions::new(db), Arc::new(SystemClock)).expect("open");
        let attributes =
            BTreeMap::from([("VisibilityTimeout".to_string(), VISIBILITY.to_string())]);
        engine
            .create_queue(QUEUE, &attributes, &BTreeMap::new())
            .await
            .expect("create");
        if fill {
            for chunk in 0..MESSAGES / 10 {
                let entries = (0..10)
                    .map(|k| BatchEntry {
                        id: k.to_string(),
                        entry: SendMessage::new(format!("m{}", chunk * 10 + k)),
                    })
                    .collect();
                let out = engine.send_batch(QUEUE, entries).await.expect("send");
                for (_, sent) in out.successful {
                    say(&format!("SENT {}", sent.message_id));
                }
            }
        }
        say("CONSUMING");
        let mut tasks = Vec::new();
        for _ in 0..CONSUMERS {
            let engine = engine.clone();
            tasks.push(tokio::spawn(async move {
                loop {
                    let got = engine
                        .receive(QUEUE, ReceiveRequest::up_to(10).wait(1))
                        .await
                        .expect("receive");
                    let mut deletes = Vec::new();
                    let mut releases = Vec::new();
                    for m in &got {
                        let count = m.approximate_receive_count;
                        say(&format!("RECV {} {count}", m.message_id));
                        match fate(&m.message_id, count) {
                            0 | 1 => {
                                say(&format!("DELETING {} {count}", m.message_id));
                                deletes.push((
                                    m.message_id.clone(),
                                    count,
                                    m.receipt_handle.clone(),
                                ));
                            }
                            2 => releases.push(m.receipt_handle.clone()),
                            _ => {} // left to expire
                        }
                    }
                    if !releases.is_empty() {
                        let entries = releases
                            .into_iter()
                            .enumerate()
                            .map(|(k, r)| BatchEntry {
                                id: k.to_string(),
                                entry: (r, 0),
                            })
                            .collect();
                        engine
                            .change_visibility_batch(QUEUE, entries)
                            .await
                            .expect("change visibility");
                    }
                    if !deletes.is_empty() {
                        let entries = deletes
                            .iter()
                            .enumerate()
                            .map(|(k, (_, _, r))| BatchEntry {
                                id: k.to_string(),
                                entry: r.clone(),
                            })
                            .collect();
                        let out = engine.delete_batch(QUEUE, entries).await.expect("delete");
                        for (k, ()) in out.successful {
                            let (id, count, _) = &deletes[k.parse::<usize>().expect("entry id")];
                            say(&format!("DELETED {id} {count}"));
                        }
                    }
                }
            }));
        }
        for t in tasks {
            let _ = t.await;
        }
    });
    std::process::exit(0)
}

/// What the parent learned from the children's lines, over all rounds.
#[derive(Default)]
struct Seen {
    sent: HashSet<String>,
    /// The highest receive count each message was delivered with.
    received: HashMap<String, u32>,
    /// Deletes under way: the receive count they were made with.
    deleting: HashMap<String, u32>,
    /// Deletes the engine acknowledged, with the receive count of their receipt.
    deleted: HashMap<String, u32>,
}

impl Seen {
    fn read(&mut self, line: &str) -> bool {
        let line = common::child_line(line);
        let mut parts = line.split(' ');
        let (kind, id, count) = (parts.next(), parts.next(), parts.next());
        let count = count.and_then(|c| c.parse::<u32>().ok()).unwrap_or(0);
        match (kind, id) {
            (Some("SENT"), Some(id)) => {
                self.sent.insert(id.to_string());
            }
            (Some("RECV"), Some(id)) => {
                let c = self.received.entry(id.to_string()).or_default();
                *c = (*c).max(count);
                return true;
            }
            (Some("DELETING"), Some(id)) => {
                self.deleting.insert(id.to_string(), count);
            }
            (Some("DELETED"), Some(id)) => {
                self.deleted.insert(id.to_string(), count);
            }
            _ => {}
        }
        false
    }
}

/// The stored messages: message id → receive count, read straight from the file.
fn stored(db: &std::path::Path) -> HashMap<String, u32> {
    let conn = common::checked(db);
    let mut stmt = conn
        .prepare("SELECT p.message_id, m.receive_count FROM messages m JOIN payloads p ON p.id = m.payload_id")
        .expect("query");
    let rows = stmt
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, u32>(1)?)))
        .expect("rows");
    rows.map(|r| r.expect("row")).collect()
}

#[test]
fn receives_deletes_and_visibility_changes_survive_sigkill() {
    if let Ok(db) = std::env::var(CHILD_DB) {
        run_child(&db, std::env::var(CHILD_FILL).is_ok());
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("consume.db");
    let mut seen = Seen::default();
    let mut remaining = MESSAGES;
    for round in 0..ROUNDS {
        let mut command = common::child("receives_deletes_and_visibility_changes_survive_sigkill");
        command.env(CHILD_DB, &db);
        if round == 0 {
            command.env(CHILD_FILL, "1");
        }
        let mut child = command.spawn().expect("spawn child");
        // Lines come through a channel, so a child with nothing left to say cannot block the test.
        let (tx, rx) = std::sync::mpsc::channel::<String>();
        let stdout = child.stdout.take().expect("child stdout");
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        // Kill after a different share of what is left each round, in the thick of it.
        let kill_after = remaining * (2 + round) / 8;
        let mut deliveries = 0;
        let started = Instant::now();
        while deliveries < kill_after && started.elapsed() < Duration::from_secs(30) {
            match rx.recv_timeout(Duration::from_millis(200)) {
                Ok(line) => deliveries += usize::from(seen.read(&line)),
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
                Err(_) => break,
            }
        }
        child.kill().expect("SIGKILL the child");
        reader.join().expect("reader");
        for line in rx.try_iter() {
            seen.read(&line);
        }
        let _ = child.wait();
        assert!(
            deliveries >= kill_after.min(200),
            "round {round}: the child delivered only {deliveries} messages before the kill"
        );
        assert_eq!(
            seen.sent.len(),
            MESSAGES,
            "the fill is acknowledged in full"
        );

        let now = stored(&db);
        for id in &seen.sent {
            match now.get(id) {
                None => assert!(
                    seen.deleting.contains_key(id),
                    "round {round}: message {id} is gone, and nobody deleted it"
                ),
                Some(count) => {
                    let delivered = seen.received.get(id).copied().unwrap_or(0);
                    assert!(
                        *count >= delivered,
                        "round {round}: message {id} was delivered with receive count {delivered}, and is stored with {count}"
                    );
                    // An acknowledged delete removed the message for good, unless its receipt
                    // was stale: then the message was received again, with a higher count.
                    if let Some(with) = seen.deleted.get(id) {
                        assert!(
                            count > with,
                            "round {round}: message {id}'s delete (receive {with}) was acknowledged, yet it is stored with receive count {count}"
                        );
                    }
                }
            }
        }
        remaining = now.len();
        let redelivered = now
            .keys()
            .filter(|id| seen.received.contains_key(*id))
            .count();
        assert!(redelivered > 0, "round {round}: no stored message had been delivered: the receive counts went unchecked");
        eprintln!(
            "round {round}: killed after {deliveries} deliveries; {} messages stored ({redelivered} delivered before, their receive counts checked), {} deletes acknowledged so far",
            now.len(),
            seen.deleted.len()
        );
    }

    // None stuck in flight: once the last visibility runs out, every stored message is visible.
    let left = stored(&db).len() as u64;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let engine = EmbeddedEngine::open(EngineOptions::new(&db), Arc::new(SystemClock))
            .expect("engine reopens");
        let deadline = Instant::now() + Duration::from_secs(u64::from(VISIBILITY) + 10);
        loop {
            let counts = engine.counts(QUEUE).await.expect("counts");
            if counts.visible == left && counts.in_flight == 0 {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{} messages still in flight {} s after the last kill ({} visible of {left})",
                counts.in_flight,
                VISIBILITY + 10,
                counts.visible
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let mut drained = 0;
        loop {
            let got = engine
                .receive(QUEUE, ReceiveRequest::up_to(10).visibility(60))
                .await
                .expect("receive");
            if got.is_empty() {
                break;
            }
            drained += got.len() as u64;
        }
        assert_eq!(drained, left, "every stored message can be received");
    });
}
