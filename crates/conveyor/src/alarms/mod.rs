//! The alarm loop of `serve` and `api`: every configured `[queues.X.alarms]` rule sampled from
//! the queue service every few seconds, evaluated with CloudWatch's semantics
//! (`conveyor_alarms`), each state change logged and kept in the object store
//! (`_conveyor/alarms/history/{alarm}/{at}.json`, on both backends, so a deployment on S3 keeps
//! it too), and the changes worth telling handed to the channels (`notify`), which deliver them
//! on tasks of their own.

mod notify;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use conveyor_alarms::{AlarmState, Evaluation, Tracker, TreatMissing};
use conveyor_api::alarms::AlarmBoard;
use conveyor_config::{AlarmMetric, AlarmRule, MissingData, QueueSettings, Settings};
use conveyor_queue::{Queue, QueueCounts};
use conveyor_store::Store;
use conveyor_worker::WorkerStats;
use serde_json::json;
use tokio::sync::watch;

use notify::{Notice, Notifier};

/// How often metrics are sampled; a period's datapoint is the maximum of its samples.
pub(crate) const SAMPLE_EVERY: Duration = Duration::from_secs(5);

struct Watched {
    /// `{queue name}-{metric}`, as infra/ names the CloudWatch alarm.
    name: String,
    queue: QueueSettings,
    rule: AlarmRule,
    tracker: Tracker,
    /// Processed and failed counts at the last sample, for the error rate.
    seen: Option<(u64, u64)>,
    /// Why the alarm is in its state: the datapoints of its last change.
    reason: String,
    /// How often its metric is sampled, and when next.
    sample_every_ms: i64,
    next_sample_at: i64,
}

/// A rule's metric is sampled four times a period (so every period has its datapoints, the
/// maximum of them), at most every `SAMPLE_EVERY` and at least once a minute, as CloudWatch
/// takes SQS's own metrics: a 5-minute rule costs a twelfth of what sampling every 5 s would.
fn sample_every_ms(period_ms: i64) -> i64 {
    (period_ms / 4).clamp(SAMPLE_EVERY.as_millis() as i64, 60_000)
}

/// Everything the loop needs; `None` when no rule is configured or evaluation is off.
pub(crate) struct Alarms {
    watched: Vec<Watched>,
    queue: Arc<dyn Queue>,
    store: Store,
    stats: BTreeMap<String, Arc<WorkerStats>>,
    channels: Vec<notify::Channel>,
    /// What `/v1/admin/alarms` shows.
    board: AlarmBoard,
}

pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

fn treatment(m: MissingData) -> TreatMissing {
    match m {
        MissingData::Missing => TreatMissing::Missing,
        MissingData::Ignore => TreatMissing::Ignore,
        MissingData::Breaching => TreatMissing::Breaching,
        MissingData::NotBreaching => TreatMissing::NotBreaching,
    }
}

impl Alarms {
    /// The process's alarms, with the workers' counters (by queue name) for error rates.
    pub(crate) async fn new(
        settings: &Settings,
        queue: Arc<dyn Queue>,
        store: Store,
        stats: BTreeMap<String, Arc<WorkerStats>>,
        board: AlarmBoard,
    ) -> anyhow::Result<Option<Alarms>> {
        if !settings.alarms.in_process {
            return Ok(None);
        }
        let min_interval = settings.alarms.min_interval.0.as_millis() as i64;
        let watched: Vec<Watched> = settings
            .queues
            .iter()
            .flat_map(|q| q.alarms.iter().map(move |r| (q, r)))
            .map(|(q, rule)| {
                let evaluation = Evaluation {
                    evaluation_periods: rule.evaluation_periods as usize,
                    datapoints_to_alarm: rule.datapoints_to_alarm as usize,
                    treat_missing: treatment(rule.treat_missing_data),
                };
                Watched {
                    name: format!("{}-{}", q.name, rule.metric.as_str()),
                    queue: q.clone(),
                    rule: rule.clone(),
                    tracker: Tracker::new(
                        evaluation,
                        rule.period.0.as_millis() as i64,
                        rule.threshold,
                        min_interval,
                    ),
                    seen: None,
                    reason: "not evaluated yet".into(),
                    sample_every_ms: sample_every_ms(rule.period.0.as_millis() as i64),
                    next_sample_at: 0,
                }
            })
            .collect();
        if watched.is_empty() {
            return Ok(None);
        }
        let channels = notify::channels(settings, &store).await?;
        let started = now_ms();
        for w in &watched {
            board.set(&w.name, view(w, started, "not evaluated yet"));
        }
        Ok(Some(Alarms {
            watched,
            queue,
            store,
            stats,
            channels,
            board,
        }))
    }

    /// Sample, evaluate and tell until `stop`.
    pub(crate) async fn run(mut self, mut stop: watch::Receiver<bool>) {
        tracing::info!(
            alarms = self.watched.len(),
            channels = self.channels.len(),
            "evaluating alarms"
        );
        let notifier = Notifier::start(
            std::mem::take(&mut self.channels),
            self.board.clone(),
            stop.clone(),
        );
        let mut tick = crate::ticks::every(SAMPLE_EVERY);
        while crate::ticks::next(&mut tick, &mut stop).await {
            self.round(&notifier).await;
        }
    }

    /// One round that samples every rule, with nowhere to tell: what `conveyor bench
    /// dashboard` times.
    pub(crate) async fn evaluate_once(&mut self) {
        for w in &mut self.watched {
            w.next_sample_at = 0;
        }
        let nobody = Notifier::start(Vec::new(), self.board.clone(), watch::channel(false).1);
        self.round(&nobody).await;
    }

