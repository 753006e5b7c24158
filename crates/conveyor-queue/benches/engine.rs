//! Engine throughput, memory and restart benchmark (issue 2's targets).
//!
//! `cargo bench -p conveyor-queue --bench engine` runs everything; pass scenario names after
//! `--` to run some (`standard fifo two-queues single naive million million-fifo`). Each throughput figure is the median
//! of three runs. The peer, measured in the same run, is the naive durable design: SQLite with
//! one fsynced transaction per message, which is what group commit replaces.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use conveyor_queue::{
    BatchEntry, EmbeddedEngine, EngineOptions, Queue, ReceiveRequest, SendMessage, SystemClock,
};

const BODY_BYTES: usize = 1024;
const RUNS: usize = 3;
/// Concurrent clients in the full-cycle scenarios (the design notes' prototype used 32).
const PRODUCERS: usize = 16;
const CONSUMERS: usize = 16;
const CHILD_ENV: &str = "CONVEYOR_BENCH_RESTART_DB";
const CHILD_QUEUE_ENV: &str = "CONVEYOR_BENCH_RESTART_QUEUE";

fn body(i: usize) -> String {
    let prefix = format!("{i:012}-");
    format!("{prefix}{}", "x".repeat(BODY_BYTES - prefix.len()))
}

/// Messages `first..first + 10`; on a FIFO queue spread over `groups`, each deduplicated by number.
fn batch_of_ten(first: usize, fifo_groups: Option<usize>) -> Vec<BatchEntry<SendMessage>> {
    (0..10)
        .map(|k| {
            let i = first + k;
            let mut m = SendMessage::new(body(i));
            if let Some(groups) = fifo_groups {
                m = m.group(format!("g{}", i % groups)).dedup(i.to_string());
            }
            BatchEntry {
                id: k.to_string(),
                entry: m,
            }
        })
        .collect()
}

/// `CONVEYOR_BENCH_DURABILITY=relaxed` measures without an fsync per commit, to price it; the
/// targets are for the default, durable mode.
fn open(dir: &std::path::Path) -> EmbeddedEngine {
    let mut options = EngineOptions::new(dir.join("bench.db"));
    if std::env::var("CONVEYOR_BENCH_DURABILITY").as_deref() == Ok("relaxed") {
        options.durability = conveyor_queue::Durability::Relaxed;
    }
    EmbeddedEngine::open(options, Arc::new(SystemClock)).expect("open engine")
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).expect("finite"));
    v[v.len() / 2]
}

fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// Producers send `total` messages in batches of 10 while consumers receive 10 and delete them
/// in batches; returns fully processed messages per second.
async fn full_cycle(
    fifo_groups: Option<usize>,
    total: usize,
    producers: usize,
    consumers: usize,
) -> f64 {
    let dir = tempfile::tempdir().expect("temp dir");
    let engine = open(dir.path());
    let name = create_bench_queue(&engine, "bench", fifo_groups).await;
    cycle_on(
        vec![(engine, name)],
        fifo_groups,
        total,
        producers,
        consumers,
    )
    .await
}

/// Two busy standard queues, `shards` engines (each its own database file and writer thread):
/// with one engine both queues share a writer; with two, each has its own, which is the most a
/// writer per shard of queues could give. Clients are split evenly between the queues.
async fn two_queues(shards: usize, total: usize, producers: usize, consumers: usize) -> f64 {
    let dirs: Vec<_> = (0..shards)
        .map(|_| tempfile::tempdir().expect("temp dir"))
        .collect();
    let engines: Vec<_> = dirs.iter().map(|d| open(d.path())).collect();
    let mut targets = Vec::new();
    for q in 0..2 {
        let engine = engines[q % shards].clone();
        let name = create_bench_queue(&engine, &format!("bench-{q}"), None).await;
        targets.push((engine, name));
    }
    cycle_on(targets, None, total, producers, consumers).await
}

async fn create_bench_queue(
    engine: &EmbeddedEngine,
    base: &str,
    fifo_groups: Option<usize>,
) -> String {
    let (name, attrs) = match fifo_groups {
        Some(_) => (
            format!("{base}.fifo"),
            BTreeMap::from([("FifoQueue".to_string(), "true".to_string())]),
        ),
        None => (base.to_string(), BTreeMap::new()),
    };
    engine
        .create_queue(&name, &attrs, &BTreeMap::new())
        .await
        .expect("create");
    name
}

