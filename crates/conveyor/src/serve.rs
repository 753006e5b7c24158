//! `conveyor serve`: everything in one process on the embedded defaults.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use conveyor_aws::Aws;
use conveyor_config::{QueueBackend, Settings, StoreBackend};
use conveyor_queue::{EmbeddedEngine, EngineOptions, Location, Queue, SystemClock};
use conveyor_store::Store;
use conveyor_worker::{Backoff, QueueWorker, WorkerStats};
use tokio::sync::watch;

use crate::ConfigArgs;

/// How long a running handler may finish after a stop request.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(20);

/// Which parts of Conveyor this process runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Parts {
    Both,
    Api,
    Workers,
}

impl Parts {
    fn api(self) -> bool {
        self != Parts::Workers
    }
    fn workers(self) -> bool {
        self != Parts::Api
    }
}

pub async fn serve(args: ConfigArgs, parts: Parts) -> anyhow::Result<()> {
    let settings = Arc::new(args.load()?.selected);
    if let Some(refusal) = refusals(&settings, parts).into_iter().next() {
        bail!(refusal);
    }
    let (queue, store, embedded) = open_backends(&settings).await?;
    let handlers = settings
        .queues
        .iter()
        .map(|q| {
            let env = conveyor_handlers::HandlerEnv {
                store: store.clone(),
                queue: q.name.clone(),
                queue_arn: format!(
                    "arn:aws:sqs:{}:{}:{}",
                    settings.region, settings.account_id, q.name
                ),
                region: settings.region.clone(),
                dry_run: settings.dry_run,
                secrets: settings.secrets.clone(),
            };
            conveyor_handlers::build(&q.handler, &env)
                .map_err(|e| anyhow::anyhow!("queue {}: {e}", q.key))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    // Idempotency keys live with the queues on the embedded engine, else in the object store.
    let idempotency: Arc<dyn conveyor_queue::idempotency::IdempotencyKeys> = match &embedded {
        Some(engine) => Arc::new(engine.clone()),
        None => Arc::new(conveyor_api::StoreKeys::new(store.clone())),
    };

    let (stop, stopped) = watch::channel(false);
    // One termination signal stops both listeners.
    let (terminate, terminated) = watch::channel(false);
    tokio::spawn(async move {
        termination().await;
        let _ = terminate.send(true);
    });
    // The SQS endpoint serves the embedded engine; on Amazon SQS, clients talk to SQS itself.
    let sqs_server = match (settings.sqs.listen, embedded) {
        (Some(address), Some(engine)) => Some(
            start_sqs(
                address,
                sqs_options(&settings, engine.location().clone()),
                queue.clone(),
                settings.connections,
                terminated.clone(),
            )
            .await?,
        ),
        _ => None,
    };
    // The S3 endpoint serves the local store; on Amazon S3, clients talk to S3 itself. The
    // files API's presigned URLs are then this endpoint's.
    let mut api_store = store.clone();
    let s3_server = match settings.s3.listen {
        Some(address) if settings.backend.store == StoreBackend::Local && parts.api() => {
            let (server, bound) = start_s3(
                address,
                s3_options(&settings),
                settings.connections,
                terminated.clone(),
            )
            .await?;
            if let Some(signer) = presigning(&settings, bound)? {
                api_store = api_store.with_url_signer(signer);
            }
            Some(server)
        }
        _ => None,
    };
    let mut workers = Vec::new();
    let mut worker_stats = std::collections::BTreeMap::new();
    if parts.workers() {
        for (q, handler) in settings.queues.iter().zip(handlers) {
            let worker = QueueWorker {
                queue: q.name.clone(),
                handler,
                concurrency: q.worker.concurrency,
                visibility: q.visibility.0,
                poll_wait: Duration::from_secs(2),
                shutdown_grace: SHUTDOWN_GRACE,
                backoff: Backoff {
                    initial: q.worker.backoff_initial.0,
                    max: q.worker.backoff_max.0,
                },
                dead_letter_queue: Some(q.dlq_name.clone()),
                flow: flow_limits(&q.worker),
                batch: q.worker.batch.map(|b| conveyor_worker::BatchLimits {
                    max_messages: b.max_messages,
                    max_wait: b.max_wait.0,
                    max_bytes: b.max_bytes,
                }),
            };
            let stats = Arc::new(WorkerStats::default());
            worker_stats.insert(q.name.clone(), stats.clone());
            workers.push(tokio::spawn(conveyor_worker::run(
                queue.clone(),
                store.clone(),
                worker,
                stats,
                stopped.clone(),
            )));
        }
        tokio::spawn(crate::records_cmd::sweeper(
            settings.clone(),
            store.clone(),
            stopped.clone(),
        ));
    }

    // The API's processes watch the queues (workers may be many, the API is where operators
    // look); in `serve` the workers' own counters give the error rates.
    let board = conveyor_api::alarms::AlarmBoard::default();
    let dashboard = conveyor_api::dashboard::DashboardState::default();
    if parts.api() {
        tokio::spawn(
            crate::sampler::Sampler {
                queue: queue.clone(),
                queues: settings.queues.clone(),
                stats: worker_stats.clone(),
                samples: dashboard.samples.clone(),
            }
            .run(stopped.clone()),
        );
        if let Some(alarms) = crate::alarms::Alarms::new(
            &settings,
            queue.clone(),
            store.clone(),
            worker_stats,
            board.clone(),
        )
        .await?
        {
            tokio::spawn(alarms.run(stopped.clone()));
        }
    }
    if parts.api() {
        let listener = tokio::net::TcpListener::bind(settings.listen)
            .await
            .with_context(|| {
                format!(
                    "cannot listen on {}; is another process using it? Start with --listen 127.0.0.1:PORT (or set CONVEYOR_LISTEN) to use another port",
                    settings.listen
                )
            })?;
        let address = listener.local_addr()?;
        tracing::info!(%address, environment = %settings.environment, data_dir = %settings.data_dir.display(), ?parts, "conveyor serving");
        // One plain line on stdout, for scripts and tests that started us on port 0.
        println!("conveyor listening on http://{address}");
        let metrics = conveyor_api::metrics::install().map_err(anyhow::Error::msg)?;
        let state = conveyor_api::ApiState {
            queue: queue.clone(),
            store: api_store,
            settings: settings.clone(),
            metrics: Some(metrics),
            idempotency,
            finished_jobs: Default::default(),
            alarms: board,
            dashboard,
        };
        let app = conveyor_api::router(state, conveyor_api::ApiLimits::default());
        crate::listener::serve(listener, app, settings.connections, terminated.clone())
            .await
            .context("the HTTP server failed")?;
    } else {
        tracing::info!(environment = %settings.environment, data_dir = %settings.data_dir.display(), "conveyor workers running");
        println!("conveyor workers running");
        signalled(terminated.clone()).await;
    }
    if let Some(server) = sqs_server {
        server
            .await
            .context("the SQS endpoint task failed")?
            .context("the SQS endpoint failed")?;
    }
    if let Some(server) = s3_server {
        server
            .await
            .context("the S3 endpoint task failed")?
            .context("the S3 endpoint failed")?;
    }

    // The API (if any) has stopped taking requests, and each request it answered was enqueued
    // durably; now let the workers finish or release what they hold.
    tracing::info!("stopping workers");
    let _ = stop.send(true);
    for w in workers {
        let _ = w.await;
    }
    tracing::info!("stopped");
    Ok(())
}

/// The worker's flow limits, as configured.
fn flow_limits(w: &conveyor_config::WorkerSettings) -> conveyor_worker::FlowLimits {
    use conveyor_config::RateKeySetting;
    conveyor_worker::FlowLimits {
        rate: w.rate,
        key: w.rate_key.as_ref().map(|k| match k {
            RateKeySetting::Group => conveyor_worker::RateKey::Group,
            RateKeySetting::Pointer { pointer, domain } => conveyor_worker::RateKey::Pointer {
                pointer: pointer.clone(),
                domain: *domain,
            },
        }),
        key_concurrency: w.key_concurrency,
    }
}

/// What this process would refuse to start with, before touching any backend: an API or an
/// SQS endpoint that anyone on the network could call without credentials. `config check`
/// reports the same list.
pub(crate) fn refusals(settings: &Settings, parts: Parts) -> Vec<String> {
    let mut found = Vec::new();
    if parts.api() && !settings.listen.ip().is_loopback() && settings.api_keys.is_empty() {
        found.push(format!(
            "environment {} would listen on {} with no API keys, open to anyone who can reach it: \
             set api_keys (or CONVEYOR_API_KEYS), or listen on 127.0.0.1",
            settings.environment, settings.listen
        ));
    }
    let embedded = settings.backend.queue == QueueBackend::Embedded;
    let local_store = settings.backend.store == StoreBackend::Local;
    let endpoints = [
        (
            "SQS",
            "sqs",
            embedded,
            settings.sqs.listen,
            &settings.sqs.access_keys,
            settings.sqs.allow_anonymous,
        ),
        (
            "S3",
            "s3",
            local_store && parts.api(),
            settings.s3.listen,
            &settings.s3.access_keys,
            settings.s3.allow_anonymous,
        ),
    ];
    for (protocol, section, served, listen, keys, anonymous) in endpoints {
        match listen {
            Some(address)
                if served && !address.ip().is_loopback() && keys.is_empty() && !anonymous =>
            {
                found.push(format!(
                    "environment {} would serve {protocol} on {address} with no access keys, open to anyone who can reach it: \
                     set {section}.access_keys (or CONVEYOR_{protocol}_ACCESS_KEYS=id:secret), set {section}.allow_anonymous = true, \
                     or listen on 127.0.0.1",
                    settings.environment
                ));
            }
            _ => {}
        }
    }
    if let (Some(address), true) = (settings.s3.listen, local_store && parts.api()) {
        if settings.files.jwt_secret.is_some() {
            found.extend(presigning_refusal(settings, address));
        }
    }
    let alarms = &settings.alarms;
    if parts.api() && alarms.in_process && !settings.dry_run {
        for (channel, name) in alarms.secrets() {
            if !settings.secrets.contains_key(name) {
                found.push(format!(
                    "alarms are told to {channel} through the secret {name}, which is not set: set {} (or secrets.{name} in [environments.{}]), or dry_run = true to send nothing",
                    conveyor_config::secret_variable(name),
                    settings.environment
                ));
            }
        }
    }
    if parts.workers() {
        for (queue, kind, name) in settings.missing_secrets() {
            found.push(format!(
                "queue {queue}: the {kind} handler needs the secret {name}: set {} (or secrets.{name} in [environments.{}]), or dry_run = true to send nothing",
                conveyor_config::secret_variable(&name),
                settings.environment
            ));
        }
    }
    found
}

/// Why the files API could not sign URLs for the S3 endpoint on `address`, if it cannot.
fn presigning_refusal(settings: &Settings, address: std::net::SocketAddr) -> Option<String> {
    let files_key = conveyor_api::files::ENDPOINT_KEY_ID;
    if settings.s3.access_keys.iter().any(|k| k.id == files_key) {
        return Some(format!(
            "environment {}: s3.access_keys has the id {files_key}, the files API's own key on the S3 endpoint: give that key another id",
            settings.environment
        ));
    }
    if address.ip().is_unspecified() && settings.s3.public_url.is_none() {
        return Some(format!(
            "environment {} serves S3 on {address}, which is no address a browser can be sent to, and the files API presigns URLs for it: set s3.public_url (or CONVEYOR_S3_PUBLIC_URL) to the address browsers reach it by, like http://files.example.com:9000",
            settings.environment
        ));
    }
    None
}

fn sqs_options(settings: &Settings, location: Location) -> conveyor_sqs::SqsOptions {
    let credentials = match key_pairs(&settings.sqs.access_keys) {
        None => conveyor_sqs::Credentials::AcceptAny,
        Some(keys) => conveyor_sqs::Credentials::Keys(keys.into_iter().collect()),
    };
    conveyor_sqs::SqsOptions {
        location,
        public_url: settings.sqs.public_url.clone(),
        credentials,
        other_regions: Some(Arc::new(RegionEngines {
            settings: settings.clone(),
            engines: Default::default(),
        })),
        ..Default::default()
    }
}

/// SQS queues are per region: a client signing for another region than the environment's gets
/// that region's own engine, opened on first use at `{data_dir}/regions/{region}/queue.db`.
/// Only the environment's region holds the configured queues, workers and metrics.
struct RegionEngines {
    settings: Settings,
    engines: std::sync::Mutex<std::collections::HashMap<String, EmbeddedEngine>>,
}

impl conveyor_sqs::RegionalQueues for RegionEngines {
    fn queues(&self, region: &str) -> Result<Arc<dyn Queue>, String> {
        let mut engines = self.engines.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(engine) = engines.get(region) {
            return Ok(Arc::new(engine.clone()));
        }
        let dir = self.settings.data_dir.join("regions").join(region);
        std::fs::create_dir_all(&dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let options = EngineOptions {
            location: Location {
                region: region.to_string(),
                account_id: self.settings.account_id.clone(),
            },
            ..EngineOptions::new(dir.join("queue.db"))
        };
        let engine = EmbeddedEngine::open(options, Arc::new(SystemClock))
            .map_err(|e| format!("cannot open the queues of region {region}: {e}"))?;
        tracing::info!(region, "opened the queues of another region");
        engines.insert(region.to_string(), engine.clone());
        Ok(Arc::new(engine))
    }
}

/// Bind the SQS endpoint and serve it until `terminated`.
async fn start_sqs(
    address: std::net::SocketAddr,
    options: conveyor_sqs::SqsOptions,
    queue: Arc<dyn Queue>,
    limits: conveyor_config::ConnectionSettings,
    terminated: watch::Receiver<bool>,
) -> anyhow::Result<tokio::task::JoinHandle<std::io::Result<()>>> {
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .with_context(|| {
            format!("cannot serve SQS on {address}; is another process (ElasticMQ?) using it? Set --sqs-listen to another address, or off")
        })?;
    let bound = listener.local_addr()?;
    tracing::info!(address = %bound, "conveyor serving the SQS protocol");
    println!("conveyor sqs listening on http://{bound}");
    let app = conveyor_sqs::router(queue, options);
    Ok(tokio::spawn(crate::listener::serve(
        listener, app, limits, terminated,
    )))
}

/// An endpoint's access keys as (id, secret) pairs; `None` when it has none (any signature).
fn key_pairs(keys: &[conveyor_config::AccessKey]) -> Option<Vec<(String, String)>> {
    (!keys.is_empty()).then(|| {
        keys.iter()
            .map(|k| (k.id.clone(), k.secret.expose().to_string()))
            .collect()
    })
}

/// The files API's key on the S3 endpoint, where the files API is on.
fn files_endpoint_key(settings: &Settings) -> Option<(String, conveyor_config::Secret)> {
    let jwt = settings.files.jwt_secret.as_ref()?;
    Some(conveyor_api::files::endpoint_key(jwt.expose().as_bytes()))
}

fn s3_options(settings: &Settings) -> conveyor_s3::S3Options {
    let credentials = match key_pairs(&settings.s3.access_keys) {
        None => conveyor_s3::Credentials::AcceptAny,
        Some(mut keys) => {
            // The files API signs its presigned URLs and forms with its own key.
            if let Some((id, secret)) = files_endpoint_key(settings) {
                keys.push((id, secret.expose().to_string()));
            }
            conveyor_s3::Credentials::Keys(keys)
        }
    };
    conveyor_s3::S3Options {
        layout: conveyor_s3::BucketsLayout {
            env_bucket: settings.bucket.clone(),
            env_root: settings.data_dir.join("objects"),
            created_root: settings.data_dir.join("buckets"),
            sidecar: settings.data_dir.join("s3.db"),
            uploads_root: settings.data_dir.join("s3-uploads"),
        },
        region: settings.region.clone(),
        credentials,
        domains: settings.s3.domains.clone(),
        cors_origins: settings.files.cors_origins.clone(),
    }
}

/// What signs the files API's presigned URLs and forms for the S3 endpoint bound at `bound`:
/// they name it as browsers reach it (`s3.public_url`, else the bound address).
fn presigning(
    settings: &Settings,
    bound: std::net::SocketAddr,
) -> anyhow::Result<Option<Arc<dyn conveyor_store::BackendExtras>>> {
    let Some((id, secret)) = files_endpoint_key(settings) else {
        return Ok(None);
    };
    let endpoint = match &settings.s3.public_url {
        Some(url) => url.clone(),
        None => format!("http://{bound}"),
    };
    Ok(Some(conveyor_aws::static_s3_signer(
        &endpoint,
        &settings.region,
        &id,
        secret.expose(),
        &settings.bucket,
    )?))
}

/// Bind the S3 endpoint and serve it until `terminated`; answers the bound address too.
async fn start_s3(
    address: std::net::SocketAddr,
    options: conveyor_s3::S3Options,
    limits: conveyor_config::ConnectionSettings,
    terminated: watch::Receiver<bool>,
) -> anyhow::Result<(
    tokio::task::JoinHandle<std::io::Result<()>>,
    std::net::SocketAddr,
)> {
    let app = conveyor_s3::router(options)?;
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .with_context(|| {
            format!("cannot serve S3 on {address}; is another process (MinIO?) using it? Set --s3-listen to another address, or off")
        })?;
    let bound = listener.local_addr()?;
    tracing::info!(address = %bound, "conveyor serving the S3 protocol");
    println!("conveyor s3 listening on http://{bound}");
    let server = tokio::spawn(crate::listener::serve(listener, app, limits, terminated));
    Ok((server, bound))
}

/// Completes once the termination signal has been seen.
async fn signalled(mut terminated: watch::Receiver<bool>) {
    let _ = terminated.wait_for(|t| *t).await;
}

/// The environment's embedded queue engine, opened (and locked) for this process.
pub(crate) fn open_engine(settings: &Settings) -> anyhow::Result<EmbeddedEngine> {
    let db = settings.data_dir.join("queue.db");
    let engine_options = EngineOptions {
        location: Location {
            region: settings.region.clone(),
            account_id: settings.account_id.clone(),
        },
        ..EngineOptions::new(&db)
    };
    EmbeddedEngine::open(engine_options, Arc::new(SystemClock))
        .with_context(|| format!("opening the queue database {}", db.display()))
}

/// The queue and the store the settings name, checked before any request is taken: on the
/// embedded engine the configured queues are created; on SQS and S3 they must exist already
/// (`conveyor provision`), and a missing one stops the process with one line saying so.
async fn open_backends(
    settings: &Settings,
) -> anyhow::Result<(Arc<dyn Queue>, Store, Option<EmbeddedEngine>)> {
    let aws = Aws::connect(settings).await?;
    let (queue, embedded): (Arc<dyn Queue>, Option<EmbeddedEngine>) =
        match (settings.backend.queue, &aws) {
            (QueueBackend::Sqs, Some(aws)) => {
                aws.verify_queues(settings).await?;
                tracing::info!(endpoint = %aws.sqs_endpoint(), "queues on SQS");
                (Arc::new(aws.sqs()), None)
            }
            _ => {
                let engine = open_engine(settings)?;
                crate::provision::provision_queues(&engine, settings, |name, done| {
                    tracing::debug!(queue = name, outcome = done.as_str(), "queue provisioned");
                })
                .await?;
                (Arc::new(engine.clone()), Some(engine))
            }
        };
    let store = open_store(settings, aws.as_ref()).await?;
    tracing::info!(store = store.description(), "objects stored");
    Ok((queue, store, embedded))
}

/// The environment's object store: its S3 bucket (checked to exist) or the local store under
/// the data directory, durable like S3: a worker deletes a message once its result is written,
/// and the files API answers an upload once it is stored, so neither write may sit only in the
/// page cache, where a power cut would lose a result whose message is already gone.
pub(crate) async fn open_store(settings: &Settings, aws: Option<&Aws>) -> anyhow::Result<Store> {
    Ok(match (settings.backend.store, aws) {
        (StoreBackend::S3, Some(aws)) => {
            aws.verify_bucket(&settings.bucket).await?;
            aws.s3_store(&settings.bucket)?
        }
        _ => Store::local_durable(settings.data_dir.join("objects"))?,
    })
}

/// Completes on SIGTERM or Ctrl-C.
async fn termination() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("termination requested: finishing requests in progress");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(variables: &[(&str, &str)]) -> Settings {
        let mut all = vec![(
            "CONVEYOR_JWT_SECRET".to_string(),
            "serve-refusal-secret-serve-refusal-secret".to_string(),
        )];
        all.extend(
            variables
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string())),
        );
        conveyor_config::load(None, all).unwrap().selected
    }

    #[test]
    fn presigning_for_the_s3_endpoint_needs_an_address_browsers_can_use_and_its_own_key_id() {
        let keys = (
            "CONVEYOR_S3_ACCESS_KEYS",
            "AKIALOCAL:a-long-enough-secret-value",
        );
        let everywhere = settings(&[("CONVEYOR_S3_LISTEN", "0.0.0.0:9000"), keys]);
        let found = refusals(&everywhere, Parts::Both);
        assert!(
            found.iter().any(|r| r.contains("s3.public_url")),
            "{found:?}"
        );
        let named = settings(&[
            ("CONVEYOR_S3_LISTEN", "0.0.0.0:9000"),
            ("CONVEYOR_S3_PUBLIC_URL", "https://files.example.com"),
            keys,
        ]);
        assert_eq!(refusals(&named, Parts::Both), Vec::<String>::new());
        // Workers serve no S3 endpoint, so they presign nothing.
        assert_eq!(refusals(&everywhere, Parts::Workers), Vec::<String>::new());
        let taken = settings(&[(
            "CONVEYOR_S3_ACCESS_KEYS",
            "conveyor-files:a-long-enough-secret-value",
        )]);
        let found = refusals(&taken, Parts::Both);
        assert!(found.iter().any(|r| r.contains("another id")), "{found:?}");
    }
}
