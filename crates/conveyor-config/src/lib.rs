//! Conveyor's settings: typed, layered, per environment.
//!
//! Layers, later ones win: the built-in configuration (`config/conveyor.toml`, the seeds' MHT
//! queues) or the file given instead of it, then `CONVEYOR_` environment variables. One file
//! describes every environment (`local`, `staging`, `production`, …); `environment` picks the one
//! this process runs as. Loading checks every environment, not only the chosen one, and refuses a
//! file in which two environments would share a queue, a bucket, a data directory or a credential.
//!
//! This crate reads configuration and does no other I/O.

mod alarms;
mod backend;
mod connections;
mod duration;
mod files;
mod filter;
mod handlers;
mod s3;
mod secret;
mod services;
mod sqs;
mod worker;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use alarms::{sns_topic_region, AlarmMetric, AlarmRule, AlarmSettings, MissingData};
pub use backend::{BackendSettings, QueueBackend, StoreBackend};
pub use connections::ConnectionSettings;
pub use duration::Span;
pub use files::FilesSettings;
pub use filter::FilterPattern;
pub use handlers::{
    AnalyticsColumn, AnalyticsColumnType, AnalyticsConfig, DiscordConfig, EmailConfig,
    EmailTemplate, EmailTransport, FunctionConfig, HandlerConfig, HandlerSpec, HttpConfig,
    SlackConfig, SmtpSecurity, StepConfig, StepsConfig, TestflightConfig, ZendeskConfig,
};
pub use s3::{S3Settings, DEFAULT_S3_LISTEN};
pub use secret::Secret;
pub use services::check_template;
pub use sqs::{AccessKey, SqsSettings, DEFAULT_SQS_LISTEN};
pub use worker::{BatchSettings, RateKeySetting, WorkerSettings};

/// The built-in configuration: what `conveyor serve` runs with no flags.
pub const BUILT_IN: &str = include_str!("../../../config/conveyor.toml");

/// Why a configuration was refused; each names the setting and the fix.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the configuration file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{origin} is not valid configuration: {detail}")]
    Parse { origin: String, detail: String },
    #[error("the environment variable {name} cannot be applied: {detail}")]
    Variable { name: String, detail: String },
    #[error("{0}")]
    Invalid(String),
    #[error(
        "environments {first} and {second} share {what} {value}; give each environment its own"
    )]
    Shared {
        first: String,
        second: String,
        what: &'static str,
        value: String,
    },
}

// ---- the file, as written ---------------------------------------------------------------

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    instance: String,
    use_case: String,
    environment: String,
    #[serde(default)]
    queues: BTreeMap<String, QueueSpec>,
    #[serde(default)]
    environments: BTreeMap<String, EnvironmentSpec>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct QueueSpec {
    #[serde(default)]
    fifo: bool,
    #[serde(default = "default_retention")]
    retention: Span,
    #[serde(default = "default_visibility")]
    visibility: Span,
    #[serde(default = "zero")]
    delay: Span,
    #[serde(default = "default_max_receive_count")]
    max_receive_count: u32,
    #[serde(default = "default_dlq_retention")]
    dlq_retention: Span,
    #[serde(default)]
    handler: HandlerSpec,
    #[serde(default)]
    worker: worker::WorkerSpec,
    #[serde(default)]
    alarms: alarms::AlarmsSpec,
}

