//! Alarms: `[queues.X.alarms]` (per environment under `[environments.E.queues.X.alarms]`, a
//! rule there replacing the queue's rule of the same metric) and where they are told,
//! `[environments.E.alarms]`. The numbers mean what CloudWatch's do: a datapoint per `period`,
//! ALARM when `datapoints_to_alarm` of the last `evaluation_periods` are over `threshold`.

use serde::{Deserialize, Serialize};

use crate::{ConfigError, Span};

/// What an alarm watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AlarmMetric {
    /// Visible messages (`ApproximateNumberOfMessagesVisible`).
    Depth,
    /// Age of the oldest message, seconds (`ApproximateAgeOfOldestMessage`; the embedded engine
    /// knows it, SQS's `GetQueueAttributes` does not, so there it stays INSUFFICIENT_DATA).
    OldestAge,
    /// Visible messages in the dead-letter queue.
    DlqDepth,
    /// Failed handler attempts as a percentage of attempts, in this process.
    ErrorRate,
}

impl AlarmMetric {
    pub fn as_str(self) -> &'static str {
        match self {
            AlarmMetric::Depth => "depth",
            AlarmMetric::OldestAge => "oldest_age",
            AlarmMetric::DlqDepth => "dlq_depth",
            AlarmMetric::ErrorRate => "error_rate",
        }
    }
}

/// `treat_missing_data`, CloudWatch's four.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MissingData {
    #[default]
    Missing,
    Ignore,
    Breaching,
    NotBreaching,
}

/// One alarm rule of a queue, resolved.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlarmRule {
    pub metric: AlarmMetric,
    /// Over this is breaching (messages, seconds, or percent).
    pub threshold: f64,
    pub period: Span,
    pub evaluation_periods: u32,
    pub datapoints_to_alarm: u32,
    pub treat_missing_data: MissingData,
}

/// Where and how often alarms are told, per environment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlarmSettings {
    /// Evaluate the rules in this process (`serve`, `api`); off where CloudWatch alarms
    /// (rendered by infra/) are the ones that page.
    pub in_process: bool,
    /// At most one message per alarm this often.
    pub min_interval: Span,
    /// The secret holding the Discord webhook URL alarms are posted to, if any.
    pub discord_webhook_secret: Option<String>,
    /// The secret holding a Slack-compatible webhook URL, if any.
    pub slack_webhook_secret: Option<String>,
    /// A URL each change is POSTed to as JSON, signed with `webhook_signing_secret`.
    pub webhook_url: Option<String>,
    pub webhook_signing_secret: Option<String>,
    /// An SNS topic each change is published to (AWS's own alarm channel).
    pub sns_topic_arn: Option<String>,
    /// Where SNS is, when not `https://sns.{topic's region}.amazonaws.com` (moto, LocalStack).
    pub sns_endpoint: Option<String>,
}

impl AlarmSettings {
    /// The secrets the channels name, with the channel that needs each.
    pub fn secrets(&self) -> Vec<(&'static str, &str)> {
        [
            ("Discord", &self.discord_webhook_secret),
            ("Slack", &self.slack_webhook_secret),
            ("the webhook", &self.webhook_signing_secret),
        ]
        .into_iter()
        .filter_map(|(channel, name)| name.as_deref().map(|n| (channel, n)))
        .collect()
    }

