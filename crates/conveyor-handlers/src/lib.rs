//! Conveyor's handlers: one module per kind, each built from its own typed configuration
//! (`conveyor_config::HandlerConfig`) by [`build`], the one place that maps a kind to its code.
//! Adding a handler is a module here, a variant of `HandlerConfig` and an arm of `build`
//! (the `every_kind_is_one_module_and_one_arm` test checks the three agree). Handlers that need
//! heavy dependencies sit behind cargo features, on by default.

#[cfg(feature = "analytics")]
pub mod analytics;
#[cfg(feature = "http")]
mod discord;
#[cfg(feature = "email")]
mod email;
mod fail;
mod function;
#[cfg(feature = "http")]
mod http;
mod log;
#[cfg(feature = "http")]
mod outbound;
#[cfg(feature = "http")]
mod slack;
mod steps;
#[cfg(feature = "http")]
mod testflight;
#[cfg(feature = "testing")]
pub mod testing;
#[cfg(feature = "http")]
mod zendesk;

use std::sync::Arc;

use conveyor_config::HandlerConfig;
use conveyor_store::Store;
use conveyor_worker::Handler;

#[cfg(feature = "http")]
pub use discord::DiscordHandler;
#[cfg(feature = "email")]
pub use email::EmailHandler;
pub use fail::FailHandler;
pub use function::FunctionHandler;
#[cfg(feature = "http")]
pub use http::{signature, HttpHandler};
pub use log::LogHandler;
#[cfg(feature = "http")]
pub use slack::SlackHandler;
pub use steps::StepsHandler;
#[cfg(feature = "http")]
pub use testflight::{app_store_connect_key, TestflightHandler};
#[cfg(feature = "http")]
pub use zendesk::ZendeskHandler;

/// What a handler may need besides its own settings: where results and checkpoints live, and
/// the queue it serves.
#[derive(Clone)]
pub struct HandlerEnv {
    pub store: Store,
    /// The queue's full name.
    pub queue: String,
    /// The queue's ARN and region, as a function's event records name them.
    pub queue_arn: String,
    pub region: String,
    /// Build the requests, store them, send nothing.
    pub dry_run: bool,
    /// The environment's secrets, by name.
    pub secrets: std::collections::BTreeMap<String, conveyor_config::Secret>,
}

impl HandlerEnv {
    /// The environment of queue `queue` in `us-east-1` of account `000000000000`, sending for
    /// real, with no secrets; the builders below change that.
    pub fn new(store: Store, queue: &str) -> Self {
        HandlerEnv {
            store,
            queue: queue.to_string(),
            queue_arn: format!("arn:aws:sqs:us-east-1:000000000000:{queue}"),
            region: "us-east-1".into(),
            dry_run: false,
            secrets: Default::default(),
        }
    }

    pub fn dry_run(mut self, dry_run: bool) -> Self {
        self.dry_run = dry_run;
        self
    }

    pub fn with_secret(mut self, name: &str, value: &str) -> Self {
        self.secrets
            .insert(name.to_string(), conveyor_config::Secret::new(value));
        self
    }

    /// A secret's value. In dry run a missing one reads as `****`: nothing is sent, and what is
    /// recorded shows where it would go.
    pub fn secret(&self, kind: &'static str, name: &str) -> Result<String, BuildError> {
        match self.secrets.get(name) {
            Some(s) if !s.expose().is_empty() => Ok(s.expose().to_string()),
            _ if self.dry_run => Ok("****".into()),
            _ => Err(BuildError::MissingSecret {
                kind,
                name: name.to_string(),
                variable: conveyor_config::secret_variable(name),
            }),
        }
    }
}

