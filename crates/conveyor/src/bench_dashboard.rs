//! `conveyor bench dashboard`: the dashboard's JSON routes and the alarm evaluation at scale, on
//! the embedded default: `--queues` queues (each with a DLQ and three alarm rules) holding
//! `--messages` messages between them, an hour of samples in memory. It measures the latency of
//! `GET /v1/admin/overview` (with and without the series), a peek of a full queue and the alarm
//! list, against `/health` on the same clients, and the time one sampler round and one alarm
//! round take (their share of a core is that time over their interval).

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use conveyor_api::dashboard::{QueueSample, Samples};
use conveyor_queue::{
    BatchEntry, Durability, EmbeddedEngine, EngineOptions, Queue, SendMessage, SystemClock,
};
use conveyor_store::Store;

#[derive(Debug, Clone, Args)]
pub struct DashboardBench {
    /// Queues, each with a dead-letter queue and depth, oldest-age and DLQ-depth alarms.
    #[arg(long, default_value_t = 100)]
    pub queues: usize,
    /// Messages queued, spread evenly over the queues.
    #[arg(long, default_value_t = 1_000_000)]
    pub messages: usize,
    /// Requests per route per round.
    #[arg(long, default_value_t = 1_000)]
    pub requests: usize,
    /// Concurrent HTTP clients.
    #[arg(long, default_value_t = 4)]
    pub clients: usize,
    /// Rounds; medians are reported.
    #[arg(long, default_value_t = 3)]
    pub rounds: usize,
}

fn configuration(queues: usize) -> String {
    let mut text = String::from(
        "instance = \"bench\"\nuse_case = \"ops\"\nenvironment = \"bench\"\n\n[environments.bench]\ndata_dir = \"unused\"\nbucket_suffix = \"data\"\nalarms = { min_interval = \"5m\" }\n",
    );
    for i in 0..queues {
        text.push_str(&format!(
            "\n[queues.q{i:03}]\nhandler = \"log\"\nalarms.depth = {{ threshold = 1000, period = \"1m\" }}\nalarms.oldest_age = {{ threshold = \"10m\", period = \"1m\" }}\nalarms.dlq_depth = {{ threshold = 0, period = \"1m\" }}\n"
        ));
    }
    text
}