/// Per-environment changes to a queue; absent fields keep the queue's own value.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct QueueOverride {
    retention: Option<Span>,
    visibility: Option<Span>,
    delay: Option<Span>,
    max_receive_count: Option<u32>,
    dlq_retention: Option<Span>,
    handler: Option<HandlerSpec>,
    worker: Option<worker::WorkerSpec>,
    alarms: Option<alarms::AlarmsSpec>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct EnvironmentSpec {
    #[serde(default = "default_listen")]
    listen: String,
    data_dir: PathBuf,
    bucket_suffix: String,
    /// The bucket's full name, when something else named it (Terraform adds a random part);
    /// otherwise `{instance}-{env}-{bucket_suffix}`.
    #[serde(default)]
    bucket: Option<String>,
    #[serde(default)]
    omit_environment_in_names: bool,
    /// What every queue name starts with, when a system names its queues its own way
    /// (MigrationAI's `prod-migrationai-contacts`: `queue_prefix = "prod-migrationai"`);
    /// otherwise `{instance}-{env}-{use_case}`.
    #[serde(default)]
    queue_prefix: Option<String>,
    #[serde(default)]
    api_keys: Vec<Secret>,
    /// Keys for the operator routes (`/v1/admin`, the CLI); ingest keys cannot reach them.
    #[serde(default)]
    operator_keys: Vec<Secret>,
    #[serde(default)]
    queues: BTreeMap<String, QueueOverride>,
    #[serde(default)]
    sqs: sqs::SqsSpec,
    #[serde(default)]
    s3: s3::S3Spec,
    #[serde(default = "default_region")]
    region: String,
    #[serde(default = "default_account_id")]
    account_id: String,
    #[serde(default)]
    backend: backend::BackendSpec,
    /// `None` when the environment has no `[environments.E.files]` table (the defaults apply).
    #[serde(default)]
    files: Option<files::FilesSpec>,
    #[serde(default)]
    connections: connections::ConnectionsSpec,
    /// How long an `Idempotency-Key`'s first answer is kept and replayed.
    #[serde(default = "default_idempotency_window")]
    idempotency_window: Span,
    /// Handlers build the requests they would send and store them, sending nothing.
    #[serde(default)]
    dry_run: bool,
    /// Credentials handlers name (`token_secret = "zendesk_api_token"`); set one with
    /// `CONVEYOR_SECRET_ZENDESK_API_TOKEN`.
    #[serde(default)]
    secrets: BTreeMap<String, Secret>,
    /// Where alarm state changes are told (`[environments.X.alarms]`).
    #[serde(default)]
    alarms: alarms::AlarmSettingsSpec,
    /// How long the records under `events/`, `results/` and `results_compacted/` are kept: the
    /// days of the bucket's expiration rule (`s3_record_expiration_days` in infra/), applied to
    /// the local store by its sweeper. None: kept for ever.
    #[serde(default)]
    record_retention: Option<Span>,
}

fn default_retention() -> Span {
    Span(std::time::Duration::from_secs(4 * 86_400))
}
fn default_visibility() -> Span {
    Span(std::time::Duration::from_secs(30))
}
fn zero() -> Span {
    Span(std::time::Duration::ZERO)
}
fn default_max_receive_count() -> u32 {
    3
}
fn default_dlq_retention() -> Span {
    Span(std::time::Duration::from_secs(14 * 86_400))
}
fn default_idempotency_window() -> Span {
    Span(std::time::Duration::from_secs(86_400))
}
fn default_region() -> String {
    "us-east-1".into()
}
fn default_account_id() -> String {
    "000000000000".into()
}
fn default_listen() -> String {
    "127.0.0.1:8080".into()
}

// ---- the effective settings -------------------------------------------------------------

/// One queue as an environment runs it, with its white-label names.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QueueSettings {
    /// The short name used in configuration and URLs (`feedback`).
    pub key: String,
    /// `{instance}-{env}-{use_case}-{key}[.fifo]` (production may omit `-{env}`).
    pub name: String,
    /// The dead-letter queue: the name with `-dlq` before any `.fifo`.
    pub dlq_name: String,
    pub fifo: bool,
    pub retention: Span,
    pub visibility: Span,
    pub delay: Span,
    pub max_receive_count: u32,
    pub dlq_retention: Span,
    pub handler: HandlerConfig,
    /// How this queue's worker runs (`[queues.X.worker]`).
    pub worker: WorkerSettings,
    /// Its alarm rules (`[queues.X.alarms]`).
    pub alarms: Vec<AlarmRule>,
}