    /// How often the most often sampled rule is sampled.
    pub(crate) fn fastest_sampling_ms(&self) -> i64 {
        self.watched
            .iter()
            .map(|w| w.sample_every_ms)
            .min()
            .unwrap_or(SAMPLE_EVERY.as_millis() as i64)
    }

    async fn round(&mut self, notifier: &Notifier) {
        let now = now_ms();
        // A queue's counts serve all its rules (depth and oldest age; its DLQ's depth): one
        // count per queue per round, however many rules watch it.
        let mut counted: HashMap<String, Option<QueueCounts>> = HashMap::new();
        for i in 0..self.watched.len() {
            let due = now >= self.watched[i].next_sample_at;
            let sample = if due {
                self.sample(i, &mut counted).await
            } else {
                None
            };
            let w = &mut self.watched[i];
            if due {
                // Half a tick early, so a 15 s rhythm on 5 s ticks stays 15 s, not 20.
                w.next_sample_at = now + w.sample_every_ms - SAMPLE_EVERY.as_millis() as i64 / 2;
            }
            if let Some(value) = sample {
                w.tracker.record(now, value);
            }
            if let Some(change) = w.tracker.evaluate(now) {
                if change.to == AlarmState::Alarm || change.from == AlarmState::Alarm {
                    tracing::warn!(alarm = %w.name, from = ?change.from, to = ?change.to, reason = %change.reason, "alarm state changed");
                } else {
                    tracing::info!(alarm = %w.name, from = ?change.from, to = ?change.to, reason = %change.reason, "alarm state changed");
                }
                let record = json!({
                    "alarm": w.name, "queue": w.queue.name, "metric": w.rule.metric.as_str(),
                    "from": change.from, "to": change.to, "at": change.at_ms, "reason": change.reason,
                });
                self.board
                    .set(&w.name, view(w, change.at_ms, &change.reason));
                w.reason = change.reason.clone();
                let key = format!(
                    "{}{}.json",
                    conveyor_api::alarms::history_prefix(&w.name),
                    change.at_ms
                );
                if let Err(e) = self.store.put(&key, record.to_string()).await {
                    tracing::warn!(alarm = %w.name, error = %e, "cannot keep the alarm's history");
                }
            }
            let Some(state) = w.tracker.due(now) else {
                continue;
            };
            notifier.tell(notice(w, state, now));
        }
    }

    /// The metric's value now, `None` when there is none (a missing datapoint).
    async fn sample(
        &mut self,
        i: usize,
        counted: &mut HashMap<String, Option<QueueCounts>>,
    ) -> Option<f64> {
        let w = &self.watched[i];
        let watched = match w.rule.metric {
            AlarmMetric::DlqDepth => Some(&w.queue.dlq_name),
            AlarmMetric::Depth | AlarmMetric::OldestAge => Some(&w.queue.name),
            AlarmMetric::ErrorRate => None,
        };
        let counts = match watched {
            Some(name) => match counted.get(name) {
                Some(known) => known.clone(),
                None => {
                    let fresh = self.queue.counts(name).await.ok();
                    counted.insert(name.clone(), fresh.clone());
                    fresh
                }
            },
            None => None,
        };
        let value = match w.rule.metric {
            AlarmMetric::Depth | AlarmMetric::DlqDepth => counts.map(|c| c.visible as f64),
            AlarmMetric::OldestAge => counts.and_then(|c| c.oldest_age_seconds).map(|s| s as f64),
            AlarmMetric::ErrorRate => {
                let stats = self.stats.get(&w.queue.name)?;
                let now = (stats.processed(), stats.failed());
                let w = &mut self.watched[i];
                let before = w.seen.replace(now)?;
                let (done, failed) = (now.0 - before.0, now.1 - before.1);
                (done + failed > 0).then(|| 100.0 * failed as f64 / (done + failed) as f64)
            }
        };
        value
    }
}

/// An alarm as `/v1/admin/alarms` lists it.
fn view(w: &Watched, since_ms: i64, reason: &str) -> serde_json::Value {
    json!({
        "name": w.name, "queue": w.queue.name, "metric": w.rule.metric.as_str(),
        "state": w.tracker.state(), "since": since_ms, "reason": reason,
        "threshold": w.rule.threshold, "period": w.rule.period.to_string(),
        "evaluation_periods": w.rule.evaluation_periods,
        "datapoints_to_alarm": w.rule.datapoints_to_alarm,
        "treat_missing_data": w.rule.treat_missing_data,
    })
}

/// The change to tell, in words every channel can use.
fn notice(w: &Watched, state: AlarmState, at_ms: i64) -> Notice {
    let what = match w.rule.metric {
        AlarmMetric::Depth => "visible messages",
        AlarmMetric::OldestAge => "seconds the oldest message has waited",
        AlarmMetric::DlqDepth => "messages in the dead-letter queue",
        AlarmMetric::ErrorRate => "percent of handler attempts failing",
    };
    Notice {
        alarm: w.name.clone(),
        queue: w.queue.name.clone(),
        metric: w.rule.metric.as_str(),
        state,
        at_ms,
        rule: format!(
            "{} of the last {} periods of {} over {} {what} on {}.",
            w.rule.datapoints_to_alarm,
            w.rule.evaluation_periods,
            w.rule.period,
            w.rule.threshold,
            w.queue.name
        ),
        what,
        reason: w.reason.clone(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn rules_are_sampled_four_times_a_period_within_5_s_and_a_minute() {
        assert_eq!(super::sample_every_ms(10_000), 5_000);
        assert_eq!(super::sample_every_ms(60_000), 15_000);
        assert_eq!(super::sample_every_ms(300_000), 60_000);
        assert_eq!(super::sample_every_ms(3_600_000), 60_000);
    }
}