pub async fn run(b: DashboardBench) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("bench.toml");
    std::fs::write(&path, configuration(b.queues))?;
    let settings = conveyor_config::load(Some(&path), Vec::new())?.selected;
    let mut options = EngineOptions::new(dir.path().join("queue.db"));
    options.durability = Durability::Relaxed;
    let engine =
        EmbeddedEngine::open(options, Arc::new(SystemClock)).context("opening the bench engine")?;
    let store = Store::local(dir.path().join("objects"))?;
    crate::provision::provision_queues(&engine, &settings, |_, _| {}).await?;
    let names: Vec<String> = settings.queues.iter().map(|q| q.name.clone()).collect();
    let filled = Instant::now();
    fill(&engine, &names, b.messages).await?;
    println!(
        "{} messages in {} queues (and {} empty DLQs), sent in {:.1} s",
        b.messages,
        names.len(),
        names.len(),
        filled.elapsed().as_secs_f64()
    );
    let queue: Arc<dyn Queue> = Arc::new(engine.clone());

    // One sampler round over every queue, then an hour of samples as the dashboard holds them.
    let samples = Samples::default();
    let sampler = crate::sampler::Sampler {
        queue: queue.clone(),
        queues: settings.queues.clone(),
        stats: Default::default(),
        samples: samples.clone(),
    };
    let mut sampler_rounds = Vec::new();
    for _ in 0..b.rounds {
        let started = Instant::now();
        sampler.round().await;
        sampler_rounds.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    let now = crate::alarms::now_ms();
    for q in &settings.queues {
        for n in 0..conveyor_api::dashboard::samples::KEPT as i64 {
            samples.record(
                &q.name,
                Some(&q.dlq_name),
                QueueSample {
                    at: now - (360 - n) * 10_000,
                    visible: 10_000,
                    processed: Some(n as u64 * 500),
                    failed: Some(n as u64),
                    ..Default::default()
                },
            );
        }
    }

    let board = conveyor_api::alarms::AlarmBoard::default();
    let mut alarms = crate::alarms::Alarms::new(
        &settings,
        queue.clone(),
        store.clone(),
        Default::default(),
        board.clone(),
    )
    .await?
    .context("the bench configuration has alarms")?;
    let mut alarm_rounds = Vec::new();
    for _ in 0..b.rounds {
        let started = Instant::now();
        alarms.evaluate_once().await;
        alarm_rounds.push(started.elapsed().as_secs_f64() * 1000.0);
    }

    let state = conveyor_api::ApiState {
        queue: queue.clone(),
        store,
        settings: Arc::new(settings.clone()),
        metrics: None,
        idempotency: Arc::new(engine.clone()),
        finished_jobs: Default::default(),
        alarms: board,
        dashboard: conveyor_api::dashboard::DashboardState {
            samples,
            sessions: Default::default(),
        },
    };
    let app = conveyor_api::router(state, conveyor_api::ApiLimits::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    let routes = [
        ("/health", "/health".to_string()),
        ("overview", "/v1/admin/overview".to_string()),
        (
            "overview, no series",
            "/v1/admin/overview?series=false".to_string(),
        ),
        (
            "peek 50",
            format!(
                "/v1/admin/queues/{}/messages?max=50",
                names[names.len() / 2]
            ),
        ),
        ("alarms", "/v1/admin/alarms".to_string()),
    ];
    println!(
        "{:<22} {:>9} {:>9} {:>9}  (ms, {} requests x {} rounds, {} clients)",
        "route", "p50", "p99", "max", b.requests, b.rounds, b.clients
    );
    for (label, path) in &routes {
        let mut p50s = Vec::new();
        let mut p99s = Vec::new();
        let mut maxes = Vec::new();
        let mut bytes = 0;
        for _ in 0..b.rounds {
            let (mut latencies, size) = measure(&base, path, &b).await?;
            latencies.sort_by(|a, b| a.total_cmp(b));
            p50s.push(percentile(&latencies, 0.50));
            p99s.push(percentile(&latencies, 0.99));
            maxes.push(*latencies.last().unwrap_or(&0.0));
            bytes = size;
        }
        println!(
            "{label:<22} {:>9.2} {:>9.2} {:>9.2}  ({} bytes)",
            median(&mut p50s),
            median(&mut p99s),
            median(&mut maxes),
            bytes
        );
    }
    let sampler_ms = median(&mut sampler_rounds);
    let alarm_ms = median(&mut alarm_rounds);
    println!(
        "sampler round ({} queues + DLQs): {sampler_ms:.1} ms every {} s = {:.2}% of a core",
        names.len(),
        crate::sampler::SAMPLE_EVERY.as_secs(),
        sampler_ms / crate::sampler::SAMPLE_EVERY.as_millis() as f64 * 100.0
    );
    let every_ms = alarms.fastest_sampling_ms() as f64;
    println!(
        "alarm round sampling all {} rules: {alarm_ms:.1} ms; each rule is sampled every {:.0} s (4 per 1 m period) = {:.2}% of a core (target < 1%); sampled every 5 s it would be {:.2}%",
        names.len() * 3,
        every_ms / 1000.0,
        alarm_ms / every_ms * 100.0,
        alarm_ms / crate::alarms::SAMPLE_EVERY.as_millis() as f64 * 100.0
    );
    server.abort();
    Ok(())
}

/// `messages` spread over `queues`, ten per batch, 16 batches in flight.
async fn fill(engine: &EmbeddedEngine, queues: &[String], messages: usize) -> anyhow::Result<()> {
    use futures_util::StreamExt;
    let per_queue = messages / queues.len();
    let batches = queues.iter().flat_map(|q| {
        (0..per_queue)
            .step_by(10)
            .map(move |start| (q.clone(), start))
    });
    let mut sends = futures_util::stream::iter(batches.map(|(q, start)| {
        let engine = engine.clone();
        async move {
            let entries = (start..(start + 10).min(per_queue))
                .map(|i| BatchEntry {
                    id: i.to_string(),
                    entry: SendMessage::new(format!(r#"{{"n":{i},"payload":"a message of about a hundred bytes, as a queued job's body is"}}"#)),
                })
                .collect();
            engine.send_batch(&q, entries).await
        }
    }))
    .buffer_unordered(16);
    while let Some(sent) = sends.next().await {
        let sent = sent?;
        anyhow::ensure!(
            sent.failed.is_empty(),
            "a bench send failed: {:?}",
            sent.failed
        );
    }
    Ok(())
}

/// Each request's latency (ms) and the answer's size, `b.clients` at a time.
async fn measure(base: &str, path: &str, b: &DashboardBench) -> anyhow::Result<(Vec<f64>, usize)> {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(b.clients)
        .timeout(Duration::from_secs(30))
        .build()?;
    let per_client = b.requests / b.clients;
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..b.clients {
        let (client, url) = (client.clone(), format!("{base}{path}"));
        tasks.spawn(async move {
            let mut latencies = Vec::with_capacity(per_client);
            let mut size = 0;
            for _ in 0..per_client {
                let started = Instant::now();
                let answer = client.get(&url).send().await?;
                anyhow::ensure!(answer.status() == 200, "{url} answered {}", answer.status());
                size = answer.bytes().await?.len();
                latencies.push(started.elapsed().as_secs_f64() * 1000.0);
            }
            Ok::<_, anyhow::Error>((latencies, size))
        });
    }
    let mut all = Vec::new();
    let mut size = 0;
    while let Some(done) = tasks.join_next().await {
        let (latencies, s) = done??;
        all.extend(latencies);
        size = s;
    }
    Ok((all, size))
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len()) - 1]
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(|a, b| a.total_cmp(b));
    values[values.len() / 2]
}