/// The effective settings of one environment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Settings {
    pub environment: String,
    pub instance: String,
    pub use_case: String,
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    /// `{instance}-{env}-{bucket_suffix}`, or the `bucket` the environment names.
    pub bucket: String,
    pub api_keys: Vec<Secret>,
    /// Bearer keys of `/v1/admin` and the operator CLI. With none, those routes are open only
    /// where no API key is set either (a loopback development server), refused otherwise.
    pub operator_keys: Vec<Secret>,
    pub queues: Vec<QueueSettings>,
    /// The SQS wire-protocol endpoint.
    pub sqs: SqsSettings,
    /// The S3 endpoint over the local store.
    pub s3: S3Settings,
    /// The region and account id in queue URLs and ARNs (`arn:aws:sqs:{region}:{account_id}:…`).
    pub region: String,
    pub account_id: String,
    /// Where queues and objects live: embedded and local, or SQS and S3.
    pub backend: BackendSettings,
    /// The files API: token verification, upload limits, presigned URLs, CORS.
    pub files: FilesSettings,
    /// What every HTTP listener allows a client connection.
    pub connections: ConnectionSettings,
    /// Handlers record the requests they would send instead of sending them (`local` default).
    pub dry_run: bool,
    /// Credentials handlers name, by name.
    pub secrets: BTreeMap<String, Secret>,
    /// Where and how often alarm state changes are told.
    pub alarms: AlarmSettings,
    /// How long an `Idempotency-Key`'s first answer is kept and replayed (24 hours).
    pub idempotency_window: Span,
    /// How long records (`events/`, `results/`, `results_compacted/`) are kept; None: for ever.
    pub record_retention: Option<Span>,
    /// The Glue database infra/ creates over the bucket's records:
    /// `{instance}_{environment}_{bucket_suffix}` with `-` as `_`.
    pub glue_database: String,
}

impl Settings {
    pub fn queue(&self, key: &str) -> Option<&QueueSettings> {
        self.queues.iter().find(|q| q.key == key)
    }

    /// The settings as TOML with every secret shown as `****` (for `conveyor config check`).
    pub fn to_masked_toml(&self) -> String {
        toml::to_string_pretty(self)
            .unwrap_or_else(|e| format!("# cannot render the settings: {e}\n"))
    }
}

/// A loaded, checked configuration: every environment it describes, and the chosen one.
#[derive(Debug, Clone)]
pub struct Config {
    pub selected: Settings,
    pub environments: BTreeMap<String, Settings>,
}

/// Load: `file` replaces the built-in configuration when given; `variables` are the process's
/// environment (passed in so tests control it). Only variables starting `CONVEYOR_` are read.
pub fn load(
    file: Option<&Path>,
    variables: impl IntoIterator<Item = (String, String)>,
) -> Result<Config, ConfigError> {
    let (origin, text) = match file {
        Some(path) => (
            path.display().to_string(),
            std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                path: path.to_path_buf(),
                source,
            })?,
        ),
        None => (
            "the built-in configuration".to_string(),
            BUILT_IN.to_string(),
        ),
    };
    let mut table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| ConfigError::Parse {
            origin: origin.clone(),
            detail: e.to_string(),
        })?;
    apply_variables(&mut table, variables)?;
    let file: FileConfig = toml::Value::Table(table)
        .try_into()
        .map_err(|e: toml::de::Error| ConfigError::Parse {
            origin: origin.clone(),
            detail: e.to_string(),
        })?;
    // The file is named too: the setting alone does not say which file to open.
    resolve(&file).map_err(|e| match e {
        ConfigError::Invalid(what) => ConfigError::Invalid(format!("{origin}: {what}")),
        other => other,
    })
}

/// The shorthand variables, each applied to the chosen environment.
const SHORTHANDS: &[(&str, &str)] = &[
    ("CONVEYOR_LISTEN", "listen"),
    ("CONVEYOR_DATA_DIR", "data_dir"),
    ("CONVEYOR_API_KEYS", "api_keys"),
    ("CONVEYOR_OPERATOR_KEYS", "operator_keys"),
    ("CONVEYOR_SQS_LISTEN", "sqs.listen"),
    ("CONVEYOR_SQS_ACCESS_KEYS", "sqs.access_keys"),
    ("CONVEYOR_SQS_PUBLIC_URL", "sqs.public_url"),
    ("CONVEYOR_S3_LISTEN", "s3.listen"),
    ("CONVEYOR_S3_ACCESS_KEYS", "s3.access_keys"),
    ("CONVEYOR_S3_PUBLIC_URL", "s3.public_url"),
    ("CONVEYOR_QUEUE_BACKEND", "backend.queue"),
    ("CONVEYOR_STORE_BACKEND", "backend.store"),
    ("CONVEYOR_AWS_ENDPOINT", "backend.endpoint"),
    ("CONVEYOR_REGION", "region"),
    ("CONVEYOR_BUCKET", "bucket"),
    ("CONVEYOR_JWT_SECRET", "files.jwt_secret"),
    ("CONVEYOR_CORS_ORIGINS", "files.cors_origins"),
];

