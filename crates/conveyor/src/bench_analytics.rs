//! `conveyor bench analytics`: events per second from `POST /v1/analytics/events` (many events
//! per request, concurrent connections) until the analytics queue is empty again, that is until
//! every event is in a published Parquet file; and, as the peer in the same run, the per-event
//! JSON path (each event its own message, sent with SendMessageBatch through the SQS endpoint,
//! each stored by the `log` handler as its own JSON result). Run against a `conveyor serve`
//! that has both queues (scripts/bench/analytics.sh starts one and counts the rows with DuckDB).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
use clap::Args;
use serde_json::{json, Value};

#[derive(Debug, Clone, Args)]
pub struct AnalyticsBench {
    /// The API, e.g. http://127.0.0.1:8080.
    #[arg(long)]
    pub url: String,
    /// The analytics queue's full name (its depth says when everything is flushed).
    #[arg(long)]
    pub queue: String,
    /// Events to post.
    #[arg(long, default_value_t = 1_000_000)]
    pub events: u64,
    /// Events per request (1–500).
    #[arg(long, default_value_t = 500)]
    pub per_request: u64,
    /// Concurrent connections.
    #[arg(long, default_value_t = 16)]
    pub connections: usize,
    /// Stop once every message is received and buffered (for a memory reading), instead of
    /// waiting for the flush.
    #[arg(long)]
    pub until_buffered: bool,
    /// The SQS endpoint, for the per-event JSON peer.
    #[arg(long)]
    pub sqs: Option<String>,
    /// The peer's queue (a `log` handler): its full name.
    #[arg(long)]
    pub peer_queue: Option<String>,
    /// Events sent through the peer.
    #[arg(long, default_value_t = 50_000)]
    pub peer_events: u64,
}

const NAMES: [&str; 3] = ["screen_view", "tap", "purchase"];
const SCREENS: [&str; 8] = [
    "home", "search", "profile", "settings", "cart", "checkout", "feed", "detail",
];
const LOCALES: [&str; 4] = ["en-US", "de-DE", "fr-FR", "ja-JP"];

