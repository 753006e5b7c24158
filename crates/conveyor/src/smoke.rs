//! `conveyor smoke --env X [--queue K] [--count N]`: the seeds' `test-sqs-infrastructure.sh` and
//! `test-s3-ingestion.sh` as one command against a running deployment (its workers must be
//! running). One ✅/❌ line per check; exit status 1 on any ❌.
//!
//! On the embedded default it talks to the running `conveyor serve` through its SQS endpoint and
//! checks the bucket twice: in the local store, and through serve's S3 endpoint (when it has
//! one, as by default); on SQS and S3 it talks to them directly.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use conveyor_aws::{static_sqs_client, Aws, SqsQueue};
use conveyor_config::{QueueBackend, QueueSettings, Settings, StoreBackend};
use conveyor_queue::{MessageAttributeValue, Queue, ReceiveRequest, SendMessage};
use conveyor_store::Store;
use conveyor_worker::{SMOKE_ATTRIBUTE, SMOKE_DEAD_LETTER, SMOKE_ROUND_TRIP};

use crate::ConfigArgs;

#[derive(Debug, clap::Args)]
pub struct SmokeArgs {
    #[command(flatten)]
    config: ConfigArgs,
    /// Check only this queue (its short name, e.g. feedback); default: every queue.
    #[arg(long)]
    queue: Option<String>,
    /// Messages sent per queue.
    #[arg(long, default_value_t = 3)]
    count: u32,
    /// How long to wait for the workers (results, dead-lettering), in seconds.
    #[arg(long, default_value_t = 60)]
    timeout: u64,
}

/// Tallies the checks and prints each.
struct Report {
    failed: usize,
}

impl Report {
    fn check<T, E: std::fmt::Display>(&mut self, what: &str, r: Result<T, E>) -> Option<T> {
        match r {
            Ok(v) => {
                println!("✅ {what}");
                Some(v)
            }
            Err(e) => {
                println!("❌ {what}: {e}");
                self.failed += 1;
                None
            }
        }
    }
}

pub async fn run(args: SmokeArgs) -> anyhow::Result<()> {
    let settings = args.config.load()?.selected;
    let queues: Vec<&QueueSettings> = match &args.queue {
        Some(key) => vec![settings.queue(key).with_context(|| {
            let keys: Vec<&str> = settings.queues.iter().map(|q| q.key.as_str()).collect();
            format!(
                "there is no queue {key:?}: the configured queues are {}",
                keys.join(", ")
            )
        })?],
        None => settings.queues.iter().collect(),
    };
    if args.count == 0 {
        bail!("--count must be at least 1");
    }
    let (queue, store) = connect(&settings).await?;
    let run = uuid::Uuid::new_v4().simple().to_string()[..12].to_string();
    let deadline = Instant::now() + Duration::from_secs(args.timeout);
    let mut report = Report { failed: 0 };
    println!("smoke test {run} of environment {}", settings.environment);

    // The bucket as the workers reach it, and, on the local store, as S3 clients do too.
    let mut stores = vec![store];
    stores.extend(s3_endpoint_store(&settings)?);
    for store in &stores {
        let probe = format!("_conveyor/smoke/{run}.txt");
        report.check(
            &format!(
                "bucket access: write, read and delete in {}",
                store.description()
            ),
            async {
                store.put(&probe, run.clone()).await?;
                let back = store.get(&probe).await?;
                store.delete(&probe).await?;
                anyhow::ensure!(
                    back == run.as_bytes(),
                    "read back {} bytes that differ",
                    back.len()
                );
                Ok(())
            }
            .await,
        );
    }

    for q in queues {
        let expected = queue_checks(&mut report, &*queue, q, &run, args.count, deadline).await;
        let mut found = None;
        for store in &stores {
            let listed = report.check(
                &format!(
                    "{}: {} result(s) in {}",
                    q.key,
                    expected.len(),
                    store.description()
                ),
                results(store, &q.name, &expected, deadline).await,
            );
            found = found.or(listed);
        }
        if let Some(keys) = found {
            report.check(
                &format!("{}: results under the Athena partition layout results/{}/year=YYYY/month=MM/day=DD/hour=HH/", q.key, q.name),
                keys.iter().try_for_each(|k| partitioned(k, &q.name)),
            );
        }
    }
    if report.failed > 0 {
        bail!("{} check(s) failed", report.failed);
    }
    println!("all checks passed");
    Ok(())
}

/// The local store as `conveyor serve`'s S3 endpoint serves it, when the environment has one.
fn s3_endpoint_store(settings: &Settings) -> anyhow::Result<Option<Store>> {
    let Some(address) = settings.s3.listen else {
        return Ok(None);
    };
    if settings.backend.store != StoreBackend::Local {
        return Ok(None);
    }
    let (key, secret) = match settings.s3.access_keys.first() {
        Some(k) => (k.id.clone(), k.secret.expose().to_string()),
        None => ("conveyor".to_string(), "conveyor".to_string()),
    };
    let endpoint = format!("http://{address}");
    Ok(Some(conveyor_aws::static_s3_store(
        &endpoint,
        &settings.region,
        &key,
        &secret,
        &settings.bucket,
    )?))
}

