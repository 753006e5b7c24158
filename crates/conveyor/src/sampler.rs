//! The dashboard's sampler in `serve` and `api`: every 10 s each configured queue's counts, its
//! dead-letter queue's depth, whether it is paused, and (where this process runs its workers)
//! their counters and recent failures, into `conveyor_api::dashboard::Samples`. The dashboard
//! then reads memory, never the queue service, however many messages wait.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use conveyor_api::dashboard::{QueueSample, Samples};
use conveyor_config::QueueSettings;
use conveyor_queue::{Queue, PAUSED_TAG};
use conveyor_worker::WorkerStats;
use tokio::sync::watch;

/// One sample per queue this often: an hour is `samples::KEPT` of them.
pub(crate) const SAMPLE_EVERY: Duration = Duration::from_secs(10);

pub(crate) struct Sampler {
    pub queue: Arc<dyn Queue>,
    pub queues: Vec<QueueSettings>,
    pub stats: BTreeMap<String, Arc<WorkerStats>>,
    pub samples: Samples,
}

impl Sampler {
    /// Sample now and every `SAMPLE_EVERY` until `stop`.
    pub(crate) async fn run(self, mut stop: watch::Receiver<bool>) {
        let mut tick = crate::ticks::every(SAMPLE_EVERY);
        while crate::ticks::next(&mut tick, &mut stop).await {
            self.round().await;
        }
    }

    /// One sample of every queue, and the recent failures.
    pub(crate) async fn round(&self) {
        let at = crate::alarms::now_ms();
        for q in &self.queues {
            let Ok(counts) = self.queue.counts(&q.name).await else {
                // A queue the service cannot count now leaves a gap, as in CloudWatch.
                continue;
            };
            let dlq_visible = self.queue.counts(&q.dlq_name).await.ok().map(|c| c.visible);
            let paused = self
                .queue
                .list_tags(&q.name)
                .await
                .is_ok_and(|t| t.contains_key(PAUSED_TAG));
            let stats = self.stats.get(&q.name);
            self.samples.record(
                &q.name,
                Some(&q.dlq_name),
                QueueSample {
                    at,
                    visible: counts.visible,
                    in_flight: counts.in_flight,
                    delayed: counts.delayed,
                    oldest_age_seconds: counts.oldest_age_seconds,
                    dlq_visible,
                    paused,
                    processed: stats.map(|s| s.processed()),
                    failed: stats.map(|s| s.failed()),
                },
            );
        }
        let mut failures: Vec<_> = self
            .stats
            .values()
            .flat_map(|s| s.recent_failures())
            .collect();
        failures.sort_by_key(|f| std::cmp::Reverse(f.at));
        failures.truncate(50);
        self.samples.set_failures(
            failures
                .into_iter()
                .filter_map(|f| serde_json::to_value(f).ok())
                .collect(),
        );
    }
}