fn apply_variables(
    table: &mut toml::Table,
    variables: impl IntoIterator<Item = (String, String)>,
) -> Result<(), ConfigError> {
    let mut vars: Vec<(String, String)> = variables
        .into_iter()
        .filter(|(k, _)| k.starts_with("CONVEYOR_"))
        .collect();
    vars.sort();
    if let Some((_, env)) = vars.iter().find(|(k, _)| k == "CONVEYOR_ENVIRONMENT") {
        table.insert("environment".into(), toml::Value::String(env.clone()));
    }
    let chosen = table
        .get("environment")
        .and_then(|v| v.as_str())
        .unwrap_or("local")
        .to_string();
    for (name, value) in &vars {
        let path: Vec<String> = if let Some((_, key)) = SHORTHANDS.iter().find(|(n, _)| n == name) {
            let mut path = vec!["environments".to_string(), chosen.clone()];
            path.extend(key.split('.').map(str::to_string));
            path
        } else if let Some(secret) = name.strip_prefix("CONVEYOR_SECRET_") {
            vec![
                "environments".to_string(),
                chosen.clone(),
                "secrets".to_string(),
                secret.to_ascii_lowercase(),
            ]
        } else if let Some(rest) = name.strip_prefix("CONVEYOR_").filter(|r| r.contains("__")) {
            rest.split("__").map(|p| p.to_ascii_lowercase()).collect()
        } else {
            continue;
        };
        let endpoint_keys = path.len() >= 2
            && path[path.len() - 1] == "access_keys"
            && matches!(path[path.len() - 2].as_str(), "sqs" | "s3");
        let parsed = if endpoint_keys {
            sqs::access_keys_variable(value).map_err(|detail| ConfigError::Variable {
                name: name.clone(),
                detail,
            })?
        } else if path
            .last()
            .is_some_and(|k| k == "api_keys" || k == "operator_keys" || k == "cors_origins")
        {
            toml::Value::Array(
                value
                    .split(',')
                    .map(|k| toml::Value::String(k.trim().to_string()))
                    .filter(|v| v.as_str() != Some(""))
                    .collect(),
            )
        } else if path.len() == 4 && path[2] == "secrets" {
            toml::Value::String(value.clone())
        } else {
            typed_scalar(path.last().map_or("", String::as_str), value).map_err(|detail| {
                ConfigError::Variable {
                    name: name.clone(),
                    detail,
                }
            })?
        };
        set_path(table, &path, parsed).map_err(|detail| ConfigError::Variable {
            name: name.clone(),
            detail,
        })?;
    }
    Ok(())
}

/// Settings whose value is a whole number; every other scalar setting is text (or a duration,
/// which reads text too). A test checks the built-in file against these lists.
const INTEGER_SETTINGS: &[&str] = &[
    "max_receive_count",
    "max_file_bytes",
    "max_request_bytes",
    "max_connections",
    "concurrency",
    "key_concurrency",
    "processes",
    "max_messages",
    "port",
    "batch_size",
    "maximum_concurrency",
    "connections",
    "evaluation_periods",
    "datapoints_to_alarm",
];
/// Settings whose value is a number that may have a fraction.
const FRACTION_SETTINGS: &[&str] = &["rate"];
/// Settings whose value is `true` or `false`.
const BOOLEAN_SETTINGS: &[&str] = &[
    "fifo",
    "omit_environment_in_names",
    "allow_anonymous",
    "s3_path_style",
    "dry_run",
    "report_batch_item_failures",
    "in_process",
];
/// Settings that are a number, or text where they are a duration (an alarm's `threshold`).
const NUMBER_OR_TEXT_SETTINGS: &[&str] = &["threshold"];

