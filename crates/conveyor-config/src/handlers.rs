//! What a queue's worker does with each message: `handler = "log"` (a kind alone) or a table,
//! `handler = { kind = "http", url = "https://…", timeout = "5s" }`. Each kind has its own typed
//! settings and every table refuses keys it does not know, so a misspelt `timout` is an error,
//! not a silently ignored line. Adding a handler is a variant here, a module in
//! `conveyor-handlers` and one arm of its `build` match.

use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

pub use crate::services::{
    AnalyticsColumn, AnalyticsColumnType, AnalyticsConfig, DiscordConfig, EmailConfig,
    EmailTemplate, EmailTransport, SlackConfig, SmtpSecurity, TestflightConfig, ZendeskConfig,
};
use crate::Span;

/// A queue's handler and its settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum HandlerConfig {
    // Empty struct variants, not unit ones: serde checks unknown keys only on struct variants.
    /// Record the message (its result object holds it).
    Log {},
    /// Always fail, to exercise retries and the dead-letter queue.
    Fail {},
    /// POST the message to `url`.
    Http(HttpConfig),
    /// Named steps run in order; each step's output is checkpointed before the next, so a
    /// message delivered again resumes after its last finished step.
    Steps(StepsConfig),
    /// A program or URL run once per batch with the event AWS Lambda passes for SQS.
    Function(FunctionConfig),
    /// Open a Zendesk ticket per message (at most one: found again by its external id).
    Zendesk(ZendeskConfig),
    /// Post the message to a Discord webhook.
    Discord(DiscordConfig),
    /// Post the message to a Slack-compatible webhook.
    Slack(SlackConfig),
    /// Send an e-mail per message (SMTP or SendGrid).
    Email(EmailConfig),
    /// Invite a TestFlight beta tester (App Store Connect API).
    Testflight(TestflightConfig),
    /// Batch analytics events into Parquet under Athena partitions.
    Analytics(AnalyticsConfig),
}

