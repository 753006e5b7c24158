//! The analytics pipeline killed (SIGKILL) again and again while it flushes under load: on the
//! embedded default every accepted event ends up in Parquet exactly once; on SQS + S3 (moto)
//! at least once, each row with its event_id so a query can deduplicate. DuckDB reads the
//! result, so a half-written file would fail the test as well.
//!
//! Half the kills land the moment a new manifest appears (the batch is recorded, its files are
//! being renamed and its messages are not yet deleted: the window that could publish twice);
//! the others at a random moment of the load.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use serde_json::{json, Value};

const KILLS: usize = 22;
const NAMES: [&str; 3] = ["open", "tap", "close"];
/// 2026-12-01T10:00:00Z.
const TEN: i64 = 1_796_119_200_000;

const CONFIG: &str = r#"
instance = "acme"
use_case = "ops"
environment = "test"

[queues.analytics]
visibility = "4s"
# Every kill leaves a batch's messages received and not deleted: without a high limit the
# dead-letter queue would take them, which proves nothing about the pipeline.
max_receive_count = 1000
handler = { kind = "analytics", max_age = "1s" }

[environments.test]
data_dir = "unused"
bucket_suffix = "data"
"#;

/// A small deterministic generator: the seed is printed, so a failure can be replayed.
struct Dice(u64);

impl Dice {
    fn new() -> Dice {
        let seed = std::env::var("CRASH_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_nanos() as u64
                    | 1
            });
        eprintln!("CRASH_SEED={seed}");
        Dice(seed)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// Posts requests of 25 events (event ids `r{n}-{i}`) from `connections` until stopped; an
/// event counts as accepted only when its request was answered 202.
struct Load {
    stop: Arc<AtomicBool>,
    tasks: tokio::task::JoinSet<()>,
}

type Accepted = Arc<Mutex<BTreeSet<String>>>;

fn post_events(
    address: String,
    accepted: Accepted,
    next: Arc<Mutex<u64>>,
    connections: usize,
    pause: Duration,
) -> Load {
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..connections {
        let (address, accepted, next, stop) = (
            address.clone(),
            accepted.clone(),
            next.clone(),
            stop.clone(),
        );
        tasks.spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let request = {
                    let mut n = next.lock().unwrap();
                    *n += 1;
                    *n
                };
                let ids: Vec<String> = (0..25).map(|i| format!("r{request}-{i}")).collect();
                let events: Vec<Value> = ids
                    .iter()
                    .enumerate()
                    .map(|(i, id)| {
                        json!({
                            "event_id": id,
                            "name": NAMES[i % 3],
                            // A new hour every 100 requests: several partitions per flush.
                            "timestamp": TEN + (request as i64 / 100) * 3_600_000 + i as i64,
                            "properties": { "n": i },
                        })
                    })
                    .collect();
                let answer = try_http_within(
                    &address,
                    "POST",
                    "/v1/analytics/events",
                    &[JSON],
                    &json!({ "events": events }).to_string(),
                    Duration::from_secs(60),
                )
                .await;
                tokio::time::sleep(pause).await;
                match answer {
                    Some((202, _)) => accepted.lock().unwrap().extend(ids),
                    // Refused, reset or not listening (the server is being killed): not accepted.
                    _ => tokio::time::sleep(Duration::from_millis(20)).await,
                }
            }
        });
    }
    Load { stop, tasks }
}

impl Load {
    async fn finish(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        while self.tasks.join_next().await.is_some() {}
    }
}

/// Wait (up to `within`) for `count()` to grow past `before`.
async fn grows(within: Duration, before: usize, mut count: impl AsyncFnMut() -> usize) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if count().await > before {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    false
}

fn manifests_on_disk(data: &Path) -> usize {
    std::fs::read_dir(data.join("objects/_conveyor/analytics/acme-test-ops-analytics/manifests"))
        .map(|d| d.count())
        .unwrap_or(0)
}

