//! The dashboard's picture of the last hour: one sample per queue every 10 s (depth, in flight,
//! delayed, oldest age, dead-letter depth, the workers' counters), kept in memory, 360 per
//! queue, and the workers' recent failures. The binary's sampler writes it; `GET
//! /v1/admin/overview` reads it, so the dashboard never makes the queue service count anything.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, RwLock};

use serde::Serialize;
use serde_json::Value;

/// Samples kept per queue: an hour at 10 s.
pub const KEPT: usize = 360;

/// One queue at one moment.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QueueSample {
    /// Unix milliseconds.
    pub at: i64,
    pub visible: u64,
    pub in_flight: u64,
    pub delayed: u64,
    pub oldest_age_seconds: Option<u64>,
    pub dlq_visible: Option<u64>,
    pub paused: bool,
    /// The workers' running totals in this process (`None` where it runs no workers).
    pub processed: Option<u64>,
    pub failed: Option<u64>,
}

#[derive(Default)]
struct Picture {
    queues: BTreeMap<String, (Option<String>, VecDeque<QueueSample>)>,
    failures: Vec<Value>,
}

#[derive(Clone, Default)]
pub struct Samples(Arc<RwLock<Picture>>);

impl Samples {
    /// Add a sample of `queue` (whose dead-letter queue is `dlq`).
    pub fn record(&self, queue: &str, dlq: Option<&str>, sample: QueueSample) {
        let mut p = self.0.write().unwrap_or_else(|e| e.into_inner());
        let (known_dlq, series) = p.queues.entry(queue.to_string()).or_default();
        *known_dlq = dlq.map(str::to_string);
        series.push_back(sample);
        while series.len() > KEPT {
            series.pop_front();
        }
    }

    /// The workers' most recent failures, newest first.
    pub fn set_failures(&self, failures: Vec<Value>) {
        self.0.write().unwrap_or_else(|e| e.into_inner()).failures = failures;
    }

    /// Every queue's latest numbers and its last hour as series (`t` in Unix ms; throughput in
    /// messages per second and error rate in percent, both per sample interval; `null` where
    /// the process has no workers for the queue). Typed, not a `Value` tree: an hour of 100
    /// queues is 180,000 numbers, serialized straight from these vectors.
    pub fn overview(&self, with_series: bool) -> Overview {
        let p = self.0.read().unwrap_or_else(|e| e.into_inner());
        let queues = p
            .queues
            .iter()
            .map(|(name, (dlq, series))| {
                let last = series.back().cloned().unwrap_or_default();
                QueueView {
                    name: name.clone(),
                    dlq: dlq.clone(),
                    sampled_at: last.at,
                    visible: last.visible,
                    in_flight: last.in_flight,
                    delayed: last.delayed,
                    oldest_age_seconds: last.oldest_age_seconds,
                    dlq_visible: last.dlq_visible,
                    paused: last.paused,
                    series: with_series.then(|| series_of(series)),
                }
            })
            .collect();
        Overview {
            queues,
            failures: p.failures.clone(),
            kept: KEPT,
            interval_seconds: 10,
        }
    }
}

/// What `GET /v1/admin/overview` answers (the route adds the alarms).
#[derive(Debug, Serialize)]
pub struct Overview {
    pub queues: Vec<QueueView>,
    pub failures: Vec<Value>,
    pub kept: usize,
    pub interval_seconds: u64,
}

#[derive(Debug, Serialize)]
pub struct QueueView {
    pub name: String,
    pub dlq: Option<String>,
    pub sampled_at: i64,
    pub visible: u64,
    pub in_flight: u64,
    pub delayed: u64,
    pub oldest_age_seconds: Option<u64>,
    pub dlq_visible: Option<u64>,
    pub paused: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub series: Option<Series>,
}

/// A queue's last hour, one entry per sample.
#[derive(Debug, Default, Serialize, PartialEq)]
pub struct Series {
    pub t: Vec<i64>,
    pub visible: Vec<u64>,
    pub dlq_visible: Vec<Option<u64>>,
    pub throughput: Vec<Option<f64>>,
    pub error_rate: Vec<Option<f64>>,
}

fn series_of(samples: &VecDeque<QueueSample>) -> Series {
    let mut out = Series::default();
    let mut before: Option<&QueueSample> = None;
    for s in samples {
        out.t.push(s.at);
        out.visible.push(s.visible);
        out.dlq_visible.push(s.dlq_visible);
        let (rate, errors) = match (before, s.processed, s.failed) {
            (Some(b), Some(done), Some(failed)) if s.at > b.at => {
                let done = done.saturating_sub(b.processed.unwrap_or(done));
                let failed = failed.saturating_sub(b.failed.unwrap_or(failed));
                let seconds = (s.at - b.at) as f64 / 1000.0;
                let attempts = done + failed;
                let rate = ((done as f64 / seconds) * 100.0).round() / 100.0;
                let errors = if attempts == 0 {
                    0.0
                } else {
                    ((failed as f64 * 100.0 / attempts as f64) * 10.0).round() / 10.0
                };
                (Some(rate), Some(errors))
            }
            _ => (None, None),
        };
        out.throughput.push(rate);
        out.error_rate.push(errors);
        before = Some(s);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64, processed: u64, failed: u64) -> QueueSample {
        QueueSample {
            at: seconds * 1000,
            visible: 5,
            processed: Some(processed),
            failed: Some(failed),
            ..Default::default()
        }
    }

    #[test]
    fn throughput_and_error_rate_come_from_the_counters_between_samples() {
        let s = Samples::default();
        s.record("jobs", Some("jobs-dlq"), at(0, 0, 0));
        s.record("jobs", Some("jobs-dlq"), at(10, 50, 0));
        s.record("jobs", Some("jobs-dlq"), at(20, 95, 5));
        let o = serde_json::to_value(s.overview(true)).unwrap();
        let series = &o["queues"][0]["series"];
        assert_eq!(series["throughput"], serde_json::json!([null, 5.0, 4.5]));
        assert_eq!(series["error_rate"], serde_json::json!([null, 0.0, 10.0]));
        assert_eq!(o["queues"][0]["dlq"], "jobs-dlq");
        let light = serde_json::to_value(s.overview(false)).unwrap();
        assert!(light["queues"][0].get("series").is_none());
    }

    #[test]
    fn an_hour_is_kept() {
        let s = Samples::default();
        for n in 0..400 {
            s.record("jobs", None, at(n * 10, 0, 0));
        }
        let o = s.overview(true);
        let t = &o.queues[0].series.as_ref().unwrap().t;
        assert_eq!(t.len(), KEPT);
        assert_eq!(t[0], 40 * 10_000);
    }
}