impl HandlerConfig {
    /// The kind, as written in the configuration and in result records.
    pub fn kind(&self) -> &'static str {
        match self {
            HandlerConfig::Log {} => "log",
            HandlerConfig::Fail {} => "fail",
            HandlerConfig::Http(_) => "http",
            HandlerConfig::Steps(_) => "steps",
            HandlerConfig::Function(_) => "function",
            HandlerConfig::Zendesk(_) => "zendesk",
            HandlerConfig::Discord(_) => "discord",
            HandlerConfig::Slack(_) => "slack",
            HandlerConfig::Email(_) => "email",
            HandlerConfig::Testflight(_) => "testflight",
            HandlerConfig::Analytics(_) => "analytics",
        }
    }

    /// The secrets this handler names, with the kind that needs each (steps included).
    pub fn secrets(&self) -> Vec<(&'static str, &str)> {
        match self {
            HandlerConfig::Log {}
            | HandlerConfig::Fail {}
            | HandlerConfig::Function(_)
            | HandlerConfig::Analytics(_) => Vec::new(),
            HandlerConfig::Http(h) => h
                .signing_secret
                .iter()
                .map(|s| ("http", s.as_str()))
                .collect(),
            HandlerConfig::Zendesk(z) => vec![("zendesk", z.token_secret.as_str())],
            HandlerConfig::Discord(d) => vec![("discord", d.webhook_secret.as_str())],
            HandlerConfig::Slack(s) => vec![("slack", s.webhook_secret.as_str())],
            HandlerConfig::Email(e) => e.secrets().into_iter().map(|s| ("email", s)).collect(),
            HandlerConfig::Testflight(t) => vec![("testflight", t.key_secret.as_str())],
            HandlerConfig::Steps(s) => s
                .steps
                .iter()
                .flat_map(|step| step.handler.0.secrets())
                .collect(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    /// `http://…` or `https://…`.
    pub url: String,
    /// How long one call may take before it counts as failed.
    #[serde(default = "default_http_timeout")]
    pub timeout: Span,
    /// Sent with every call (not secrets: those go in `signing_secret`).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub headers: std::collections::BTreeMap<String, String>,
    /// Sign each call with HMAC-SHA256 under this secret:
    /// `X-Conveyor-Signature: t=<unix seconds>,v1=<hex of HMAC("<t>.<body>")>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signing_secret: Option<String>,
    /// Statuses to retry besides 408, 429 and 5xx (e.g. 409 or 423 from a busy endpoint).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub retry_statuses: Vec<u16>,
}

impl HttpConfig {
    /// A plain POST to `url`: no extra headers, no signature.
    pub fn to(url: impl Into<String>, timeout: Span) -> Self {
        HttpConfig {
            url: url.into(),
            timeout,
            headers: Default::default(),
            signing_secret: None,
            retry_statuses: Vec::new(),
        }
    }

    pub(crate) fn check(&self) -> Result<(), String> {
        if !(self.url.starts_with("http://") || self.url.starts_with("https://")) {
            return Err(format!(
                "url = {:?}: the http handler needs http://… or https://…",
                self.url
            ));
        }
        if let Some(s) = &self.signing_secret {
            crate::services::check_secret_name("signing_secret", s)?;
        }
        for name in self.headers.keys() {
            if name.is_empty()
                || !name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            {
                return Err(format!("headers: {name:?} is not a header name"));
            }
        }
        if let Some(s) = self
            .retry_statuses
            .iter()
            .find(|s| !(400..=599).contains(*s))
        {
            return Err(format!(
                "retry_statuses: {s} is not an error status (400 to 599)"
            ));
        }
        Ok(())
    }
}

fn default_http_timeout() -> Span {
    Span(std::time::Duration::from_secs(10))
}

/// `kind = "function"`: the AWS Lambda SQS contract. Exactly one of `command` (a process per
/// batch: the event on stdin, the answer on stdout) and `url` (the event POSTed there).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FunctionConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The function's name in its environment (`AWS_LAMBDA_FUNCTION_NAME`) and in logs;
    /// the queue's key when not given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// How long one invocation may run before it is killed and its batch retried.
    #[serde(default = "default_function_timeout")]
    pub timeout: Span,
    /// Records per invocation: 1 to 10 on FIFO queues, up to 10000 on standard ones.
    #[serde(default = "default_batch_size")]
    pub batch_size: u64,
    /// How long to gather a batch (standard queues only; 0 to 300 s, at least 1 s when
    /// `batch_size` is over 10, as Lambda requires).
    #[serde(default = "zero_span")]
    pub batching_window: Span,
    /// Invocations at once (2 to 1000); it sets the worker's concurrency.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maximum_concurrency: Option<u64>,
    /// The function answers `{"batchItemFailures":[{"itemIdentifier":"<messageId>"}]}` and
    /// only those messages are retried.
    #[serde(default)]
    pub report_batch_item_failures: bool,
    /// Lambda filter patterns: a message matching none is deleted without running the function.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub filter: Vec<crate::FilterPattern>,
    /// Variables for the command (it gets no others but `PATH`, `HOME`, `LANG` and Lambda's own).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub environment: std::collections::BTreeMap<String, String>,
}

fn default_function_timeout() -> Span {
    Span(std::time::Duration::from_secs(60))
}

fn default_batch_size() -> u64 {
    10
}

fn zero_span() -> Span {
    Span(std::time::Duration::ZERO)
}

/// The most filter patterns a function takes (Lambda's raised quota).
const MAX_FILTERS: usize = 10;

impl FunctionConfig {
    /// Lambda's own rules for an SQS event source mapping, on a FIFO queue or a standard one.
    pub(crate) fn check(&self, fifo: bool) -> Result<(), String> {
        match (&self.command, &self.url) {
            (Some(c), None) if c.is_empty() || c[0].is_empty() => {
                return Err("command is empty: give the program and its arguments, e.g. [\"python3\", \"fn.py\"]".into())
            }
            (Some(_), None) => {}
            (None, Some(u)) if !(u.starts_with("http://") || u.starts_with("https://")) => {
                return Err(format!("url = {u:?}: use http://… or https://…"))
            }
            (None, Some(_)) => {}
            _ => return Err("give exactly one of command = [\"program\", …] and url = \"http://…\"".into()),
        }
        if self.timeout.0.is_zero() || self.timeout.seconds() > 900 {
            return Err(format!(
                "timeout = {} is out of range: use 1s to 15m, as Lambda does",
                self.timeout
            ));
        }
        let most = if fifo { 10 } else { 10_000 };
        if !(1..=most).contains(&self.batch_size) {
            return Err(format!(
                "batch_size = {} is out of range: use 1 to {most} on a {} queue",
                self.batch_size,
                if fifo { "FIFO" } else { "standard" }
            ));
        }
        if self.batching_window.seconds() > 300 {
            return Err(format!(
                "batching_window = {} is over Lambda's 300s",
                self.batching_window
            ));
        }
        if fifo && !self.batching_window.0.is_zero() {
            return Err("batching_window is for standard queues; a FIFO queue's function takes what one receive brings".into());
        }
        if self.batch_size > 10 && self.batching_window.0 < std::time::Duration::from_secs(1) {
            return Err(format!(
                "batch_size = {} needs batching_window of at least 1s, as Lambda requires for batches over 10",
                self.batch_size
            ));
        }
        if let Some(n) = self.maximum_concurrency {
            if !(2..=1000).contains(&n) {
                return Err(format!(
                    "maximum_concurrency = {n} is out of range: use 2 to 1000, as Lambda does"
                ));
            }
        }
        if self.filter.len() > MAX_FILTERS {
            return Err(format!(
                "filter has {} patterns; at most {MAX_FILTERS}",
                self.filter.len()
            ));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepsConfig {
    pub steps: Vec<StepConfig>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepConfig {
    /// Names the step in checkpoints and in the result's output (`ticket`, `confirm`).
    pub name: String,
    #[serde(serialize_with = "inner_config")]
    pub handler: HandlerSpec,
}

fn inner_config<S: serde::Serializer>(spec: &HandlerSpec, s: S) -> Result<S::Ok, S::Error> {
    spec.0.serialize(s)
}

impl StepsConfig {
    /// Steps need distinct plain names, and cannot nest.
    pub(crate) fn check(&self) -> Result<(), String> {
        if self.steps.is_empty() {
            return Err("steps is empty: list at least one { name, handler }".into());
        }
        let mut seen = std::collections::BTreeSet::new();
        for step in &self.steps {
            let plain = !step.name.is_empty()
                && step.name.len() <= 64
                && step.name.bytes().all(|b| {
                    b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-'
                });
            if !plain {
                return Err(format!(
                    "step name {:?} is invalid: use 1 to 64 lowercase letters, digits, _ and -",
                    step.name
                ));
            }
            if !seen.insert(step.name.as_str()) {
                return Err(format!("two steps are named {:?}", step.name));
            }
            if matches!(step.handler.0, HandlerConfig::Steps(_)) {
                return Err(format!(
                    "step {:?} is itself a list of steps; list its steps here instead",
                    step.name
                ));
            }
        }
        Ok(())
    }
}

/// `handler = "kind"` or `handler = { kind = "…", … }`, as the file writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandlerSpec(pub HandlerConfig);

impl Default for HandlerSpec {
    fn default() -> Self {
        HandlerSpec(HandlerConfig::Log {})
    }
}

impl<'de> Deserialize<'de> for HandlerSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Spec;
        impl<'de> Visitor<'de> for Spec {
            type Value = HandlerSpec;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str(r#"a handler kind ("log") or a table with a kind ({ kind = "http", url = "…" })"#)
            }

            fn visit_str<E: de::Error>(self, kind: &str) -> Result<HandlerSpec, E> {
                let table = std::iter::once(("kind", kind));
                HandlerConfig::deserialize(de::value::MapDeserializer::new(table)).map(HandlerSpec)
            }

            fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<HandlerSpec, M::Error> {
                let mut table = toml::Table::new();
                while let Some((key, value)) = map.next_entry::<String, toml::Value>()? {
                    table.insert(key, value);
                }
                from_table(table)
                    .map(HandlerSpec)
                    .map_err(de::Error::custom)
            }
        }
        d.deserialize_any(Spec)
    }
}

/// A handler table's settings, read by kind. serde reads a tagged enum through a buffer that
/// forgets which key held a value of the wrong type, so when one is refused for that, the key
/// is found by reading the table again without each key in turn: the one whose absence
/// changes the complaint is the one to blame.
fn from_table(table: toml::Table) -> Result<HandlerConfig, String> {
    let read = |t: &toml::Table| {
        toml::Value::Table(t.clone())
            .try_into::<HandlerConfig>()
            .map_err(|e| e.message().to_string())
    };
    let complaint = match read(&table) {
        Ok(config) => return Ok(config),
        Err(complaint) => complaint,
    };
    if complaint.contains("unknown field") || complaint.contains("unknown variant") {
        return Err(complaint);
    }
    for key in table.keys().filter(|k| k.as_str() != "kind") {
        let mut without = table.clone();
        without.remove(key);
        if read(&without).err().as_ref() != Some(&complaint) {
            return Err(format!("{key}: {complaint}"));
        }
    }
    Err(complaint)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Queue {
        handler: HandlerSpec,
    }

    fn parse(text: &str) -> Result<HandlerConfig, String> {
        toml::from_str::<Queue>(text)
            .map(|q| q.handler.0)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn a_kind_alone_or_a_table() {
        assert_eq!(parse(r#"handler = "log""#).unwrap(), HandlerConfig::Log {});
        assert_eq!(
            parse(r#"handler = { kind = "fail" }"#).unwrap(),
            HandlerConfig::Fail {}
        );
        assert_eq!(
            parse(r#"handler = { kind = "http", url = "http://h/x", timeout = "2s" }"#).unwrap(),
            HandlerConfig::Http(HttpConfig::to(
                "http://h/x",
                Span(std::time::Duration::from_secs(2))
            ))
        );
    }

    #[test]
    fn unknown_keys_kinds_and_types_are_refused_by_name() {
        let e =
            parse(r#"handler = { kind = "http", url = "http://h", timout = "1s" }"#).unwrap_err();
        assert!(e.contains("timout"), "{e}");
        let e = parse(r#"handler = { kind = "log", url = "http://h" }"#).unwrap_err();
        assert!(e.contains("url"), "{e}");
        let e = parse(r#"handler = "zendesk-typo""#).unwrap_err();
        assert!(e.contains("zendesk-typo") && e.contains("log"), "{e}");
        let e =
            parse(r#"handler = { kind = "http", url = "http://h", timeout = true }"#).unwrap_err();
        assert!(e.contains("timeout") || e.contains("duration"), "{e}");
        let e = parse(r#"handler = "http""#).unwrap_err();
        assert!(e.contains("url"), "{e}");
    }

    #[test]
    fn steps_name_their_handlers() {
        let steps = parse(
            r#"handler = { kind = "steps", steps = [
                { name = "ticket", handler = { kind = "http", url = "http://h/t" } },
                { name = "confirm", handler = "log" },
            ] }"#,
        )
        .unwrap();
        let HandlerConfig::Steps(s) = steps else {
            panic!("{steps:?}")
        };
        assert_eq!(s.steps.len(), 2);
        assert_eq!(s.steps[1].handler.0, HandlerConfig::Log {});
        assert!(s.check().is_ok());
        let e = parse(
            r#"handler = { kind = "steps", steps = [{ name = "a", handler = "log", retry = 1 }] }"#,
        )
        .unwrap_err();
        assert!(e.contains("retry"), "{e}");
        let twice = StepsConfig {
            steps: vec![s.steps[1].clone(), s.steps[1].clone()],
        };
        assert!(twice.check().unwrap_err().contains("two steps"));
    }
}