/// The full cycle over every `(engine, queue)` target at once, `total` messages and the clients
/// split evenly between them.
async fn cycle_on(
    targets: Vec<(EmbeddedEngine, String)>,
    fifo_groups: Option<usize>,
    total: usize,
    producers: usize,
    consumers: usize,
) -> f64 {
    let shares = targets.len();
    let (producers, consumers) = (producers / shares, consumers / shares);
    let per_producer = total / shares / producers;
    let started = Instant::now();
    let mut tasks = Vec::new();
    let mut processed_counters = Vec::new();
    for (t, (engine, name)) in targets.into_iter().enumerate() {
        let name: Arc<str> = name.into();
        let processed = Arc::new(AtomicUsize::new(0));
        processed_counters.push(processed.clone());
        for p in 0..producers {
            let (engine, name) = (engine.clone(), name.clone());
            let first = (t * producers + p) * per_producer;
            tasks.push(tokio::spawn(async move {
                for chunk in 0..per_producer / 10 {
                    let entries = batch_of_ten(first + chunk * 10, fifo_groups);
                    let out = engine.send_batch(&name, entries).await.expect("send batch");
                    assert_eq!(out.successful.len(), 10);
                }
            }));
        }
        for _ in 0..consumers {
            let (engine, name, processed) = (engine.clone(), name.clone(), processed.clone());
            let goal = per_producer * producers;
            tasks.push(tokio::spawn(async move {
                while processed.load(Ordering::Relaxed) < goal {
                    let got = engine
                        .receive(&name, ReceiveRequest::up_to(10).wait(1))
                        .await
                        .expect("receive");
                    if got.is_empty() {
                        continue;
                    }
                    let n = got.len();
                    let entries = got
                        .into_iter()
                        .enumerate()
                        .map(|(k, m)| BatchEntry {
                            id: k.to_string(),
                            entry: m.receipt_handle,
                        })
                        .collect();
                    engine
                        .delete_batch(&name, entries)
                        .await
                        .expect("delete batch");
                    processed.fetch_add(n, Ordering::Relaxed);
                }
            }));
        }
    }
    for t in tasks {
        t.await.expect("task");
    }
    let done: usize = processed_counters
        .iter()
        .map(|c| c.load(Ordering::Relaxed))
        .sum();
    done as f64 / started.elapsed().as_secs_f64()
}

