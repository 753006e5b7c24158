//! `conveyor bench email`: e-mails fully processed per second by the worker runtime with the
//! `email` handler over SMTP (enqueue → template → SMTP → result → delete), on the embedded
//! engine, with rate limiting off and `--connections` SMTP connections and loops; then the rate
//! limiter's accuracy at `--rate` messages per second over `--rate-seconds`. By default the
//! SMTP server is a sink in this process that speaks just enough SMTP to accept and discard,
//! so the sender is measured alone; `--smtp HOST:PORT` points it at a real server instead
//! (e.g. the test suite's aiosmtpd: `crates/conveyor-handlers/tests/smtp_server.py`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::bench_worker::{filled_round, Round};
use anyhow::Context;
use clap::Args;
use conveyor_store::Store;
use conveyor_worker::{Backoff, FlowLimits, QueueWorker, WorkerStats};

#[derive(Debug, Clone, Args)]
pub struct EmailBench {
    /// The SMTP server, `host:port` (no TLS: a local sink); by default a discarding sink
    /// started in this process.
    #[arg(long)]
    pub smtp: Option<String>,
    #[arg(long, default_value = "mailer")]
    pub user: String,
    #[arg(long, default_value = "s3cret-smtp")]
    pub password: String,
    /// E-mails in the throughput run.
    #[arg(long, default_value_t = 5_000)]
    pub messages: usize,
    /// SMTP connections, and as many worker loops.
    #[arg(long, default_value_t = 16)]
    pub connections: u32,
    /// The rate the accuracy run holds, in e-mails per second.
    #[arg(long, default_value_t = 100.0)]
    pub rate: f64,
    #[arg(long, default_value_t = 10)]
    pub rate_seconds: u64,
    /// Throughput rounds; the median is reported.
    #[arg(long, default_value_t = 3)]
    pub rounds: usize,
}

async fn fresh(messages: usize) -> anyhow::Result<Round> {
    filled_round("emails", messages, |i| {
        serde_json::json!({
            "to": format!("user{i}@example.com"),
            "subject": "Your weekly summary",
            "variables": { "text": "x".repeat(800) },
        })
        .to_string()
    })
    .await
}

fn handler(b: &EmailBench, store: &Store) -> anyhow::Result<Arc<dyn conveyor_worker::Handler>> {
    let server = b.smtp.as_deref().context("the SMTP server's address")?;
    let (host, port) = server.rsplit_once(':').context("--smtp takes host:port")?;
    let config: conveyor_config::HandlerConfig = serde_json::from_value(serde_json::json!({
        "kind": "email",
        "from": "Bench <bench@conveyor.example>",
        "transport": { "kind": "smtp", "host": host, "port": port.parse::<u16>()?, "security": "none",
                       "username": b.user, "password_secret": "smtp_password", "connections": b.connections },
    }))?;
    let env = conveyor_handlers::HandlerEnv::new(store.clone(), "emails")
        .with_secret("smtp_password", &b.password);
    Ok(conveyor_handlers::build(&config, &env)?)
}

/// Run the emails worker until `done` says so; returns (processed, seconds).
async fn work(
    b: &EmailBench,
    round: &Round,
    rate: Option<f64>,
    until: impl Fn(&WorkerStats, Duration) -> bool,
) -> anyhow::Result<(u64, f64)> {
    let stats = Arc::new(WorkerStats::default());
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let worker = QueueWorker {
        queue: "emails".into(),
        handler: handler(b, &round.store)?,
        concurrency: b.connections as usize,
        visibility: Duration::from_secs(60),
        poll_wait: Duration::from_secs(1),
        shutdown_grace: Duration::from_secs(5),
        backoff: Backoff {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(1),
        },
        dead_letter_queue: None,
        flow: FlowLimits {
            rate,
            ..Default::default()
        },
        batch: None,
    };
    let started = Instant::now();
    let task = tokio::spawn(conveyor_worker::run(
        Arc::new(round.engine.clone()),
        round.store.clone(),
        worker,
        stats.clone(),
        stopped,
    ));
    while !until(&stats, started.elapsed()) {
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(600),
            "the bench did not finish in 600 s"
        );
        anyhow::ensure!(
            stats.failed() == 0,
            "e-mails failed: is the SMTP server at {} up, and the login right?",
            b.smtp.as_deref().unwrap_or("?")
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let seconds = started.elapsed().as_secs_f64();
    let processed = stats.processed();
    let _ = stop.send(true);
    let _ = task.await;
    Ok((processed, seconds))
}

/// Accepts any login and any message, and forgets it: SMTP's happy path and nothing more.
async fn sink() -> anyhow::Result<String> {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?.to_string();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                // Answers are small writes: without this, delayed ACKs stall each exchange.
                let _ = socket.set_nodelay(true);
                let (read, mut write) = socket.into_split();
                let mut lines = BufReader::new(read).lines();
                let _ = write.write_all(b"220 sink ESMTP\r\n").await;
                let mut in_data = false;
                while let Ok(Some(line)) = lines.next_line().await {
                    let answer: &[u8] = if in_data {
                        if line != "." {
                            continue;
                        }
                        in_data = false;
                        b"250 2.0.0 discarded\r\n"
                    } else {
                        match line.get(..4).map(str::to_ascii_uppercase).as_deref() {
                            Some("EHLO") => b"250-sink\r\n250-AUTH PLAIN LOGIN\r\n250 8BITMIME\r\n",
                            Some("AUTH") => b"235 2.7.0 accepted\r\n",
                            Some("DATA") => {
                                in_data = true;
                                b"354 go ahead\r\n"
                            }
                            Some("QUIT") => {
                                let _ = write.write_all(b"221 bye\r\n").await;
                                return;
                            }
                            _ => b"250 ok\r\n",
                        }
                    };
                    if write.write_all(answer).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    Ok(address)
}

pub async fn run(mut b: EmailBench) -> anyhow::Result<()> {
    let sink_used = b.smtp.is_none();
    if sink_used {
        b.smtp = Some(sink().await?);
    }
    let mut rates = Vec::new();
    for _ in 0..b.rounds.max(1) {
        let round = fresh(b.messages).await?;
        let n = b.messages as u64;
        let (done, seconds) = work(&b, &round, None, |s, _| s.processed() >= n).await?;
        rates.push(done as f64 / seconds);
    }
    rates.sort_by(|a, c| a.total_cmp(c));
    let median = rates[rates.len() / 2];
    println!(
        "{} e-mails over SMTP to {} ({} connections and loops, rate off), median of {}: {median:.0} e-mails/s (rounds: {})",
        b.messages,
        if sink_used { "the in-process sink" } else { "the given server" },
        b.connections,
        b.rounds,
        rates.iter().map(|r| format!("{r:.0}")).collect::<Vec<_>>().join(", ")
    );
    // Enough messages that the queue never runs dry during the window.
    let round = fresh((b.rate * (b.rate_seconds as f64 + 5.0)) as usize).await?;
    let window = Duration::from_secs(b.rate_seconds);
    let (done, seconds) = work(&b, &round, Some(b.rate), |_, elapsed| elapsed >= window).await?;
    let achieved = done as f64 / seconds;
    println!(
        "rate limit {:.0}/s held for {seconds:.1} s: {done} e-mails = {achieved:.1}/s ({:+.1}% of the limit; the bucket's first second of burst included)",
        b.rate,
        100.0 * (achieved - b.rate) / b.rate
    );
    Ok(())
}
