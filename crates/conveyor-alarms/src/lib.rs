//! Alarms with Amazon CloudWatch's semantics, evaluated in process so the embedded default
//! alarms like AWS does: a metric sampled into one datapoint per period, M of the last N
//! datapoints over the threshold (not necessarily consecutive), the four missing-data
//! treatments, the states OK / ALARM / INSUFFICIENT_DATA, and when a state change is told.
//! Pure and synchronous: the caller samples the metrics and delivers the messages.

mod evaluate;
mod tracker;

pub use evaluate::{AlarmState, Evaluation, TreatMissing};
pub use tracker::{Tracker, Transition};