    /// Whether any channel is configured.
    pub fn tells_anyone(&self) -> bool {
        self.discord_webhook_secret.is_some()
            || self.slack_webhook_secret.is_some()
            || self.webhook_url.is_some()
            || self.sns_topic_arn.is_some()
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AlarmsSpec {
    depth: Option<RuleSpec>,
    oldest_age: Option<RuleSpec>,
    dlq_depth: Option<RuleSpec>,
    error_rate: Option<RuleSpec>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleSpec {
    /// A number (messages, percent), or for `oldest_age` a duration (`"15m"`).
    threshold: toml::Value,
    period: Option<Span>,
    evaluation_periods: Option<u32>,
    datapoints_to_alarm: Option<u32>,
    #[serde(default)]
    treat_missing_data: MissingData,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AlarmSettingsSpec {
    #[serde(default = "yes")]
    in_process: bool,
    #[serde(default = "default_min_interval")]
    min_interval: Span,
    #[serde(default)]
    discord_webhook_secret: Option<String>,
    #[serde(default)]
    slack_webhook_secret: Option<String>,
    #[serde(default)]
    webhook_url: Option<String>,
    #[serde(default)]
    webhook_signing_secret: Option<String>,
    #[serde(default)]
    sns_topic_arn: Option<String>,
    #[serde(default)]
    sns_endpoint: Option<String>,
}

impl Default for AlarmSettingsSpec {
    fn default() -> Self {
        AlarmSettingsSpec {
            in_process: true,
            min_interval: default_min_interval(),
            discord_webhook_secret: None,
            slack_webhook_secret: None,
            webhook_url: None,
            webhook_signing_secret: None,
            sns_topic_arn: None,
            sns_endpoint: None,
        }
    }
}

fn yes() -> bool {
    true
}

fn default_min_interval() -> Span {
    Span(std::time::Duration::from_secs(300))
}

/// The rules of queue `key` in `env`: the queue's, each replaced by the environment's rule of
/// the same metric.
pub(crate) fn resolve_rules(
    env: &str,
    key: &str,
    base: &AlarmsSpec,
    overrides: Option<&AlarmsSpec>,
) -> Result<Vec<AlarmRule>, ConfigError> {
    let pick = |metric: AlarmMetric, of: fn(&AlarmsSpec) -> &Option<RuleSpec>| {
        overrides
            .and_then(|o| of(o).clone())
            .or_else(|| of(base).clone())
            .map(|r| (metric, r))
    };
    let chosen = [
        pick(AlarmMetric::Depth, |s| &s.depth),
        pick(AlarmMetric::OldestAge, |s| &s.oldest_age),
        pick(AlarmMetric::DlqDepth, |s| &s.dlq_depth),
        pick(AlarmMetric::ErrorRate, |s| &s.error_rate),
    ];
    chosen
        .into_iter()
        .flatten()
        .map(|(metric, spec)| rule(env, key, metric, spec))
        .collect()
}

fn rule(
    env: &str,
    key: &str,
    metric: AlarmMetric,
    spec: RuleSpec,
) -> Result<AlarmRule, ConfigError> {
    let at = format!(
        "environments.{env}: queues.{key}.alarms.{}",
        metric.as_str()
    );
    let invalid = |what: String| ConfigError::Invalid(format!("{at}: {what}"));
    let threshold = match (&spec.threshold, metric) {
        (toml::Value::String(text), AlarmMetric::OldestAge) => Span::parse(text)
            .map(|s| s.0.as_secs_f64())
            .map_err(|e| invalid(format!("threshold {text:?}: {e}")))?,
        (toml::Value::Integer(n), _) => *n as f64,
        (toml::Value::Float(x), _) => *x,
        (other, AlarmMetric::OldestAge) => {
            return Err(invalid(format!(
                "threshold takes a duration like \"15m\" (or seconds), not {other}"
            )))
        }
        (other, _) => return Err(invalid(format!("threshold takes a number, not {other}"))),
    };
    if !threshold.is_finite() || threshold < 0.0 {
        return Err(invalid(format!("threshold {threshold} must be 0 or more")));
    }
    if metric == AlarmMetric::ErrorRate && threshold >= 100.0 {
        return Err(invalid(format!(
            "threshold {threshold} is a percentage of failed attempts: use less than 100"
        )));
    }
    let period = spec
        .period
        .unwrap_or(Span(std::time::Duration::from_secs(60)));
    if period.0 < std::time::Duration::from_secs(10) {
        return Err(invalid(format!(
            "period {period} is shorter than the 10 s the metrics are sampled at"
        )));
    }
    let n = spec.evaluation_periods.unwrap_or(1);
    let m = spec.datapoints_to_alarm.unwrap_or(n);
    if n == 0 || m == 0 || m > n {
        return Err(invalid(format!(
            "datapoints_to_alarm {m} of evaluation_periods {n}: both at least 1, and no more datapoints than periods"
        )));
    }
    // CloudWatch: evaluation periods times the period cannot pass one day.
    if period.0 * n > std::time::Duration::from_secs(86_400) {
        return Err(invalid(format!(
            "{n} periods of {period} pass one day, CloudWatch's limit; use fewer or shorter periods"
        )));
    }
    Ok(AlarmRule {
        metric,
        threshold,
        period,
        evaluation_periods: n,
        datapoints_to_alarm: m,
        treat_missing_data: spec.treat_missing_data,
    })
}

pub(crate) fn resolve_settings(
    env: &str,
    spec: &AlarmSettingsSpec,
) -> Result<AlarmSettings, ConfigError> {
    let invalid = |key: &str, what: String| {
        ConfigError::Invalid(format!("environments.{env}.alarms.{key}: {what}"))
    };
    for (key, name) in [
        ("discord_webhook_secret", &spec.discord_webhook_secret),
        ("slack_webhook_secret", &spec.slack_webhook_secret),
        ("webhook_signing_secret", &spec.webhook_signing_secret),
    ] {
        if let Some(name) = name {
            if !crate::valid_secret_name(name) {
                return Err(invalid(
                    key,
                    format!("{name:?}: a secret's name is lowercase letters, digits and _"),
                ));
            }
        }
    }
    for (key, url) in [
        ("webhook_url", &spec.webhook_url),
        ("sns_endpoint", &spec.sns_endpoint),
    ] {
        if let Some(url) = url {
            if !(url.starts_with("https://") || url.starts_with("http://")) {
                return Err(invalid(key, format!("{url:?} is not an http(s) URL")));
            }
        }
    }
    match (&spec.webhook_url, &spec.webhook_signing_secret) {
        (Some(_), None) => {
            return Err(invalid(
                "webhook_url",
                "an alarm webhook is signed so its receiver can refuse forgeries: name the secret holding the key in webhook_signing_secret".into(),
            ))
        }
        (None, Some(_)) => {
            return Err(invalid(
                "webhook_signing_secret",
                "signs the posts to webhook_url, which is not set".into(),
            ))
        }
        _ => {}
    }
    if let Some(arn) = &spec.sns_topic_arn {
        if sns_topic_region(arn).is_none() {
            return Err(invalid(
                "sns_topic_arn",
                format!("{arn:?} is not a topic ARN (arn:aws:sns:REGION:ACCOUNT:NAME)"),
            ));
        }
    }
    if spec.sns_endpoint.is_some() && spec.sns_topic_arn.is_none() {
        return Err(invalid(
            "sns_endpoint",
            "says where SNS is for sns_topic_arn, which is not set".into(),
        ));
    }
    Ok(AlarmSettings {
        in_process: spec.in_process,
        min_interval: spec.min_interval,
        discord_webhook_secret: spec.discord_webhook_secret.clone(),
        slack_webhook_secret: spec.slack_webhook_secret.clone(),
        webhook_url: spec.webhook_url.clone(),
        webhook_signing_secret: spec.webhook_signing_secret.clone(),
        sns_topic_arn: spec.sns_topic_arn.clone(),
        sns_endpoint: spec.sns_endpoint.clone(),
    })
}

/// The region of an SNS topic ARN, `None` when it is not one.
pub fn sns_topic_region(arn: &str) -> Option<&str> {
    let parts: Vec<&str> = arn.split(':').collect();
    match parts.as_slice() {
        ["arn", partition, "sns", region, account, name]
            if partition.starts_with("aws")
                && !region.is_empty()
                && account.len() == 12
                && account.bytes().all(|b| b.is_ascii_digit())
                && !name.is_empty() =>
        {
            Some(region)
        }
        _ => None,
    }
}
