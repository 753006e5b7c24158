//! `conveyor provision --env X`: create (or bring up to date) the environment's queues, their
//! dead-letter queues and its bucket, idempotently, never touching another environment's.
//! `conveyor serve` runs the queue half of it on its embedded engine at start.

use std::collections::BTreeMap;

use anyhow::{bail, Context};
use conveyor_aws::Aws;
use conveyor_config::{QueueBackend, Settings, StoreBackend};
use conveyor_queue::{ensure_queue, Ensured, Queue, QueueError};

use crate::ConfigArgs;

/// The tag that says which environment a queue belongs to.
pub const ENVIRONMENT_TAG: &str = "conveyor:environment";

fn tags(settings: &Settings) -> BTreeMap<String, String> {
    BTreeMap::from([
        (ENVIRONMENT_TAG.to_string(), settings.environment.clone()),
        ("conveyor:instance".to_string(), settings.instance.clone()),
        ("conveyor:use-case".to_string(), settings.use_case.clone()),
    ])
}

/// Refuse a queue that exists and is tagged as another environment's.
async fn check_owner(queue: &dyn Queue, name: &str, settings: &Settings) -> anyhow::Result<()> {
    match queue.list_tags(name).await {
        Ok(t) => match t.get(ENVIRONMENT_TAG) {
            Some(owner) if *owner != settings.environment => bail!(
                "the queue {name} is tagged {ENVIRONMENT_TAG}={owner}, not {}: refusing to touch another environment's queue; check instance, use_case and the environment names in the configuration",
                settings.environment
            ),
            _ => Ok(()),
        },
        Err(QueueError::QueueDoesNotExist { .. }) => Ok(()),
        Err(e) => Err(e).with_context(|| format!("reading the tags of queue {name}")),
    }
}

/// Every configured queue, dead-letter queues first (their ARNs go into the redrive policies).
/// `report` hears each queue's name and what was done.
pub async fn provision_queues(
    queue: &dyn Queue,
    settings: &Settings,
    mut report: impl FnMut(&str, Ensured),
) -> anyhow::Result<()> {
    let tags = tags(settings);
    for q in &settings.queues {
        check_owner(queue, &q.dlq_name, settings).await?;
        check_owner(queue, &q.name, settings).await?;
        let (dlq, done) = ensure_queue(queue, &q.dlq_name, &q.dlq_attributes(), &tags)
            .await
            .with_context(|| format!("provisioning queue {}", q.dlq_name))?;
        report(&q.dlq_name, done);
        let (_, done) = ensure_queue(queue, &q.name, &q.attributes(Some(&dlq.arn)), &tags)
            .await
            .with_context(|| format!("provisioning queue {}", q.name))?;
        report(&q.name, done);
    }
    Ok(())
}

pub async fn run(args: ConfigArgs) -> anyhow::Result<()> {
    let settings = args.load()?.selected;
    let env = &settings.environment;
    let print =
        |kind: &str, name: &str, done: Ensured| println!("{kind} {name}: {}", done.as_str());
    let aws = Aws::connect(&settings).await?;
    match (settings.backend.queue, &aws) {
        (QueueBackend::Sqs, Some(aws)) => {
            aws.check_sqs().await?;
            let sqs = aws.sqs();
            provision_queues(&sqs, &settings, |n, d| print("queue", n, d)).await?;
        }
        _ => {
            let engine = crate::serve::open_engine(&settings)?;
            provision_queues(&engine, &settings, |n, d| print("queue", n, d)).await?;
        }
    }
    match (settings.backend.store, &aws) {
        (StoreBackend::S3, Some(aws)) => {
            let created = aws.ensure_bucket(&settings.bucket).await?;
            let done = if created {
                Ensured::Created
            } else {
                Ensured::Unchanged
            };
            print("bucket", &settings.bucket, done);
        }
        _ => {
            let dir = settings.data_dir.join("objects");
            conveyor_store::Store::local(&dir)?;
            println!("directory {}: ready", dir.display());
        }
    }
    println!("environment {env} is provisioned");
    Ok(())
}
