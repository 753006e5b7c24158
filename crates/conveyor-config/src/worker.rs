//! How a queue's worker runs: `[queues.X.worker]`, per queue and per environment.

use serde::{Deserialize, Serialize};

use crate::{ConfigError, Span};

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct WorkerSpec {
    concurrency: Option<u64>,
    backoff: Option<BackoffSpec>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
struct BackoffSpec {
    initial: Span,
    max: Span,
}

/// The effective worker settings of one queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct WorkerSettings {
    /// Messages handled at once by this process.
    pub concurrency: usize,
    /// The wait after a failure whose handler did not say when to retry: `backoff_initial`,
    /// doubling per receive up to `backoff_max`, with jitter.
    pub backoff_initial: Span,
    pub backoff_max: Span,
}

const DEFAULT_CONCURRENCY: usize = 4;
const DEFAULT_BACKOFF: (u64, u64) = (10, 15 * 60);

/// The queue's worker table with the environment's over it, field by field.
pub(crate) fn resolve(
    env: &str,
    key: &str,
    base: &WorkerSpec,
    over: Option<&WorkerSpec>,
) -> Result<WorkerSettings, ConfigError> {
    let concurrency = over
        .and_then(|o| o.concurrency)
        .or(base.concurrency)
        .map_or(DEFAULT_CONCURRENCY, |c| c as usize);
    let backoff = over.and_then(|o| o.backoff).or(base.backoff);
    let (initial, max) = backoff.map_or(
        (
            Span(std::time::Duration::from_secs(DEFAULT_BACKOFF.0)),
            Span(std::time::Duration::from_secs(DEFAULT_BACKOFF.1)),
        ),
        |b| (b.initial, b.max),
    );
    let invalid =
        |what: String| ConfigError::Invalid(format!("queues.{key}.worker ({env}): {what}"));
    if !(1..=1000).contains(&concurrency) {
        return Err(invalid(format!(
            "concurrency = {concurrency} is out of range: use 1 to 1000"
        )));
    }
    if initial.0.is_zero() || initial > max || max.seconds() > 43_200 {
        return Err(invalid(format!(
            "backoff = {{ initial = \"{initial}\", max = \"{max}\" }}: initial must be over 0s and at most max, and max at most 12h (SQS's longest visibility)"
        )));
    }
    Ok(WorkerSettings {
        concurrency,
        backoff_initial: initial,
        backoff_max: max,
    })
}