/// A variable's text as the type its setting has: `ACCOUNT_ID=123456789012` stays text.
fn typed_scalar(key: &str, text: &str) -> Result<toml::Value, String> {
    if INTEGER_SETTINGS.contains(&key) {
        return text
            .trim()
            .parse::<i64>()
            .map(toml::Value::Integer)
            .map_err(|_| format!("{key} takes a whole number, not {text:?}"));
    }
    if FRACTION_SETTINGS.contains(&key) {
        return text
            .trim()
            .parse::<f64>()
            .map(toml::Value::Float)
            .map_err(|_| format!("{key} takes a number, not {text:?}"));
    }
    if NUMBER_OR_TEXT_SETTINGS.contains(&key) {
        if let Ok(n) = text.trim().parse::<i64>() {
            return Ok(toml::Value::Integer(n));
        }
        if let Ok(x) = text.trim().parse::<f64>() {
            return Ok(toml::Value::Float(x));
        }
        return Ok(toml::Value::String(text.to_string()));
    }
    if BOOLEAN_SETTINGS.contains(&key) {
        return match text.trim() {
            "true" => Ok(toml::Value::Boolean(true)),
            "false" => Ok(toml::Value::Boolean(false)),
            _ => Err(format!("{key} takes true or false, not {text:?}")),
        };
    }
    Ok(toml::Value::String(text.to_string()))
}

fn set_path(table: &mut toml::Table, path: &[String], value: toml::Value) -> Result<(), String> {
    let (last, parents) = path.split_last().ok_or("it names no setting")?;
    let mut current = table;
    for key in parents {
        current = current
            .entry(key.clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()))
            .as_table_mut()
            .ok_or_else(|| format!("{key} is a value, not a section"))?;
    }
    current.insert(last.clone(), value);
    Ok(())
}

fn resolve(file: &FileConfig) -> Result<Config, ConfigError> {
    check_token("instance", &file.instance)?;
    check_token("use_case", &file.use_case)?;
    // A system may be the files API alone (config/snsd.toml), but then it must say so.
    if file.queues.is_empty() && !file.environments.values().any(|e| e.files.is_some()) {
        return Err(ConfigError::Invalid(
            "the configuration declares no queues and no files API; add at least one [queues.NAME] section, or an [environments.NAME.files] section for a files-only system".into(),
        ));
    }
    let mut environments = BTreeMap::new();
    for (env, spec) in &file.environments {
        check_token("environment name", env)?;
        environments.insert(env.clone(), environment_settings(file, env, spec)?);
    }
    let selected = environments
        .get(&file.environment)
        .cloned()
        .ok_or_else(|| {
            ConfigError::Invalid(format!(
                "environment = {:?} is not described: the file has [environments.{{{}}}]",
                file.environment,
                file.environments
                    .keys()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(",")
            ))
        })?;
    check_isolation(&environments)?;
    Ok(Config {
        selected,
        environments,
    })
}

fn check_token(what: &str, value: &str) -> Result<(), ConfigError> {
    let ok = !value.is_empty()
        && value
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !value.starts_with('-')
        && !value.ends_with('-');
    if ok {
        Ok(())
    } else {
        Err(ConfigError::Invalid(format!(
            "{what} {value:?} is invalid: use lowercase letters, digits and inner hyphens (it becomes part of queue and bucket names)"
        )))
    }
}

/// A bucket named outright: S3's rules, so a typo fails here rather than in the first request.
fn check_bucket_name(env: &str, name: &str) -> Result<(), ConfigError> {
    let ok = (3..=63).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
        && name.as_bytes()[0].is_ascii_alphanumeric()
        && name.as_bytes()[name.len() - 1].is_ascii_alphanumeric();
    if ok {
        Ok(())
    } else {
        Err(ConfigError::Invalid(format!(
            "environments.{env}.bucket = {name:?} is not an S3 bucket name: use 3 to 63 lowercase letters, digits, dots and hyphens, starting and ending with a letter or digit"
        )))
    }
}

