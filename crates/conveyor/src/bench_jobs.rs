//! `conveyor bench jobs`: job-status lookups per second over HTTP (`GET /v1/jobs/{id}`), on the
//! embedded default with the built-in configuration: half the jobs finished (results stored and
//! messages deleted, as a worker leaves them), half still queued, looked up in random order by
//! concurrent keep-alive clients. The peer, measured in the same run with the same clients, is
//! `GET /health`: what the HTTP stack alone gives, so the ratio is the lookup's own cost.

use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use clap::Args;
use conveyor_queue::{
    BatchEntry, EmbeddedEngine, EngineOptions, Queue, ReceiveRequest, SendMessage, SystemClock,
};
use conveyor_store::Store;

#[derive(Debug, Clone, Args)]
pub struct JobsBench {
    /// Jobs to create; half finish, half stay queued.
    #[arg(long, default_value_t = 20_000)]
    pub jobs: usize,
    /// Lookups per round.
    #[arg(long, default_value_t = 50_000)]
    pub lookups: usize,
    /// Concurrent HTTP clients.
    #[arg(long, default_value_t = 32)]
    pub clients: usize,
    /// Rounds; the median is reported.
    #[arg(long, default_value_t = 3)]
    pub rounds: usize,
}

pub async fn run(b: JobsBench) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let settings = conveyor_config::load(None, Vec::new())?.selected;
    let engine = EmbeddedEngine::open(
        EngineOptions::new(dir.path().join("queue.db")),
        Arc::new(SystemClock),
    )
    .context("opening the bench engine")?;
    let store = Store::local(dir.path().join("objects"))?;
    crate::provision::provision_queues(&engine, &settings, |_, _| {}).await?;
    let queue = settings
        .queue("emails")
        .context("the built-in configuration has an emails queue")?
        .name
        .clone();
    let ids = fill(&engine, &store, &queue, b.jobs).await?;
    println!(
        "{} jobs in {queue}: {} finished, {} queued",
        ids.len(),
        ids.len() / 2,
        ids.len() - ids.len() / 2
    );

    let state = conveyor_api::ApiState {
        queue: Arc::new(engine.clone()),
        store,
        settings: Arc::new(settings),
        metrics: None,
        idempotency: Arc::new(engine.clone()),
        finished_jobs: Default::default(),
        alarms: Default::default(),
        dashboard: Default::default(),
    };
    let app = conveyor_api::router(state, conveyor_api::ApiLimits::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    let ids = Arc::new(ids);
    let mut lookups = Vec::new();
    let mut health = Vec::new();
    for round in 1..=b.rounds {
        let l = measure(&base, &b, &ids, true).await?;
        let h = measure(&base, &b, &ids, false).await?;
        println!("round {round}: {l:.0} job lookups/s, {h:.0} /health/s");
        lookups.push(l);
        health.push(h);
    }
    let (l, h) = (median(&mut lookups), median(&mut health));
    println!(
        "median: {l:.0} job lookups/s ({:.0}% of /health at {h:.0}/s with the same {} clients; target 5,000/s)",
        l / h * 100.0,
        b.clients
    );
    server.abort();
    Ok(())
}

/// `jobs` messages sent; the first half received, their results stored and deleted, as a worker
/// would. Answers the ids, finished first.
async fn fill(
    engine: &EmbeddedEngine,
    store: &Store,
    queue: &str,
    jobs: usize,
) -> anyhow::Result<Vec<String>> {
    let mut ids = Vec::with_capacity(jobs);
    for start in (0..jobs).step_by(10) {
        let entries = (start..(start + 10).min(jobs))
            .map(|i| BatchEntry {
                id: i.to_string(),
                entry: {
                    let mut m = SendMessage::new(format!(r#"{{"to":"user{i}@example.com"}}"#));
                    m.group_id = Some(format!("user{i}"));
                    m.deduplication_id = Some(format!("bench-{i}"));
                    m
                },
            })
            .collect();
        let sent = engine.send_batch(queue, entries).await?;
        ids.extend(sent.successful.into_iter().map(|(_, s)| s.message_id));
    }
    let mut finished = 0;
    while finished < jobs / 2 {
        let got = engine.receive(queue, ReceiveRequest::up_to(10)).await?;
        anyhow::ensure!(!got.is_empty(), "the bench queue ran dry at {finished}");
        for m in got.into_iter().take(jobs / 2 - finished) {
            let key = conveyor_store::result_key(queue, &m.message_id, m.sent_timestamp)?;
            let record = serde_json::json!({
                "message_id": m.message_id, "queue": queue, "status": "processed",
                "handler": "email", "sent_timestamp": m.sent_timestamp,
                "receive_count": m.approximate_receive_count, "output": { "sent": true },
            });
            store.put(&key, record.to_string()).await?;
            engine.delete(queue, &m.receipt_handle).await?;
            finished += 1;
        }
    }
    Ok(ids)
}

/// Lookups (or `/health` calls) per second, `b.clients` at a time.
async fn measure(
    base: &str,
    b: &JobsBench,
    ids: &Arc<Vec<String>>,
    jobs: bool,
) -> anyhow::Result<f64> {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(b.clients)
        .build()?;
    let per_client = b.lookups / b.clients;
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for c in 0..b.clients {
        let (client, base, ids) = (client.clone(), base.to_string(), ids.clone());
        tasks.spawn(async move {
            // A cheap, fixed stride over the ids: every client walks them in its own order.
            let stride = 7919 + 2 * c;
            for n in 0..per_client {
                let url = if jobs {
                    format!("{base}/v1/jobs/{}", ids[(c + n * stride) % ids.len()])
                } else {
                    format!("{base}/health")
                };
                let answer = client.get(&url).send().await?;
                anyhow::ensure!(answer.status() == 200, "{url} answered {}", answer.status());
                answer.bytes().await?;
            }
            Ok::<(), anyhow::Error>(())
        });
    }
    while let Some(done) = tasks.join_next().await {
        done??;
    }
    Ok((per_client * b.clients) as f64 / started.elapsed().as_secs_f64())
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(|a, b| a.total_cmp(b));
    values[values.len() / 2]
}