/// `producers` tasks each sending single messages; returns acknowledged sends per second.
async fn single_sends(total: usize, producers: usize) -> f64 {
    let dir = tempfile::tempdir().expect("temp dir");
    let engine = open(dir.path());
    engine
        .create_queue("single", &BTreeMap::new(), &BTreeMap::new())
        .await
        .expect("create");
    let started = Instant::now();
    let per = total / producers;
    let tasks: Vec<_> = (0..producers)
        .map(|p| {
            let engine = engine.clone();
            tokio::spawn(async move {
                for i in 0..per {
                    engine
                        .send("single", SendMessage::new(body(p * per + i)))
                        .await
                        .expect("send");
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.expect("task");
    }
    (per * producers) as f64 / started.elapsed().as_secs_f64()
}

/// The peer: one durable SQLite transaction per message (WAL, synchronous=FULL), for `seconds`.
fn naive_sqlite(seconds: f64) -> f64 {
    let dir = tempfile::tempdir().expect("temp dir");
    let conn = rusqlite::Connection::open(dir.path().join("naive.db")).expect("open");
    conn.execute_batch(
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; \
         CREATE TABLE m (id INTEGER PRIMARY KEY, body TEXT NOT NULL);",
    )
    .expect("schema");
    let started = Instant::now();
    let mut n = 0;
    while started.elapsed().as_secs_f64() < seconds {
        conn.execute("INSERT INTO m (body) VALUES (?1)", [body(n)])
            .expect("insert");
        n += 1;
    }
    n as f64 / started.elapsed().as_secs_f64()
}

/// Fill a queue with one million messages, then measure, in a fresh process, the time from
/// open to the first successful receive and the resident memory with them queued.
/// `fifo_groups`: a FIFO queue with that many message groups, whose group index is built at
/// the first receive.
async fn million(fifo_groups: Option<usize>) {
    let dir = tempfile::tempdir().expect("temp dir");
    let total = 1_000_000;
    let (name, attrs) = match fifo_groups {
        Some(_) => (
            "million.fifo",
            BTreeMap::from([("FifoQueue".to_string(), "true".to_string())]),
        ),
        None => ("million", BTreeMap::new()),
    };
    {
        let engine = open(dir.path());
        engine
            .create_queue(name, &attrs, &BTreeMap::new())
            .await
            .expect("create");
        let started = Instant::now();
        let producers = 16;
        let per = total / producers;
        let tasks: Vec<_> = (0..producers)
            .map(|p| {
                let engine = engine.clone();
                tokio::spawn(async move {
                    for chunk in 0..per / 10 {
                        let entries = batch_of_ten(p * per + chunk * 10, fifo_groups);
                        engine.send_batch(name, entries).await.expect("send");
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.expect("task");
        }
        let groups = fifo_groups.map_or(String::new(), |g| format!(" in {g} groups"));
        println!(
            "fill: 1,000,000 x 1 KiB{groups} sent in batches of 10 at {:.0} msg/s",
            total as f64 / started.elapsed().as_secs_f64()
        );
    }
    let db = dir.path().join("bench.db");
    let size = std::fs::metadata(&db).map(|m| m.len()).unwrap_or(0) as f64 / (1024.0 * 1024.0);
    println!("database file: {size:.0} MiB");
    let mut restarts = Vec::new();
    for _ in 0..RUNS {
        let out = std::process::Command::new(std::env::current_exe().expect("bench binary"))
            .env(CHILD_ENV, &db)
            .env(CHILD_QUEUE_ENV, name)
            .output()
            .expect("run restart child");
        let text = String::from_utf8_lossy(&out.stdout);
        print!("{text}");
        if let Some(ms) = text.lines().find_map(|l| l.strip_prefix("restart_ms ")) {
            restarts.push(ms.trim().parse::<f64>().unwrap_or(f64::NAN));
        }
    }
    if !restarts.is_empty() {
        println!(
            "open -> first receive with 1,000,000 queued in {name}: median {:.0} ms (target < 2000 ms)",
            median(restarts)
        );
    }
}

/// Child of `million`: open the filled database, receive once, report time and memory.
fn restart_child(db: &str, queue: &str) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let started = Instant::now();
        let engine =
            EmbeddedEngine::open(EngineOptions::new(db), Arc::new(SystemClock)).expect("open");
        let got = engine
            .receive(queue, ReceiveRequest::up_to(10).visibility(0))
            .await
            .expect("receive");
        let elapsed = started.elapsed();
        assert_eq!(got.len(), 10);
        let counts = engine.counts(queue).await.expect("counts");
        println!("restart_ms {}", elapsed.as_millis());
        println!(
            "  rss with {} queued: {:.0} MiB (target < 150 MB)",
            counts.visible,
            rss_mib()
        );
    });
}

fn main() {
    if let Ok(db) = std::env::var(CHILD_ENV) {
        let queue = std::env::var(CHILD_QUEUE_ENV).unwrap_or_else(|_| "million".into());
        restart_child(&db, &queue);
        return;
    }
    let wanted: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let run = |name: &str| wanted.is_empty() || wanted.iter().any(|w| w == name);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let mode = if std::env::var("CONVEYOR_BENCH_DURABILITY").as_deref() == Ok("relaxed") {
        "RELAXED (no fsync before answering; not the targets' mode)"
    } else {
        "durable (answered after an fsync)"
    };
    println!(
        "conveyor-queue engine benchmark: 1 KiB bodies, {mode}, {RUNS} runs, medians; \
         full cycles use {PRODUCERS} producers + {CONSUMERS} consumers"
    );
    let mut naive = f64::NAN;
    if run("naive") {
        let runs: Vec<f64> = (0..RUNS).map(|_| naive_sqlite(2.0)).collect();
        naive = median(runs.clone());
        println!(
            "peer  naive SQLite, 1 fsynced txn per message: {naive:>8.0} msg/s  runs {runs:.0?}"
        );
    }
    let report = |label: &str, target: f64, runs: Vec<f64>| {
        let m = median(runs.clone());
        let ratio = if naive.is_nan() {
            String::new()
        } else {
            format!("  {:.1}x peer", m / naive)
        };
        println!("{label}: {m:>8.0} msg/s (target {target:.0}){ratio}  runs {runs:.0?}");
    };
    if run("standard") {
        let runs = (0..RUNS)
            .map(|_| rt.block_on(full_cycle(None, 200_000, PRODUCERS, CONSUMERS)))
            .collect();
        report(
            "standard send+receive+delete, batches of 10",
            50_000.0,
            runs,
        );
    }
    if run("fifo") {
        let runs = (0..RUNS)
            .map(|_| rt.block_on(full_cycle(Some(100), 200_000, PRODUCERS, CONSUMERS)))
            .collect();
        report(
            "FIFO 100 groups send+receive+delete, batches of 10",
            30_000.0,
            runs,
        );
    }
    if run("two-queues") {
        // Alternated in one run, so the machine's drift falls on both alike.
        let (mut shared, mut sharded) = (Vec::new(), Vec::new());
        for _ in 0..RUNS {
            shared.push(rt.block_on(two_queues(1, 200_000, PRODUCERS, CONSUMERS)));
            sharded.push(rt.block_on(two_queues(2, 200_000, PRODUCERS, CONSUMERS)));
        }
        report(
            "two standard queues, one engine (one writer)",
            50_000.0,
            shared,
        );
        report(
            "two standard queues, two engines (a writer each)",
            50_000.0,
            sharded,
        );
    }
    if run("single") {
        let runs = (0..RUNS)
            .map(|_| rt.block_on(single_sends(100_000, 64)))
            .collect();
        report("single sends from 64 concurrent producers", 20_000.0, runs);
    }
    if run("million") {
        rt.block_on(million(None));
    }
    if run("million-fifo") {
        rt.block_on(million(Some(10_000)));
    }
    let _ = Duration::ZERO;
}
