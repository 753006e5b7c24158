//! `conveyor bench worker`: messages fully processed per second by the worker runtime (enqueue →
//! handler → result stored → delete) on the embedded engine and the local store, against the
//! engine's raw full cycle (send, receive, delete with no handler and no result) measured in the
//! same run, one message at a time and in batches of 100. Each figure is the median of
//! `--rounds` rounds, each on a fresh engine in a temporary directory.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use conveyor_queue::{
    BatchEntry, EmbeddedEngine, EngineOptions, Queue, ReceiveRequest, SendMessage, SystemClock,
};
use conveyor_store::Store;
use conveyor_worker::{Backoff, BatchLimits, Handler, QueueWorker, WorkerStats};

#[derive(Debug, Clone, Args)]
pub struct WorkerBench {
    /// Messages per round.
    #[arg(long, default_value_t = 20_000)]
    pub messages: usize,
    /// Body size in bytes.
    #[arg(long, default_value_t = 1024)]
    pub body_bytes: usize,
    /// Worker loops (and raw-cycle consumers).
    #[arg(long, default_value_t = 8)]
    pub concurrency: usize,
    /// Rounds per figure; the median is reported.
    #[arg(long, default_value_t = 3)]
    pub rounds: usize,
    /// Messages per round of the function figures (a process per batch of 10 is slower).
    #[arg(long, default_value_t = 2_000)]
    pub function_messages: usize,
}

/// The `log` handler's work without its log line, so the figure is the runtime's own cost.
struct Record;

#[async_trait::async_trait]
impl Handler for Record {
    fn kind(&self) -> &'static str {
        "log"
    }
    async fn handle(
        &self,
        _m: &conveyor_queue::ReceivedMessage,
    ) -> Result<serde_json::Value, conveyor_worker::HandlerError> {
        Ok(serde_json::json!({ "recorded": true }))
    }
}

/// A fresh engine and local store in a temporary directory, with one queue already filled.
pub(crate) struct Round {
    _dir: tempfile::TempDir,
    pub(crate) engine: EmbeddedEngine,
    pub(crate) store: Store,
}

/// `messages` messages in `queue`, sent ten at a time, the `i`th with `body(i)`.
pub(crate) async fn filled_round(
    queue: &str,
    messages: usize,
    body: impl Fn(usize) -> String,
) -> anyhow::Result<Round> {
    let dir = tempfile::tempdir()?;
    let engine = EmbeddedEngine::open(
        EngineOptions::new(dir.path().join("queue.db")),
        Arc::new(SystemClock),
    )
    .context("opening the bench engine")?;
    // Durable, as `conveyor serve` opens it: the bench measures what a worker pays.
    let store = Store::local_durable(dir.path().join("objects"))?;
    engine
        .create_queue(queue, &Default::default(), &Default::default())
        .await?;
    for start in (0..messages).step_by(10) {
        let entries = (start..(start + 10).min(messages))
            .map(|i| BatchEntry {
                id: i.to_string(),
                entry: SendMessage::new(body(i)),
            })
            .collect();
        engine.send_batch(queue, entries).await?;
    }
    Ok(Round {
        _dir: dir,
        engine,
        store,
    })
}

async fn fresh(b: &WorkerBench) -> anyhow::Result<Round> {
    let body = "x".repeat(b.body_bytes);
    filled_round("bench", b.messages, |_| body.clone()).await
}

/// The raw cycle: the same messages received ten at a time and deleted in one batch, by
/// `concurrency` consumers; sends are timed with it, as in the worker figure.
async fn raw_cycle(b: &WorkerBench) -> anyhow::Result<f64> {
    let started = Instant::now();
    let round = fresh(b).await?;
    let queue: Arc<dyn Queue> = Arc::new(round.engine.clone());
    let mut consumers = tokio::task::JoinSet::new();
    for _ in 0..b.concurrency {
        let queue = queue.clone();
        consumers.spawn(async move {
            loop {
                let got = queue.receive("bench", ReceiveRequest::up_to(10)).await?;
                if got.is_empty() {
                    return anyhow::Ok(());
                }
                let entries = BatchEntry::numbered(got.iter().map(|m| m.receipt_handle.clone()));
                queue.delete_batch("bench", entries).await?;
            }
        });
    }
    while let Some(done) = consumers.join_next().await {
        done??;
    }
    Ok(b.messages as f64 / started.elapsed().as_secs_f64())
}

