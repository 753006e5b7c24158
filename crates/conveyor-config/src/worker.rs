//! How a queue's worker runs: `[queues.X.worker]`, per queue and per environment.

use serde::{Deserialize, Serialize};

use crate::{ConfigError, HandlerConfig, Span};

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct WorkerSpec {
    concurrency: Option<u64>,
    backoff: Option<BackoffSpec>,
    rate: Option<f64>,
    rate_key: Option<String>,
    key_concurrency: Option<u64>,
    processes: Option<u64>,
    batch: Option<BatchSpec>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
struct BatchSpec {
    max_messages: u64,
    max_wait: Span,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
struct BackoffSpec {
    initial: Span,
    max: Span,
}

/// Which part of a message its rate bucket and concurrency slot are keyed by.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RateKeySetting {
    /// `rate_key = "group"`: the message group id.
    Group,
    /// `rate_key = "/to"` (a JSON pointer into the body), or `"domain:/to"` for the part after `@`.
    Pointer { pointer: String, domain: bool },
}

/// The effective worker settings of one queue.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WorkerSettings {
    /// Messages handled at once by this process.
    pub concurrency: usize,
    /// Whether the file said `concurrency` (rather than taking the default).
    #[serde(skip)]
    pub concurrency_set: bool,
    /// The wait after a failure whose handler did not say when to retry: `backoff_initial`,
    /// doubling per receive up to `backoff_max`, with jitter.
    pub backoff_initial: Span,
    pub backoff_max: Span,
    /// Messages per second this process takes (`rate / processes` when `processes` is set),
    /// per key with `rate_key`.
    pub rate: Option<f64>,
    pub rate_key: Option<RateKeySetting>,
    /// At most this many messages of one key at once (needs `rate_key`).
    pub key_concurrency: Option<usize>,
    /// Batch mode: up to `max_messages` handed over at once, gathered for at most `max_wait`.
    pub batch: Option<BatchSettings>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct BatchSettings {
    pub max_messages: usize,
    pub max_wait: Span,
    /// Set by the analytics handler: the batch ends at this many bytes of bodies.
    pub max_bytes: Option<usize>,
}

fn rate_key(text: &str) -> Result<RateKeySetting, String> {
    if text == "group" {
        return Ok(RateKeySetting::Group);
    }
    let (domain, pointer) = match text.strip_prefix("domain:") {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    if pointer.starts_with('/') {
        return Ok(RateKeySetting::Pointer {
            pointer: pointer.to_string(),
            domain,
        });
    }
    Err(format!(
        "rate_key = {text:?}: use \"group\" (the message group), a JSON pointer into the body like \"/to\", or \"domain:/to\" (the part after @)"
    ))
}

const DEFAULT_CONCURRENCY: usize = 4;
const DEFAULT_BACKOFF: (u64, u64) = (10, 15 * 60);

/// The queue's worker table with the environment's over it, field by field.
pub(crate) fn resolve(
    env: &str,
    key: &str,
    base: &WorkerSpec,
    over: Option<&WorkerSpec>,
    visibility: Span,
) -> Result<WorkerSettings, ConfigError> {
    let concurrency_set = over.and_then(|o| o.concurrency).or(base.concurrency);
    let concurrency = concurrency_set.map_or(DEFAULT_CONCURRENCY, |c| c as usize);
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
    let pick = |f: fn(&WorkerSpec) -> Option<u64>| over.and_then(f).or(f(base));
    let processes = pick(|w| w.processes).unwrap_or(1);
    if processes == 0 {
        return Err(invalid("processes must be 1 or more".into()));
    }
    let rate = over.and_then(|o| o.rate).or(base.rate);
    if let Some(r) = rate {
        if !(r.is_finite() && r > 0.0 && r <= 1_000_000.0) {
            return Err(invalid(format!(
                "rate = {r} is out of range: messages per second, over 0 and at most 1000000"
            )));
        }
    }
    let key = over
        .and_then(|o| o.rate_key.clone())
        .or_else(|| base.rate_key.clone())
        .map(|k| rate_key(&k))
        .transpose()
        .map_err(invalid)?;
    let key_concurrency = pick(|w| w.key_concurrency).map(|n| n as usize);
    if key_concurrency.is_some() && key.is_none() {
        return Err(invalid(
            "key_concurrency needs a rate_key to say what a key is".into(),
        ));
    }
    if key_concurrency == Some(0) {
        return Err(invalid("key_concurrency must be 1 or more".into()));
    }
    let batch = over.and_then(|o| o.batch).or(base.batch);
    if batch.is_some() && key_concurrency.is_some() {
        return Err(invalid(
            "key_concurrency applies to messages handled one at a time; a batch takes many keys at once: remove one of batch and key_concurrency".into(),
        ));
    }
    if let Some(b) = batch {
        if !(1..=10_000).contains(&b.max_messages) {
            return Err(invalid(format!(
                "batch.max_messages = {} is out of range: use 1 to 10000",
                b.max_messages
            )));
        }
        // The batch is kept in flight while it gathers; half the visibility timeout leaves
        // the other half for the handler's first extension.
        if b.max_wait.0 * 2 >= visibility.0 {
            return Err(invalid(format!(
                "batch.max_wait = {} must be below half the queue's visibility timeout ({visibility})",
                b.max_wait
            )));
        }
    }
    Ok(WorkerSettings {
        batch: batch.map(|b| BatchSettings {
            max_messages: b.max_messages as usize,
            max_wait: b.max_wait,
            max_bytes: None,
        }),
        concurrency,
        concurrency_set: concurrency_set.is_some(),
        backoff_initial: initial,
        backoff_max: max,
        rate: rate.map(|r| r / processes as f64),
        rate_key: key,
        key_concurrency,
    })
}

/// A function's batches and concurrency are its own settings, as on Lambda's event source
/// mapping: `batch_size` and `batching_window` make the worker's batches, `maximum_concurrency`
/// its concurrency. Saying the same thing in `[queues.X.worker]` too is refused, not merged.
pub(crate) fn for_function(
    env: &str,
    key: &str,
    mut worker: WorkerSettings,
    handler: &HandlerConfig,
    visibility: Span,
) -> Result<WorkerSettings, ConfigError> {
    let HandlerConfig::Function(f) = handler else {
        return Ok(worker);
    };
    let invalid =
        |what: String| ConfigError::Invalid(format!("queues.{key}.worker ({env}): {what}"));
    if worker.batch.is_some() {
        return Err(invalid("batch is set, but a function's batches come from its batch_size and batching_window: remove worker.batch".into()));
    }
    if worker.key_concurrency.is_some() {
        return Err(invalid("key_concurrency does not apply to a function, which takes whole batches; use the function's maximum_concurrency".into()));
    }
    if !f.batching_window.0.is_zero() {
        below_half_visibility(env, key, "batching_window", f.batching_window, visibility)?;
    }
    worker.batch = Some(BatchSettings {
        max_messages: f.batch_size as usize,
        max_wait: f.batching_window,
        max_bytes: None,
    });
    if let Some(n) = f.maximum_concurrency {
        if worker.concurrency_set && worker.concurrency != n as usize {
            return Err(invalid(format!(
                "concurrency = {} disagrees with the function's maximum_concurrency = {n}: set one of them",
                worker.concurrency
            )));
        }
        worker.concurrency = n as usize;
    }
    Ok(worker)
}

/// The analytics handler's buffer is the worker's batch: up to 10,000 messages, flushed at
/// `max_bytes` of bodies or `max_age` after the first arrived. Setting `[queues.X.worker]
/// batch` as well is refused.
pub(crate) fn for_analytics(
    env: &str,
    key: &str,
    mut worker: WorkerSettings,
    handler: &HandlerConfig,
    visibility: Span,
) -> Result<WorkerSettings, ConfigError> {
    let HandlerConfig::Analytics(a) = handler else {
        return Ok(worker);
    };
    if worker.batch.is_some() {
        return Err(ConfigError::Invalid(format!(
            "queues.{key}.worker ({env}): batch is set, but the analytics handler's buffer is its max_bytes and max_age: remove worker.batch"
        )));
    }
    below_half_visibility(env, key, "max_age", a.max_age, visibility)?;
    worker.batch = Some(BatchSettings {
        max_messages: 10_000,
        max_wait: a.max_age,
        max_bytes: Some(a.max_bytes as usize),
    });
    Ok(worker)
}

/// A handler's gathering time (a function's batching window, the analytics buffer's age) keeps
/// its messages in flight: it must stay below half the visibility timeout.
fn below_half_visibility(
    env: &str,
    key: &str,
    setting: &str,
    gathering: Span,
    visibility: Span,
) -> Result<(), ConfigError> {
    if gathering.0 * 2 >= visibility.0 {
        return Err(ConfigError::Invalid(format!(
            "queues.{key}.handler ({env}): {setting} = {gathering} must be below half the queue's visibility timeout ({visibility}), which keeps the gathered messages in flight"
        )));
    }
    Ok(())
}