/// The queue and the store the deployment uses, as a client sees them.
async fn connect(settings: &Settings) -> anyhow::Result<(Arc<dyn Queue>, Store)> {
    let aws = Aws::connect(settings).await?;
    let queue: Arc<dyn Queue> = match (settings.backend.queue, &aws) {
        (QueueBackend::Sqs, Some(aws)) => {
            aws.check_sqs().await?;
            Arc::new(aws.sqs())
        }
        _ => {
            let address = settings.sqs.listen.with_context(|| {
                "the smoke test reaches the embedded engine through conveyor serve's SQS endpoint, which is off: set sqs.listen (or --sqs-listen)"
            })?;
            let endpoint = format!("http://{address}");
            let (key, secret) = match settings.sqs.access_keys.first() {
                Some(k) => (k.id.clone(), k.secret.expose().to_string()),
                None => ("conveyor".to_string(), "conveyor".to_string()),
            };
            let client = static_sqs_client(&endpoint, &settings.region, &key, &secret);
            let queue = SqsQueue::new(client, &settings.region, &endpoint);
            queue.list_queues(None, Some(1), None).await.map_err(|e| {
                anyhow::anyhow!("no conveyor serve answers at {endpoint} ({e}): start `conveyor serve` first, or pass its --sqs-listen address")
            })?;
            Arc::new(queue)
        }
    };
    let store = crate::serve::open_store(settings, aws.as_ref()).await?;
    Ok((queue, store))
}