/// A no-op Python function under the Lambda contract: reads its event, answers null.
fn noop_function() -> anyhow::Result<Arc<dyn Handler>> {
    let config =
        conveyor_config::HandlerConfig::Function(serde_json::from_value(serde_json::json!({
            "command": ["python3", "-c", "import sys; sys.stdin.read(); print('null')"],
            "batch_size": 10,
        }))?);
    let dir = tempfile::tempdir()?;
    let env = conveyor_handlers::HandlerEnv {
        store: Store::local_durable(dir.path())?,
        queue: "bench".into(),
        queue_arn: "arn:aws:sqs:us-east-1:000000000000:bench".into(),
        region: "us-east-1".into(),
        dry_run: false,
        secrets: Default::default(),
    };
    Ok(conveyor_handlers::build(&config, &env)?)
}

/// The worker runtime on the same messages, one at a time or in batches.
async fn worker(
    b: &WorkerBench,
    handler: Arc<dyn Handler>,
    batch: Option<BatchLimits>,
) -> anyhow::Result<f64> {
    let started = Instant::now();
    let round = fresh(b).await?;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let stats = Arc::new(WorkerStats::default());
    let w = QueueWorker {
        queue: "bench".into(),
        handler,
        concurrency: b.concurrency,
        visibility: Duration::from_secs(30),
        poll_wait: Duration::from_secs(1),
        shutdown_grace: Duration::from_secs(5),
        backoff: Backoff {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(1),
        },
        dead_letter_queue: None,
        flow: Default::default(),
        batch,
    };
    let task = tokio::spawn(conveyor_worker::run(
        Arc::new(round.engine.clone()),
        round.store.clone(),
        w,
        stats.clone(),
        stopped,
    ));
    let deadline = Instant::now() + Duration::from_secs(600);
    while stats.processed() < b.messages as u64 {
        anyhow::ensure!(
            Instant::now() < deadline,
            "the worker did not finish in 600 s"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let rate = b.messages as f64 / started.elapsed().as_secs_f64();
    let _ = stop.send(true);
    let _ = task.await;
    Ok(rate)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

pub async fn run(b: WorkerBench) -> anyhow::Result<()> {
    let batch = Some(BatchLimits {
        max_messages: 100,
        max_wait: Duration::from_millis(200),
        max_bytes: None,
    });
    let tens = Some(BatchLimits {
        max_messages: 10,
        max_wait: Duration::ZERO,
        max_bytes: None,
    });
    let (mut raw, mut single, mut batched) = (Vec::new(), Vec::new(), Vec::new());
    // Interleaved, so a noisy moment of the shared machine falls on every contender alike.
    for _ in 0..b.rounds.max(1) {
        raw.push(raw_cycle(&b).await?);
        single.push(worker(&b, Arc::new(Record), None).await?);
        batched.push(worker(&b, Arc::new(Record), batch).await?);
    }
    let small = WorkerBench {
        messages: b.function_messages,
        ..b.clone()
    };
    let (mut in_process, mut function) = (Vec::new(), Vec::new());
    for _ in 0..small.rounds.max(1) {
        in_process.push(worker(&small, Arc::new(Record), tens).await?);
        function.push(worker(&small, noop_function()?, tens).await?);
    }
    let (raw, single, batched) = (median(raw), median(single), median(batched));
    let (in_process, function) = (median(in_process), median(function));
    println!(
        "{} messages of {} bytes, {} loops, median of {} rounds (send included in each figure)",
        b.messages, b.body_bytes, b.concurrency, b.rounds
    );
    println!("raw engine cycle (receive 10, delete batch): {raw:.0} msg/s");
    println!(
        "worker, one at a time (handler, result stored, delete): {single:.0} msg/s = {:.0}% of raw",
        100.0 * single / raw
    );
    println!(
        "worker, batches of 100: {batched:.0} msg/s = {:.0}% of raw",
        100.0 * batched / raw
    );
    println!(
        "{} messages: in-process handler in batches of 10: {in_process:.0} msg/s; no-op Python function, batch 10 (a process per batch): {function:.0} msg/s = {:.0}% of it",
        small.messages,
        100.0 * function / in_process
    );
    Ok(())
}