fn environment_settings(
    file: &FileConfig,
    env: &str,
    spec: &EnvironmentSpec,
) -> Result<Settings, ConfigError> {
    let listen: SocketAddr = spec.listen.parse().map_err(|_| {
        ConfigError::Invalid(format!(
            "environments.{env}.listen = {:?} is not an address like 127.0.0.1:8080",
            spec.listen
        ))
    })?;
    check_token(
        &format!("environments.{env}.bucket_suffix"),
        &spec.bucket_suffix,
    )?;
    let bucket = match spec.bucket.as_deref().map(str::trim) {
        None | Some("") => format!("{}-{env}-{}", file.instance, spec.bucket_suffix),
        Some(named) => {
            check_bucket_name(env, named)?;
            named.to_string()
        }
    };
    if bucket.len() > 63 {
        return Err(ConfigError::Invalid(format!("the bucket name {bucket} is longer than S3's 63 characters; shorten instance or bucket_suffix")));
    }
    for key in spec.queues.keys() {
        if !file.queues.contains_key(key) {
            return Err(ConfigError::Invalid(format!(
                "environments.{env}.queues.{key} overrides a queue that is not declared; declare [queues.{key}] or remove the override"
            )));
        }
    }
    let prefix = match (&spec.queue_prefix, spec.omit_environment_in_names) {
        (Some(_), true) => {
            return Err(ConfigError::Invalid(format!(
                "environments.{env}: queue_prefix names the queues outright, so omit_environment_in_names has nothing to omit; remove one of them"
            )))
        }
        (Some(prefix), false) => {
            check_token(&format!("environments.{env}.queue_prefix"), prefix)?;
            prefix.clone()
        }
        (None, true) => format!("{}-{}", file.instance, file.use_case),
        (None, false) => format!("{}-{env}-{}", file.instance, file.use_case),
    };
    let mut queues = Vec::new();
    for (key, base) in &file.queues {
        check_token("queue name", key)?;
        let o = spec.queues.get(key).cloned().unwrap_or_default();
        let suffix = if base.fifo { ".fifo" } else { "" };
        let q = QueueSettings {
            key: key.clone(),
            name: format!("{prefix}-{key}{suffix}"),
            dlq_name: format!("{prefix}-{key}-dlq{suffix}"),
            fifo: base.fifo,
            retention: o.retention.unwrap_or(base.retention),
            visibility: o.visibility.unwrap_or(base.visibility),
            delay: o.delay.unwrap_or(base.delay),
            max_receive_count: o.max_receive_count.unwrap_or(base.max_receive_count),
            dlq_retention: o.dlq_retention.unwrap_or(base.dlq_retention),
            handler: handler(
                env,
                key,
                o.handler.as_ref().unwrap_or(&base.handler),
                base.fifo,
            )?,
            worker: worker::resolve(
                env,
                key,
                &base.worker,
                o.worker.as_ref(),
                o.visibility.unwrap_or(base.visibility),
            )?,
            alarms: alarms::resolve_rules(env, key, &base.alarms, o.alarms.as_ref())?,
        };
        let q = QueueSettings {
            worker: worker::for_analytics(
                env,
                key,
                worker::for_function(env, key, q.worker.clone(), &q.handler, q.visibility)?,
                &q.handler,
                q.visibility,
            )?,
            ..q
        };
        check_queue(env, &q)?;
        queues.push(q);
    }
    sqs::check_location(env, &spec.region, &spec.account_id)?;
    Ok(Settings {
        sqs: sqs::resolve(env, &spec.sqs)?,
        s3: s3::resolve(env, &spec.s3)?,
        backend: backend::resolve(env, &spec.backend)?,
        files: files::resolve(env, &spec.files.clone().unwrap_or_default())?,
        connections: connections::resolve(env, &spec.connections)?,
        idempotency_window: idempotency_window(env, spec.idempotency_window)?,
        dry_run: spec.dry_run,
        secrets: secret_names(env, &spec.secrets)?,
        alarms: alarms::resolve_settings(env, &spec.alarms)?,
        record_retention: record_retention(env, spec.record_retention)?,
        glue_database: format!("{}_{env}_{}", file.instance, spec.bucket_suffix).replace('-', "_"),
        region: spec.region.clone(),
        account_id: spec.account_id.clone(),
        environment: env.to_string(),
        instance: file.instance.clone(),
        use_case: file.use_case.clone(),
        listen,
        data_dir: spec.data_dir.clone(),
        bucket,
        api_keys: spec.api_keys.clone(),
        operator_keys: operator_keys(env, &spec.api_keys, &spec.operator_keys)?,
        queues,
    })
}

/// S3 expires whole days, from one day on: the local sweeper keeps to the same.
fn record_retention(env: &str, retention: Option<Span>) -> Result<Option<Span>, ConfigError> {
    match retention {
        Some(r) if r.seconds() < 86_400 || r.seconds() % 86_400 != 0 => {
            Err(ConfigError::Invalid(format!(
                "environments.{env}.record_retention: {} seconds is not a whole number of days of at least 1 (S3's expiration rules, which infra/ sets to the same, count days): write it like \"90d\"",
                r.seconds()
            )))
        }
        other => Ok(other),
    }
}

