//! `conveyor bench sqs`: a load generator for any SQS endpoint (Conveyor, moto, ElasticMQ, AWS);
//! and the other `conveyor bench` commands' dispatch.
//!
//! Producers send batches of up to 10 while consumers receive batches of up to 10 and delete
//! them with one DeleteMessageBatch, all through the Rust AWS SDK, so what is measured is what an
//! application would see. The figure is the full cycle: messages sent, received and deleted per
//! second, from the first send to the last delete.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, SendMessageBatchRequestEntry};
use clap::{Args, Subcommand};

#[derive(Debug, Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    pub command: BenchCommand,
}

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Send, receive and delete through the SQS protocol with concurrent clients.
    Sqs(SqsBench),
    /// Messages fully processed per second by the worker runtime, against the raw engine cycle.
    Worker(crate::bench_worker::WorkerBench),
    /// E-mails sent per second over SMTP by the email handler, and the rate limiter's accuracy.
    Email(crate::bench_email::EmailBench),
    /// Job-status lookups per second over HTTP, against `/health` on the same clients.
    Jobs(crate::bench_jobs::JobsBench),
    /// The dashboard's JSON routes and the alarm evaluation with many queues and messages.
    Dashboard(crate::bench_dashboard::DashboardBench),
    /// Analytics events from the API into Parquet, against the per-event JSON path.
    Analytics(crate::bench_analytics::AnalyticsBench),
    /// PUT and GET throughput of one object size through the S3 protocol.
    S3(crate::bench_s3::S3Bench),
}

#[derive(Debug, Args)]
pub struct SqsBench {
    /// The SQS endpoint, e.g. http://127.0.0.1:9324.
    #[arg(long)]
    pub endpoint: String,
    /// Concurrent producers, and as many consumers.
    #[arg(long, default_value_t = 8)]
    pub clients: usize,
    /// Messages to push through the full cycle.
    #[arg(long, default_value_t = 50_000)]
    pub messages: u64,
    /// Messages per SendMessageBatch / ReceiveMessage / DeleteMessageBatch (1–10).
    #[arg(long, default_value_t = 10)]
    pub batch: usize,
    /// Body size in bytes.
    #[arg(long, default_value_t = 256)]
    pub body_bytes: usize,
    /// Region to sign for; credentials come from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY
    /// (any value works against an endpoint without access keys).
    #[arg(long, default_value = "us-east-1")]
    pub region: String,
    /// Long-poll wait of each ReceiveMessage (0–20 s).
    #[arg(long, default_value_t = 1)]
    pub wait_seconds: i32,
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 600)]
    pub timeout_seconds: u64,
}

pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    match args.command {
        BenchCommand::Sqs(b) => sqs(b).await,
        BenchCommand::Worker(b) => crate::bench_worker::run(b).await,
        BenchCommand::Email(b) => crate::bench_email::run(b).await,
        BenchCommand::Jobs(b) => crate::bench_jobs::run(b).await,
        BenchCommand::Dashboard(b) => crate::bench_dashboard::run(b).await,
        BenchCommand::Analytics(b) => crate::bench_analytics::run(b).await,
        BenchCommand::S3(b) => crate::bench_s3::run(b).await,
    }
}

/// An SQS client for `endpoint`, with the environment's keys if set (any key suits a Conveyor
/// without access keys, or moto).
pub fn sqs_client(endpoint: &str, region: &str) -> aws_sdk_sqs::Client {
    let key = std::env::var("AWS_ACCESS_KEY_ID").unwrap_or_else(|_| "conveyor".into());
    let secret = std::env::var("AWS_SECRET_ACCESS_KEY").unwrap_or_else(|_| "conveyor".into());
    conveyor_aws::static_sqs_client(endpoint, region, &key, &secret)
}

