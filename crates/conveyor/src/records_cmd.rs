//! The records the workers leave in the store, for query engines: `conveyor athena ddl` (the
//! tables over them) and `conveyor compact results` (an hour's JSON results into one Parquet
//! file), plus the sweeper `serve` and `worker` run on a local store.

use std::time::Duration;

use conveyor_aws::Aws;
use conveyor_config::{HandlerConfig, Settings, Span, StoreBackend};
use conveyor_handlers::analytics::results::{compact_results, COMPACTED_PREFIX};
use conveyor_store::retention::{sweep, Expiry};
use conveyor_store::Store;
use tokio::sync::watch;

use crate::{print_out, ConfigSource};

#[derive(Debug, clap::Args)]
pub struct AthenaArgs {
    #[command(subcommand)]
    command: AthenaCommand,
}

#[derive(Debug, clap::Subcommand)]
enum AthenaCommand {
    /// Print the CREATE statements (database, events, results, results_compacted) with
    /// partition projection, as infra/modules/s3 creates them in Glue.
    Ddl(ConfigSource),
}

#[derive(Debug, clap::Args)]
pub struct CompactArgs {
    #[command(subcommand)]
    what: CompactWhat,
}

#[derive(Debug, clap::Subcommand)]
enum CompactWhat {
    /// Roll each queue's past hours of JSON results into one Parquet file per queue and hour
    /// under results_compacted/, deleting the JSON (the environment's store: local or S3).
    Results {
        #[command(flatten)]
        source: ConfigSource,
        /// Hours that ended at least this long ago (like 1h, 30m, 2d).
        #[arg(long, default_value = "1h", value_parser = Span::parse)]
        older_than: Span,
        /// The local store's data directory, when not the environment's.
        #[arg(long, env = "CONVEYOR_DATA_DIR")]
        data_dir: Option<std::path::PathBuf>,
    },
}

pub fn athena(args: AthenaArgs) -> anyhow::Result<()> {
    match args.command {
        AthenaCommand::Ddl(source) => print_out(&crate::athena::ddl(&source.load()?.selected)?),
    }
}

pub async fn compact(args: CompactArgs) -> anyhow::Result<()> {
    let CompactWhat::Results {
        source,
        older_than,
        data_dir,
    } = args.what;
    let mut settings = source.load()?.selected;
    if let Some(dir) = data_dir {
        settings.data_dir = dir;
    }
    let aws = Aws::connect(&settings).await?;
    let store = crate::serve::open_store(&settings, aws.as_ref()).await?;
    let before = crate::alarms::now_ms() - older_than.0.as_millis() as i64;
    let done = compact_results(&store, before).await?;
    let mut records = 0;
    for hour in done.iter().filter(|h| h.records > 0) {
        records += hour.records;
        print_out(&format!(
            "{}: {} records -> {}\n",
            hour.partition, hour.records, hour.key
        ))?;
    }
    for hour in done.iter().filter(|h| h.skipped > 0) {
        print_out(&format!(
            "{}: {} objects are not result records and were left in place\n",
            hour.partition, hour.skipped
        ))?;
    }
    print_out(&format!(
        "compacted {records} records in {} hours into {COMPACTED_PREFIX}/ ({})\n",
        done.iter().filter(|h| h.records > 0).count(),
        store.description()
    ))
}

/// How often the sweeper looks.
const SWEEP_EVERY: Duration = Duration::from_secs(3600);
/// Analytics temporary files no manifest names are a crashed flush's: gone after a day.
const ABANDONED_AFTER: Duration = Duration::from_secs(86_400);

/// What the local store's sweeper deletes: records past the environment's retention (as the
/// bucket's expiration rule does on S3), analytics manifests once no message they name can
/// still be delivered (the queue's retention, plus a day), and abandoned temporary files.
pub(crate) fn expiry_rules(settings: &Settings) -> Vec<Expiry> {
    let mut rules = Vec::new();
    if let Some(keep) = settings.record_retention {
        for prefix in ["events/", "results/", "results_compacted/"] {
            rules.push(Expiry {
                prefix: prefix.to_string(),
                after: keep.0,
            });
        }
    }
    for q in &settings.queues {
        if let HandlerConfig::Analytics(_) = q.handler {
            let area = format!("_conveyor/analytics/{}", q.name);
            rules.push(Expiry {
                prefix: format!("{area}/manifests/"),
                after: q.retention.0 + Duration::from_secs(86_400),
            });
            rules.push(Expiry {
                prefix: format!("{area}/tmp/"),
                after: ABANDONED_AFTER,
            });
        }
    }
    rules.push(Expiry {
        prefix: "_conveyor/compaction/tmp/".into(),
        after: ABANDONED_AFTER,
    });
    rules
}

/// Sweep now and every hour until `stop`; only on the local store (S3 has lifecycle rules).
pub(crate) async fn sweeper(
    settings: std::sync::Arc<Settings>,
    store: Store,
    mut stop: watch::Receiver<bool>,
) {
    if settings.backend.store == StoreBackend::S3 {
        return;
    }
    let rules = expiry_rules(&settings);
    let mut tick = crate::ticks::every(SWEEP_EVERY);
    while crate::ticks::next(&mut tick, &mut stop).await {
        match sweep(&store, &rules, chrono::Utc::now()).await {
            Ok(swept) => {
                for s in swept.iter().filter(|s| s.deleted > 0) {
                    tracing::info!(prefix = %s.prefix, deleted = s.deleted, "expired objects deleted");
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "the store sweep failed; it runs again in an hour")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_local_environment_expires_records_and_the_analytics_bookkeeping() {
        let settings = conveyor_config::load(None, Vec::<(String, String)>::new())
            .unwrap()
            .selected;
        let rules = expiry_rules(&settings);
        let after = |prefix: &str| {
            rules
                .iter()
                .find(|r| r.prefix == prefix)
                .map(|r| r.after.as_secs() / 86_400)
        };
        assert_eq!(after("events/"), Some(30));
        assert_eq!(after("results/"), Some(30));
        assert_eq!(after("results_compacted/"), Some(30));
        // The analytics queue keeps messages 7 days: its manifests are needed a day longer.
        assert_eq!(
            after("_conveyor/analytics/mht-api-local-api-processing-analytics.fifo/manifests/"),
            Some(8)
        );
    }
}