fn secret_names(
    env: &str,
    secrets: &BTreeMap<String, Secret>,
) -> Result<BTreeMap<String, Secret>, ConfigError> {
    for name in secrets.keys() {
        if !valid_secret_name(name) {
            return Err(ConfigError::Invalid(format!(
                "environments.{env}.secrets.{name}: a secret's name is lowercase letters, digits and _ (it is also CONVEYOR_SECRET_<NAME>)"
            )));
        }
    }
    Ok(secrets.clone())
}

pub(crate) fn valid_secret_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// The variable that sets a secret of the running environment.
pub fn secret_variable(name: &str) -> String {
    format!("CONVEYOR_SECRET_{}", name.to_ascii_uppercase())
}

impl Settings {
    /// Every secret a queue's handler names that this environment does not have. Dry-run
    /// environments send nothing, so they need none.
    pub fn missing_secrets(&self) -> Vec<(String, &'static str, String)> {
        if self.dry_run {
            return Vec::new();
        }
        let mut missing = Vec::new();
        for q in &self.queues {
            for (kind, name) in q.handler.secrets() {
                if !self.secrets.contains_key(name) {
                    missing.push((q.key.clone(), kind, name.to_string()));
                }
            }
        }
        missing
    }
}

/// Operator keys must be apart from the ingest keys: one key in both would make the split moot.
fn operator_keys(
    env: &str,
    api: &[Secret],
    operator: &[Secret],
) -> Result<Vec<Secret>, ConfigError> {
    if operator.iter().any(|k| api.contains(k)) {
        return Err(ConfigError::Invalid(format!(
            "environments.{env}: a key is both in api_keys and in operator_keys; give operators keys of their own"
        )));
    }
    if operator.iter().any(|k| k.expose().trim().is_empty()) {
        return Err(ConfigError::Invalid(format!(
            "environments.{env}.operator_keys holds an empty key; remove it"
        )));
    }
    Ok(operator.to_vec())
}

fn idempotency_window(env: &str, window: Span) -> Result<Span, ConfigError> {
    if window.0 < std::time::Duration::from_secs(60) || window.seconds() > 30 * 86_400 {
        return Err(ConfigError::Invalid(format!(
            "environments.{env}.idempotency_window = {window} is out of range: use 1m to 30d"
        )));
    }
    Ok(window)
}

fn handler(
    env: &str,
    key: &str,
    spec: &HandlerSpec,
    fifo: bool,
) -> Result<HandlerConfig, ConfigError> {
    let invalid =
        |why: String| ConfigError::Invalid(format!("queues.{key}.handler ({env}): {why}"));
    if let HandlerConfig::Steps(steps) = &spec.0 {
        steps.check().map_err(invalid)?;
        for step in &steps.steps {
            if matches!(step.handler.0, HandlerConfig::Function(_)) {
                return Err(invalid(format!(
                    "step {:?} is a function, which takes whole batches; give it a queue of its own",
                    step.name
                )));
            }
            handler(env, key, &step.handler, fifo)?;
        }
    }
    if let HandlerConfig::Function(function) = &spec.0 {
        function.check(fifo).map_err(invalid)?;
    }
    match &spec.0 {
        HandlerConfig::Http(h) => h.check(),
        HandlerConfig::Zendesk(z) => z.check(),
        HandlerConfig::Discord(d) => d.check(),
        HandlerConfig::Slack(s) => s.check(),
        HandlerConfig::Analytics(a) => a.check(),
        HandlerConfig::Email(e) => e.check(),
        HandlerConfig::Testflight(t) => t.check(),
        _ => Ok(()),
    }
    .map_err(invalid)?;
    Ok(spec.0.clone())
}

/// The queue's names and settings, checked with the queue engine's own SQS rules.
fn check_queue(env: &str, q: &QueueSettings) -> Result<(), ConfigError> {
    let invalid = |e: conveyor_queue::QueueError| {
        ConfigError::Invalid(format!("queue {} ({env}): {e}", q.key))
    };
    conveyor_queue::validate::queue_name(&q.name).map_err(invalid)?;
    conveyor_queue::validate::queue_name(&q.dlq_name).map_err(invalid)?;
    conveyor_queue::QueueConfig::for_new_queue(&q.name, &q.attributes(None)).map_err(invalid)?;
    conveyor_queue::QueueConfig::for_new_queue(&q.dlq_name, &q.dlq_attributes())
        .map_err(invalid)?;
    if !(1..=1000).contains(&q.max_receive_count) {
        return Err(ConfigError::Invalid(format!(
            "queue {} ({env}): max_receive_count {} is out of range: use 1 to 1000",
            q.key, q.max_receive_count
        )));
    }
    Ok(())
}