async fn sqs(b: SqsBench) -> anyhow::Result<()> {
    if !(1..=10).contains(&b.batch) {
        bail!(
            "--batch {} is out of range: SQS batches hold 1 to 10 messages",
            b.batch
        );
    }
    if b.clients == 0 || b.messages == 0 {
        bail!("--clients and --messages must be at least 1");
    }
    let client = sqs_client(&b.endpoint, &b.region);
    let name = format!("conveyor-bench-{}", uuid::Uuid::new_v4().simple());
    let url = client
        .create_queue()
        .queue_name(&name)
        .send()
        .await
        .with_context(|| format!("creating the benchmark queue at {}", b.endpoint))?
        .queue_url
        .context("CreateQueue returned no QueueUrl")?;
    let body = "x".repeat(b.body_bytes);
    let to_send = Arc::new(AtomicU64::new(b.messages));
    let deleted = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = started + Duration::from_secs(b.timeout_seconds);
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..b.clients {
        let producer = (client.clone(), url.clone(), body.clone(), to_send.clone());
        let batch = b.batch as u64;
        tasks.spawn(async move {
            let (client, url, body, to_send) = producer;
            loop {
                let n = take(&to_send, batch);
                if n == 0 {
                    return Ok::<(), anyhow::Error>(());
                }
                let entries = (0..n)
                    .map(|i| {
                        SendMessageBatchRequestEntry::builder()
                            .id(format!("m{i}"))
                            .message_body(&body)
                            .build()
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                let out = client
                    .send_message_batch()
                    .queue_url(&url)
                    .set_entries(Some(entries))
                    .send()
                    .await
                    .context("SendMessageBatch")?;
                if !out.failed.is_empty() {
                    bail!(
                        "{} entries of a batch failed: {:?}",
                        out.failed.len(),
                        out.failed[0]
                    );
                }
            }
        });
        let consumer = (client.clone(), url.clone(), deleted.clone());
        let (batch, total, wait) = (b.batch as i32, b.messages, b.wait_seconds);
        tasks.spawn(async move {
            let (client, url, deleted) = consumer;
            while deleted.load(Ordering::Relaxed) < total {
                if Instant::now() > deadline {
                    bail!(
                        "timed out with {} of {total} messages deleted",
                        deleted.load(Ordering::Relaxed)
                    );
                }
                let out = client
                    .receive_message()
                    .queue_url(&url)
                    .max_number_of_messages(batch)
                    .wait_time_seconds(wait)
                    .send()
                    .await
                    .context("ReceiveMessage")?;
                let messages = out.messages.unwrap_or_default();
                if messages.is_empty() {
                    continue;
                }
                let entries = messages
                    .iter()
                    .enumerate()
                    .map(|(i, m)| {
                        DeleteMessageBatchRequestEntry::builder()
                            .id(format!("d{i}"))
                            .receipt_handle(m.receipt_handle.clone().unwrap_or_default())
                            .build()
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                let out = client
                    .delete_message_batch()
                    .queue_url(&url)
                    .set_entries(Some(entries))
                    .send()
                    .await
                    .context("DeleteMessageBatch")?;
                deleted.fetch_add(out.successful.len() as u64, Ordering::Relaxed);
            }
            Ok(())
        });
    }
    while let Some(result) = tasks.join_next().await {
        if let Err(e) = result.context("a benchmark task panicked")? {
            tasks.abort_all();
            let _ = client.delete_queue().queue_url(&url).send().await;
            return Err(e);
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    let _ = client.delete_queue().queue_url(&url).send().await;
    let done = deleted.load(Ordering::Relaxed);
    println!(
        "endpoint={} clients={} batch={} wait_seconds={} body_bytes={} messages={done} seconds={elapsed:.2} full_cycle_msg_per_s={:.0}",
        b.endpoint,
        b.clients,
        b.batch,
        b.wait_seconds,
        b.body_bytes,
        done as f64 / elapsed
    );
    Ok(())
}

/// Claim up to `batch` of the remaining messages to send.
fn take(remaining: &AtomicU64, batch: u64) -> u64 {
    let mut current = remaining.load(Ordering::Relaxed);
    loop {
        let n = current.min(batch);
        if n == 0 {
            return 0;
        }
        match remaining.compare_exchange(current, current - n, Ordering::Relaxed, Ordering::Relaxed)
        {
            Ok(_) => return n,
            Err(actual) => current = actual,
        }
    }
}