/// Until the API reports the analytics queue empty (nothing visible, in flight or delayed).
async fn drained(address: &str, queue: &str) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let q = queue_row(address, queue).await;
        if q["visible"] == 0 && q["in_flight"] == 0 && q["delayed"].as_u64().unwrap_or(0) == 0 {
            return;
        }
        assert!(Instant::now() < deadline, "not drained: {q}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// How many rows each event id has in the Parquet files matching `glob`.
fn rows_per_event(s3: Option<&str>, glob: &str) -> BTreeMap<String, u64> {
    duckdb_on(
        s3,
        &format!("SELECT event_id, count(*) FROM read_parquet('{glob}', hive_partitioning = true) GROUP BY ALL"),
    )
    .into_iter()
    .map(|row| {
        let (id, n) = row.split_once('|').unwrap();
        (id.to_string(), n.parse().unwrap())
    })
    .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_during_flushes_the_embedded_default_keeps_every_event_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), CONFIG);
    let data = dir.path().join("data");
    let accepted: Accepted = Arc::default();
    let next = Arc::new(Mutex::new(0));
    let mut dice = Dice::new();
    let mut during_publish = 0;
    for kill in 0..KILLS {
        let mut server = start(&data, &[], Some(&config));
        let load = post_events(
            server.address.clone(),
            accepted.clone(),
            next.clone(),
            3,
            Duration::ZERO,
        );
        if kill % 2 == 0 {
            let before = manifests_on_disk(&data);
            if grows(Duration::from_secs(10), before, async || {
                manifests_on_disk(&data)
            })
            .await
            {
                during_publish += 1;
            }
        } else {
            tokio::time::sleep(Duration::from_millis(200 + dice.below(2000))).await;
        }
        server.child.kill().unwrap();
        server.child.wait().unwrap();
        load.finish().await;
    }
    let accepted = accepted.lock().unwrap().clone();
    assert!(
        accepted.len() > 5_000,
        "too little load to prove anything: {}",
        accepted.len()
    );
    assert!(
        during_publish >= KILLS / 2 - 1,
        "only {during_publish} kills came as a batch was published"
    );

    // A last life without kills: messages in flight at the last kill come back and are flushed.
    let mut server = start(&data, &[], Some(&config));
    drained(&server.address, "acme-test-ops-analytics").await;
    assert!(terminate(&mut server).success());

    let rows = rows_per_event(
        None,
        &format!("{}/objects/events/**/*.parquet", data.display()),
    );
    let missing: Vec<_> = accepted
        .iter()
        .filter(|id| !rows.contains_key(*id))
        .collect();
    assert!(
        missing.is_empty(),
        "{} of {} accepted events are not in Parquet, e.g. {:?}",
        missing.len(),
        accepted.len(),
        &missing[..missing.len().min(5)]
    );
    let doubled: Vec<_> = rows.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        doubled.is_empty(),
        "{} events are in Parquet more than once, e.g. {:?}",
        doubled.len(),
        &doubled[..doubled.len().min(5)]
    );
    eprintln!(
        "{} accepted events, {} rows (the rest were posted as a kill came and never answered), {during_publish} kills during a publish",
        accepted.len(),
        rows.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_during_flushes_on_sqs_and_s3_every_event_arrives_with_its_event_id() {
    let moto = conveyor_aws::testing::start_moto();
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &on_moto(CONFIG, &moto.url));
    let env = MOTO_CREDENTIALS;
    provision(&config, &env);
    let (api_data, worker_data) = (dir.path().join("api"), dir.path().join("worker"));
    let api = start_command("api", &api_data, &env, Some(&config));
    let bucket = "acme-test-data";
    let count_manifests = async || -> usize {
        let url = format!(
            "{}/{bucket}?list-type=2&prefix=_conveyor/analytics/acme-test-ops-analytics/manifests/",
            moto.url
        );
        match reqwest::get(&url).await {
            Ok(r) => r.text().await.unwrap_or_default().matches("<Key>").count(),
            Err(_) => 0,
        }
    };
    let accepted: Accepted = Arc::default();
    let next = Arc::new(Mutex::new(0));
    // moto answers slowly: one connection, paced, keeps its queue and bucket responsive.
    let load = post_events(
        api.address.clone(),
        accepted.clone(),
        next.clone(),
        1,
        Duration::from_millis(50),
    );
    let mut dice = Dice::new();
    let mut during_publish = 0;
    for kill in 0..KILLS {
        let mut worker = start_command("worker", &worker_data, &env, Some(&config));
        if kill % 2 == 0 {
            let before = count_manifests().await;
            if grows(Duration::from_secs(15), before, count_manifests).await {
                during_publish += 1;
            }
        } else {
            tokio::time::sleep(Duration::from_millis(300 + dice.below(2500))).await;
        }
        worker.child.kill().unwrap();
        worker.child.wait().unwrap();
        eprintln!(
            "kill {kill}: {} accepted so far",
            accepted.lock().unwrap().len()
        );
    }
    load.finish().await;
    let accepted = accepted.lock().unwrap().clone();
    assert!(
        accepted.len() > 2_000,
        "too little load to prove anything: {}",
        accepted.len()
    );

    let mut worker = start_command("worker", &worker_data, &env, Some(&config));
    drained(&api.address, "acme-test-ops-analytics").await;
    assert!(terminate(&mut worker).success());

    let rows = rows_per_event(
        Some(&moto.url),
        &format!("s3://{bucket}/events/**/*.parquet"),
    );
    let missing: Vec<_> = accepted
        .iter()
        .filter(|id| !rows.contains_key(*id))
        .collect();
    assert!(
        missing.is_empty(),
        "{} of {} accepted events are not in Parquet on S3, e.g. {:?}",
        missing.len(),
        accepted.len(),
        &missing[..missing.len().min(5)]
    );
    let extra: u64 = rows.values().map(|n| n - 1).sum();
    eprintln!(
        "{} accepted events, {} distinct in Parquet, {extra} repeated rows (at least once: a query deduplicates on event_id), {during_publish} kills during a publish",
        accepted.len(),
        rows.len()
    );
}