/// A small deterministic mixer (splitmix64), for varied but reproducible events.
fn mix(n: u64) -> u64 {
    let mut z = n.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// One event of about 200 bytes of JSON.
fn event(n: u64, at: i64) -> Value {
    let r = mix(n);
    json!({
        "name": NAMES[(r % 3) as usize],
        "user_id": format!("u-{}", r % 100_000),
        "timestamp": at + (n % 60_000) as i64,
        "properties": {
            "screen": SCREENS[((r >> 8) % 8) as usize],
            "plan": if (r >> 12).is_multiple_of(4) { "pro" } else { "free" },
            "session": format!("{:016x}", mix(n / 50)),
            "duration_ms": (r >> 20) % 30_000,
            "app_version": format!("4.{}.{}", (r >> 24) % 10, (r >> 28) % 20),
            "locale": LOCALES[((r >> 32) % 4) as usize],
        },
    })
}

/// The queue's visible and in-flight counts, from the admin API.
async fn counts(client: &reqwest::Client, url: &str, queue: &str) -> anyhow::Result<(u64, u64)> {
    let all: Value = client
        .get(format!("{url}/v1/admin/queues"))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let q = all["queues"]
        .as_array()
        .and_then(|qs| qs.iter().find(|q| q["name"] == queue))
        .with_context(|| format!("the server has no queue {queue}"))?;
    Ok((
        q["visible"].as_u64().unwrap_or(0),
        q["in_flight"].as_u64().unwrap_or(0),
    ))
}

/// Until `done(visible, in_flight)`; the moment it first held.
async fn wait_for(
    client: &reqwest::Client,
    url: &str,
    queue: &str,
    done: impl Fn(u64, u64) -> bool,
) -> anyhow::Result<Instant> {
    let deadline = Instant::now() + Duration::from_secs(900);
    loop {
        let (visible, in_flight) = counts(client, url, queue).await?;
        if done(visible, in_flight) {
            return Ok(Instant::now());
        }
        if Instant::now() > deadline {
            bail!("{queue} still has {visible} visible and {in_flight} in flight after 15 minutes");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub async fn run(b: AnalyticsBench) -> anyhow::Result<()> {
    if !(1..=500).contains(&b.per_request) {
        bail!("--per-request is 1 to 500 (the API's limit)");
    }
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(b.connections)
        .build()?;
    let requests = b.events.div_ceil(b.per_request);
    let at = crate::alarms::now_ms();
    // Every request distinct, made before the clock starts: events differ in user, time,
    // screen and session, as real ones do, so the Parquet encodings get no free ride.
    let bodies: Arc<Vec<String>> = Arc::new(
        (0..requests)
            .map(|k| {
                let events: Vec<Value> = (0..b.per_request)
                    .map(|n| event(k * b.per_request + n, at))
                    .collect();
                json!({ "events": events }).to_string()
            })
            .collect(),
    );
    let body = &bodies[0];
    println!(
        "posting {} events: {requests} requests of {} events (about {} bytes each), {} connections",
        requests * b.per_request,
        b.per_request,
        body.len(),
        b.connections
    );
    let next = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..b.connections {
        let (client, next, bodies, url) =
            (client.clone(), next.clone(), bodies.clone(), b.url.clone());
        tasks.spawn(async move {
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= requests {
                    return anyhow::Ok(());
                }
                let answer = client
                    .post(format!("{url}/v1/analytics/events"))
                    .header("content-type", "application/json")
                    .body(bodies[n as usize].clone())
                    .send()
                    .await?;
                if answer.status() != 202 {
                    bail!(
                        "the API answered {}: {}",
                        answer.status(),
                        answer.text().await?
                    );
                }
            }
        });
    }
    while let Some(t) = tasks.join_next().await {
        t??;
    }
    let posted = started.elapsed();
    let events = requests * b.per_request;
    println!(
        "posted in {:.2} s: {:.0} events/s accepted ({:.0} requests/s)",
        posted.as_secs_f64(),
        events as f64 / posted.as_secs_f64(),
        requests as f64 / posted.as_secs_f64()
    );
    if b.until_buffered {
        wait_for(&client, &b.url, &b.queue, |visible, in_flight| {
            visible == 0 && in_flight >= requests
        })
        .await?;
        println!("buffered: {requests} messages in flight, none visible");
        return Ok(());
    }
    let flushed = wait_for(&client, &b.url, &b.queue, |v, f| v == 0 && f == 0).await?;
    let total = flushed - started;
    println!(
        "analytics: {events} events in Parquet in {:.2} s: {:.0} events/s",
        total.as_secs_f64(),
        events as f64 / total.as_secs_f64()
    );

    if let (Some(sqs), Some(queue)) = (&b.sqs, &b.peer_queue) {
        peer(
            &b,
            sqs,
            queue,
            &client,
            at,
            events as f64 / total.as_secs_f64(),
        )
        .await?;
    }
    Ok(())
}

/// The per-event JSON path: one message per event, one JSON result per message.
async fn peer(
    b: &AnalyticsBench,
    sqs: &str,
    queue: &str,
    client: &reqwest::Client,
    at: i64,
    analytics_rate: f64,
) -> anyhow::Result<()> {
    let sqs_client = crate::bench::sqs_client(sqs, "us-east-1");
    let url = sqs_client
        .get_queue_url()
        .queue_name(queue)
        .send()
        .await
        .context("the peer queue")?
        .queue_url
        .context("no queue URL")?;
    let batches = b.peer_events.div_ceil(10);
    let next = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..b.connections {
        let (sqs_client, next, url) = (sqs_client.clone(), next.clone(), url.clone());
        tasks.spawn(async move {
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= batches {
                    return anyhow::Ok(());
                }
                let entries: Vec<_> = (0..10)
                    .map(|i| {
                        SendMessageBatchRequestEntry::builder()
                            .id(i.to_string())
                            .message_body(event(n * 10 + i, at).to_string())
                            .build()
                    })
                    .collect::<Result<_, _>>()?;
                let sent = sqs_client
                    .send_message_batch()
                    .queue_url(&url)
                    .set_entries(Some(entries))
                    .send()
                    .await?;
                if !sent.failed.is_empty() {
                    bail!("the peer's SendMessageBatch failed: {:?}", sent.failed);
                }
            }
        });
    }
    while let Some(t) = tasks.join_next().await {
        t??;
    }
    let done = wait_for(client, &b.url, queue, |v, f| v == 0 && f == 0).await?;
    let total = done - started;
    let events = batches * 10;
    let rate = events as f64 / total.as_secs_f64();
    println!(
        "peer (per-event JSON): {events} events as JSON results in {:.2} s: {rate:.0} events/s",
        total.as_secs_f64()
    );
    println!(
        "ratio: analytics {:.1}x the per-event JSON path",
        analytics_rate / rate
    );
    Ok(())
}
