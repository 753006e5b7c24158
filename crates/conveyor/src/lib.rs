//! The `conveyor` binary's commands: process wiring only; the behaviour lives in the libraries.

mod alarms;
mod alarms_cmd;
mod athena;
pub mod bench;
mod bench_analytics;
mod bench_dashboard;
mod bench_email;
mod bench_jobs;
mod bench_s3;
mod bench_worker;
mod listener;
mod provision;
mod queue_cmd;
mod records_cmd;
mod sampler;
mod serve;
mod smoke;
mod ticks;
mod token_cmd;

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "conveyor",
    version,
    about = "Durable queues with SQS semantics, an ingest API, workers and an object store, in one binary"
)]
pub struct Cli {
    /// Log format on stderr; by default text on a terminal, JSON otherwise (for log shippers).
    #[arg(long, value_enum, env = "CONVEYOR_LOG_FORMAT", global = true)]
    pub log_format: Option<LogFormat>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LogFormat {
    Json,
    Text,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP API, the queue engine, the workers and the object store in one process.
    Serve(ConfigArgs),
    /// Run only the HTTP API (for deployments that scale API and workers separately).
    Api(ConfigArgs),
    /// Run only the workers.
    Worker(ConfigArgs),
    /// Create the environment's queues, dead-letter queues and bucket (idempotent).
    Provision(ConfigArgs),
    /// Check a running deployment end to end: bucket, queues, dead-letter round trip, results.
    Smoke(smoke::SmokeArgs),
    /// Operator tools for the queues of a running server.
    Queue(queue_cmd::QueueArgs),
    /// The alarms a running server evaluates, and their history.
    Alarms(alarms_cmd::AlarmsArgs),
    /// Athena over the records in the store: `conveyor athena ddl --env production`.
    Athena(records_cmd::AthenaArgs),
    /// Compact stored records: `conveyor compact results --older-than 1h`.
    Compact(records_cmd::CompactArgs),
    /// Print a JWT for the files API, signed with this environment's secret (for local use).
    Token(token_cmd::TokenArgs),
    /// Print the HTTP API's OpenAPI document (the one served at /openapi.json).
    Openapi,
    /// Load generators (see docs/BENCHMARKS.md).
    Bench(bench::BenchArgs),
    /// Configuration tools.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print the effective configuration (secrets masked); fail on an invalid one.
    Check(ConfigArgs),
}

/// Where the configuration comes from: what every command that reads it accepts.
#[derive(Debug, Clone, clap::Args)]
pub struct ConfigSource {
    /// A configuration file to use instead of the built-in one (the seeds' example).
    #[arg(long, env = "CONVEYOR_CONFIG")]
    pub config: Option<PathBuf>,
    /// The environment to run as (local, staging, production, …).
    #[arg(long = "env", env = "CONVEYOR_ENVIRONMENT")]
    pub environment: Option<String>,
}

impl ConfigSource {
    /// Load the configuration: file or built-in, then `CONVEYOR_` variables.
    pub fn load(&self) -> anyhow::Result<conveyor_config::Config> {
        load_with(self, [])
    }
}

/// The configuration and the overrides of the commands that run Conveyor's processes.
#[derive(Debug, Clone, clap::Args)]
pub struct ConfigArgs {
    #[command(flatten)]
    pub source: ConfigSource,
    /// Address of the HTTP API, like 127.0.0.1:8080.
    #[arg(long, env = "CONVEYOR_LISTEN", value_parser = socket_address)]
    pub listen: Option<String>,
    /// Where the environment's queue database (queue.db) and local object store (objects/)
    /// live; by default data/<environment>.
    #[arg(long, env = "CONVEYOR_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Address of the SQS wire-protocol endpoint (default 127.0.0.1:9324), or `off`.
    #[arg(long, env = "CONVEYOR_SQS_LISTEN", value_parser = address_or_off)]
    pub sqs_listen: Option<String>,
    /// Address of the S3 endpoint over the local store (default 127.0.0.1:9000), or `off`.
    #[arg(long, env = "CONVEYOR_S3_LISTEN", value_parser = address_or_off)]
    pub s3_listen: Option<String>,
}

impl ConfigArgs {
    /// Load the configuration: file or built-in, then `CONVEYOR_` variables, then these flags.
    pub fn load(&self) -> anyhow::Result<conveyor_config::Config> {
        load_with(
            &self.source,
            [
                ("CONVEYOR_LISTEN", self.listen.clone()),
                ("CONVEYOR_SQS_LISTEN", self.sqs_listen.clone()),
                ("CONVEYOR_S3_LISTEN", self.s3_listen.clone()),
                (
                    "CONVEYOR_DATA_DIR",
                    self.data_dir.as_ref().map(|d| d.display().to_string()),
                ),
            ],
        )
    }
}

/// `--listen` is checked where it is typed, so its error names the flag, not the setting.
fn socket_address(text: &str) -> Result<String, String> {
    text.parse::<std::net::SocketAddr>()
        .map(|_| text.to_string())
        .map_err(|_| {
            format!("{text:?} is not an address like 127.0.0.1:8080 (an IP address and a port)")
        })
}

fn address_or_off(text: &str) -> Result<String, String> {
    if text == "off" {
        Ok(text.to_string())
    } else {
        socket_address(text).map_err(|e| format!("{e}, or off"))
    }
}

fn load_with<const N: usize>(
    source: &ConfigSource,
    overrides: [(&str, Option<String>); N],
) -> anyhow::Result<conveyor_config::Config> {
    let mut variables: Vec<(String, String)> = std::env::vars().collect();
    // Flags win over variables: append them last (clap already read the same variables).
    let flags = overrides
        .into_iter()
        .chain([("CONVEYOR_ENVIRONMENT", source.environment.clone())]);
    let flags: Vec<(String, String)> = flags
        .filter_map(|(k, v)| v.map(|v| (k.to_string(), v)))
        .collect();
    variables.retain(|(k, _)| !flags.iter().any(|(f, _)| f == k));
    variables.extend(flags);
    Ok(conveyor_config::load(source.config.as_deref(), variables)?)
}

pub fn init_logging(format: Option<LogFormat>) {
    use std::io::IsTerminal;
    let format = format.unwrap_or(if std::io::stderr().is_terminal() {
        LogFormat::Text
    } else {
        LogFormat::Json
    });
    let filter = tracing_subscriber::EnvFilter::try_from_env("CONVEYOR_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(args) => serve::serve(args, serve::Parts::Both).await,
        Command::Api(args) => serve::serve(args, serve::Parts::Api).await,
        Command::Worker(args) => serve::serve(args, serve::Parts::Workers).await,
        Command::Provision(args) => provision::run(args).await,
        Command::Smoke(args) => smoke::run(args).await,
        Command::Queue(args) => queue_cmd::run(args).await,
        Command::Alarms(args) => alarms_cmd::run(args).await,
        Command::Athena(args) => records_cmd::athena(args),
        Command::Compact(args) => records_cmd::compact(args).await,
        Command::Token(args) => token_cmd::run(args),
        Command::Openapi => print_out(&format!(
            "{}\n",
            conveyor_api::openapi_document().to_pretty_json()?
        )),
        Command::Bench(args) => bench::run(args).await,
        Command::Config {
            command: ConfigCommand::Check(args),
        } => config_check(&args),
    }
}

/// Write to stdout; a reader that stopped reading (`| grep -m1`, `| head`) is not an error.
fn print_out(text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}

fn config_check(args: &ConfigArgs) -> anyhow::Result<()> {
    let config = args.load()?;
    print_out(&config.selected.to_masked_toml())?;
    let mut refused = Vec::new();
    for (command, parts) in [
        ("serve", serve::Parts::Both),
        ("api", serve::Parts::Api),
        ("worker", serve::Parts::Workers),
    ] {
        for refusal in serve::refusals(&config.selected, parts) {
            refused.push(format!(
                "conveyor {command} would refuse to start: {refusal}"
            ));
        }
    }
    if !refused.is_empty() {
        anyhow::bail!(
            "the configuration is well formed, but:\n{}",
            refused.join("\n")
        );
    }
    let names: Vec<&str> = config.environments.keys().map(String::as_str).collect();
    print_out(&format!(
        "\n# valid: {} environment(s) ({}) checked; no queue, bucket, data directory or API key is shared\n",
        names.len(),
        names.join(", ")
    ))
}