impl QueueSettings {
    /// The SQS attributes of the queue; with the DLQ's ARN, its redrive policy too.
    pub fn attributes(&self, dlq_arn: Option<&str>) -> BTreeMap<String, String> {
        let mut a = BTreeMap::new();
        if self.fifo {
            a.insert("FifoQueue".into(), "true".into());
        }
        a.insert(
            "MessageRetentionPeriod".into(),
            self.retention.seconds().to_string(),
        );
        a.insert(
            "VisibilityTimeout".into(),
            self.visibility.seconds().to_string(),
        );
        a.insert("DelaySeconds".into(), self.delay.seconds().to_string());
        if let Some(arn) = dlq_arn {
            a.insert(
                "RedrivePolicy".into(),
                format!(
                    r#"{{"deadLetterTargetArn":"{arn}","maxReceiveCount":{}}}"#,
                    self.max_receive_count
                ),
            );
        }
        a
    }

    /// The SQS attributes of the queue's dead-letter queue.
    pub fn dlq_attributes(&self) -> BTreeMap<String, String> {
        let mut a = BTreeMap::new();
        if self.fifo {
            a.insert("FifoQueue".into(), "true".into());
        }
        a.insert(
            "MessageRetentionPeriod".into(),
            self.dlq_retention.seconds().to_string(),
        );
        a
    }
}

/// A path as written, with `.` segments and trailing separators removed, for comparison.
fn normalized(path: &Path) -> PathBuf {
    path.components()
        .filter(|c| !matches!(c, Component::CurDir))
        .collect()
}

/// Refuse two environments that share a queue, bucket, data directory (or one inside the
/// other's) or API key.
fn check_isolation(environments: &BTreeMap<String, Settings>) -> Result<(), ConfigError> {
    let all: Vec<&Settings> = environments.values().collect();
    for (i, a) in all.iter().enumerate() {
        for b in &all[i + 1..] {
            let shared = |what: &'static str, value: String| ConfigError::Shared {
                first: a.environment.clone(),
                second: b.environment.clone(),
                what,
                value,
            };
            let names = |s: &Settings| -> Vec<String> {
                s.queues
                    .iter()
                    .flat_map(|q| [q.name.clone(), q.dlq_name.clone()])
                    .collect()
            };
            let b_names = names(b);
            if let Some(n) = names(a).into_iter().find(|n| b_names.contains(n)) {
                return Err(shared("the queue", n));
            }
            if a.bucket == b.bucket {
                return Err(shared("the bucket", a.bucket.clone()));
            }
            let (da, db) = (normalized(&a.data_dir), normalized(&b.data_dir));
            if da.starts_with(&db) || db.starts_with(&da) {
                return Err(shared(
                    "the data directory",
                    format!("{} / {}", a.data_dir.display(), b.data_dir.display()),
                ));
            }
            let keys = |s: &Settings| -> Vec<Secret> {
                s.api_keys.iter().chain(&s.operator_keys).cloned().collect()
            };
            if keys(a).iter().any(|k| keys(b).contains(k)) {
                // The value is a secret: name the setting, never the key.
                return Err(shared(
                    "an API key or operator key in",
                    "api_keys / operator_keys".to_string(),
                ));
            }
            if a.files.jwt_secret.is_some() && a.files.jwt_secret == b.files.jwt_secret {
                return Err(shared("the JWT secret in", "files.jwt_secret".to_string()));
            }
            let secrets = |s: &Settings| -> Vec<Secret> {
                s.sqs
                    .access_keys
                    .iter()
                    .chain(&s.s3.access_keys)
                    .map(|k| k.secret.clone())
                    .collect()
            };
            let b_secrets = secrets(b);
            if secrets(a).iter().any(|k| b_secrets.contains(k)) {
                return Err(shared(
                    "an SQS or S3 access key secret in",
                    "sqs.access_keys / s3.access_keys".to_string(),
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