fn message(q: &QueueSettings, run: &str, label: &str) -> SendMessage {
    let mut m = SendMessage::new(format!(r#"{{"smoke":"{run}","message":"{label}"}}"#));
    // Answered by the workers' probe layer, not by the queue's handler: a smoke run on a live
    // deployment opens no ticket and sends no e-mail.
    m.attributes.insert(
        SMOKE_ATTRIBUTE.into(),
        MessageAttributeValue::string(SMOKE_ROUND_TRIP),
    );
    if q.fifo {
        m = m
            .group(format!("smoke-{run}-{label}"))
            .dedup(uuid::Uuid::new_v4().to_string());
    }
    m
}

/// Queue configuration, sends, metrics and the dead-letter round trip of one queue; returns the
/// ids of the messages whose results the workers should store.
async fn queue_checks(
    report: &mut Report,
    queue: &dyn Queue,
    q: &QueueSettings,
    run: &str,
    count: u32,
    deadline: Instant,
) -> Vec<String> {
    let configured = report.check(
        &format!(
            "{}: queue {} exists with redrive to {} after {} receive(s)",
            q.key, q.name, q.dlq_name, q.max_receive_count
        ),
        redrive_configured(queue, q).await,
    );
    if configured.is_none() {
        return Vec::new();
    }
    let mut expected = Vec::new();
    let sent = report.check(
        &format!("{}: sent {count} message(s)", q.key),
        async {
            for i in 0..count {
                expected.push(
                    queue
                        .send(&q.name, message(q, run, &i.to_string()))
                        .await?
                        .message_id,
                );
            }
            Ok::<_, anyhow::Error>(())
        }
        .await,
    );
    let metrics = async {
        let c = queue.counts(&q.name).await?;
        let d = queue.counts(&q.dlq_name).await?;
        Ok::<_, anyhow::Error>(format!(
            "visible {}, in flight {}, delayed {}; its dead-letter queue holds {}",
            c.visible,
            c.in_flight,
            c.delayed,
            d.visible + d.in_flight
        ))
    }
    .await;
    let label = match &metrics {
        Ok(m) => format!("{}: queue metrics readable ({m})", q.key),
        Err(_) => format!("{}: queue metrics readable", q.key),
    };
    report.check(&label, metrics);
    if sent.is_none() {
        return expected;
    }
    let probe = message(q, run, "dead-letter-probe").attribute(
        SMOKE_ATTRIBUTE,
        MessageAttributeValue::string(SMOKE_DEAD_LETTER),
    );
    let dead = report.check(
        &format!(
            "{}: a refused message reached {} after {} receive(s)",
            q.key, q.dlq_name, q.max_receive_count
        ),
        dead_lettered(queue, q, probe, run, deadline).await,
    );
    if let Some(body) = dead {
        // Redriven back without the probe's mark, so a worker processes it like any message.
        let mut back = message(q, run, "redriven");
        back.body = body.replace("dead-letter-probe", "redriven");
        if let Some(id) = report.check(
            &format!("{}: redriven from {} back to {}", q.key, q.dlq_name, q.name),
            queue.send(&q.name, back).await.map(|o| o.message_id),
        ) {
            expected.push(id);
        }
    }
    expected
}

async fn redrive_configured(queue: &dyn Queue, q: &QueueSettings) -> anyhow::Result<()> {
    let a = queue.get_attributes(&q.name).await?;
    let policy: serde_json::Value =
        serde_json::from_str(a.get("RedrivePolicy").context("it has no RedrivePolicy")?)?;
    let target = policy["deadLetterTargetArn"].as_str().unwrap_or_default();
    anyhow::ensure!(
        target.ends_with(&format!(":{}", q.dlq_name)),
        "its dead-letter queue is {target}"
    );
    let count = policy["maxReceiveCount"]
        .to_string()
        .trim_matches('"')
        .to_string();
    anyhow::ensure!(
        count == q.max_receive_count.to_string(),
        "maxReceiveCount is {count}"
    );
    let fifo = a.get("FifoQueue").is_some_and(|v| v == "true");
    anyhow::ensure!(
        fifo == q.fifo,
        "FifoQueue is {fifo}, the configuration says {}",
        q.fifo
    );
    queue.get_queue(&q.dlq_name).await?;
    Ok(())
}

/// Send the probe and wait for it in the dead-letter queue (the workers refuse it); take it out
/// of the DLQ and return its body.
async fn dead_lettered(
    queue: &dyn Queue,
    q: &QueueSettings,
    probe: SendMessage,
    run: &str,
    deadline: Instant,
) -> anyhow::Result<String> {
    queue.send(&q.name, probe).await?;
    while Instant::now() < deadline {
        for m in queue
            .receive(&q.dlq_name, ReceiveRequest::up_to(10).wait(2))
            .await?
        {
            if m.body.contains(run) && m.body.contains("dead-letter-probe") {
                queue.delete(&q.dlq_name, &m.receipt_handle).await?;
                return Ok(m.body);
            }
            // Somebody else's dead letter: leave it as it was.
            let _ = queue
                .change_visibility(&q.dlq_name, &m.receipt_handle, 0)
                .await;
        }
    }
    bail!(
        "not in the dead-letter queue in time: are the workers running (conveyor worker / serve)?"
    )
}

/// Wait for a result object per message id; returns their keys.
async fn results(
    store: &Store,
    queue: &str,
    ids: &[String],
    deadline: Instant,
) -> anyhow::Result<Vec<String>> {
    anyhow::ensure!(!ids.is_empty(), "no message was sent");
    loop {
        let keys = store
            .list(&format!("results/{queue}"))
            .await
            .unwrap_or_default();
        let by_id: BTreeMap<&str, &String> = keys
            .iter()
            .filter_map(|k| Some((k.rsplit('/').next()?.strip_suffix(".json")?, k)))
            .collect();
        let missing: Vec<&String> = ids
            .iter()
            .filter(|id| !by_id.contains_key(id.as_str()))
            .collect();
        if missing.is_empty() {
            return Ok(ids.iter().map(|id| by_id[id.as_str()].clone()).collect());
        }
        if Instant::now() >= deadline {
            bail!(
                "{} of {} missing (e.g. {}): are the workers running (conveyor worker / serve)?",
                missing.len(),
                ids.len(),
                missing[0]
            );
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// `results/{queue}/year=YYYY/month=MM/day=DD/hour=HH/{id}.json`.
fn partitioned(key: &str, queue: &str) -> anyhow::Result<()> {
    let parts: Vec<&str> = key.split('/').collect();
    let ok = parts.len() == 7
        && parts[0] == "results"
        && parts[1] == queue
        && [("year=", 4), ("month=", 2), ("day=", 2), ("hour=", 2)]
            .iter()
            .zip(&parts[2..6])
            .all(|((prefix, digits), p)| {
                p.strip_prefix(prefix)
                    .is_some_and(|n| n.len() == *digits && n.bytes().all(|b| b.is_ascii_digit()))
            })
        && parts[6].ends_with(".json");
    anyhow::ensure!(ok, "{key} is not under the partition layout");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_layout_is_checked_segment_by_segment() {
        assert!(partitioned(
            "results/q.fifo/year=2026/month=11/day=23/hour=09/m1.json",
            "q.fifo"
        )
        .is_ok());
        assert!(partitioned(
            "results/q.fifo/year=26/month=11/day=23/hour=09/m1.json",
            "q.fifo"
        )
        .is_err());
        assert!(partitioned("results/q.fifo/2026/11/23/09/m1.json", "q.fifo").is_err());
        assert!(partitioned(
            "results/other/year=2026/month=11/day=23/hour=09/m1.json",
            "q.fifo"
        )
        .is_err());
    }
}