/// Why a handler could not be built from its configuration.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("the {0} handler is not in this build: rebuild with the cargo feature {0} of conveyor-handlers")]
    NotBuilt(&'static str),
    #[error("the {kind} handler cannot start: {detail}")]
    Setup { kind: &'static str, detail: String },
    #[error("the {kind} handler needs the secret {name}: set {variable} (or secrets.{name} in the environment's table), or run with dry_run = true")]
    MissingSecret {
        kind: &'static str,
        name: String,
        variable: String,
    },
}

/// The handler a queue's configuration names.
pub fn build(config: &HandlerConfig, env: &HandlerEnv) -> Result<Arc<dyn Handler>, BuildError> {
    Ok(match config {
        HandlerConfig::Steps(c) => Arc::new(StepsHandler::new(
            c.steps
                .iter()
                .map(|s| Ok((s.name.clone(), build(&s.handler.0, env)?)))
                .collect::<Result<_, BuildError>>()?,
            env.store.clone(),
            env.queue.clone(),
        )),
        HandlerConfig::Log {} => Arc::new(LogHandler),
        HandlerConfig::Fail {} => Arc::new(FailHandler),
        HandlerConfig::Function(c) => Arc::new(FunctionHandler::new(c, env)?),
        #[cfg(feature = "analytics")]
        HandlerConfig::Analytics(c) => Arc::new(analytics::AnalyticsHandler::new(c, env)),
        #[cfg(not(feature = "analytics"))]
        HandlerConfig::Analytics(_) => return Err(BuildError::NotBuilt("analytics")),
        #[cfg(feature = "http")]
        HandlerConfig::Http(c) => Arc::new(HttpHandler::new(c, env)?),
        #[cfg(feature = "http")]
        HandlerConfig::Zendesk(c) => Arc::new(ZendeskHandler::new(c, env)?),
        #[cfg(feature = "http")]
        HandlerConfig::Discord(c) => Arc::new(DiscordHandler::new(c, env)?),
        #[cfg(feature = "http")]
        HandlerConfig::Slack(c) => Arc::new(SlackHandler::new(c, env)?),
        #[cfg(feature = "http")]
        HandlerConfig::Testflight(c) => Arc::new(TestflightHandler::new(c, env)?),
        #[cfg(not(feature = "http"))]
        HandlerConfig::Http(_)
        | HandlerConfig::Zendesk(_)
        | HandlerConfig::Discord(_)
        | HandlerConfig::Slack(_)
        | HandlerConfig::Testflight(_) => return Err(BuildError::NotBuilt("http")),
        #[cfg(feature = "email")]
        HandlerConfig::Email(c) => Arc::new(EmailHandler::new(c, env)?),
        #[cfg(not(feature = "email"))]
        HandlerConfig::Email(_) => return Err(BuildError::NotBuilt("email")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One configuration of every kind. The match is exhaustive, so a new `HandlerConfig`
    /// variant does not compile until it is listed here too.
    fn one_of_each() -> Vec<HandlerConfig> {
        let all = vec![
            HandlerConfig::Log {},
            HandlerConfig::Fail {},
            HandlerConfig::Http(conveyor_config::HttpConfig::to(
                "http://127.0.0.1:9/hook",
                conveyor_config::Span(std::time::Duration::from_secs(1)),
            )),
            HandlerConfig::Function(function_config()),
            HandlerConfig::Zendesk(
                serde_json::from_value(
                    serde_json::json!({ "subdomain": "acme", "email": "a@b.c" }),
                )
                .unwrap(),
            ),
            HandlerConfig::Discord(serde_json::from_value(serde_json::json!({})).unwrap()),
            HandlerConfig::Slack(serde_json::from_value(serde_json::json!({})).unwrap()),
            HandlerConfig::Analytics(serde_json::from_value(serde_json::json!({})).unwrap()),
            HandlerConfig::Testflight(
                serde_json::from_value(serde_json::json!({
                    "issuer_id": "i", "key_id": "k", "beta_group_id": "g",
                }))
                .unwrap(),
            ),
            HandlerConfig::Email(
                serde_json::from_value(serde_json::json!({
                    "from": "noreply@acme.example",
                    "transport": { "kind": "sendgrid" },
                }))
                .unwrap(),
            ),
            HandlerConfig::Steps(conveyor_config::StepsConfig {
                steps: vec![conveyor_config::StepConfig {
                    name: "only".into(),
                    handler: conveyor_config::HandlerSpec(HandlerConfig::Log {}),
                }],
            }),
        ];
        for c in &all {
            match c {
                HandlerConfig::Log {}
                | HandlerConfig::Fail {}
                | HandlerConfig::Http(_)
                | HandlerConfig::Function(_)
                | HandlerConfig::Zendesk(_)
                | HandlerConfig::Discord(_)
                | HandlerConfig::Slack(_)
                | HandlerConfig::Analytics(_)
                | HandlerConfig::Email(_)
                | HandlerConfig::Testflight(_)
                | HandlerConfig::Steps(_) => {}
            }
        }
        all
    }

    fn function_config() -> conveyor_config::FunctionConfig {
        serde_json::from_value(serde_json::json!({ "command": ["true"] })).unwrap()
    }

    fn env() -> (HandlerEnv, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let env = HandlerEnv {
            store: Store::local(dir.path()).unwrap(),
            queue: "q".into(),
            queue_arn: "arn:aws:sqs:us-east-1:000000000000:q".into(),
            region: "us-east-1".into(),
            dry_run: true,
            secrets: Default::default(),
        };
        (env, dir)
    }

    #[test]
    fn every_kind_is_one_module_and_one_arm() {
        let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let (env, _dir) = env();
        for config in one_of_each() {
            let kind = config.kind();
            let handler = build(&config, &env).unwrap();
            assert_eq!(handler.kind(), kind, "build maps {kind} to its own handler");
            assert!(
                src.join(format!("{kind}.rs")).exists() || src.join(kind).join("mod.rs").exists(),
                "the {kind} handler lives in its own module, src/{kind}.rs"
            );
        }
    }
}
