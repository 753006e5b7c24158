//! `conveyor serve`: everything in one process on the embedded defaults.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use conveyor_config::{Handler, Settings};
use conveyor_queue::{EmbeddedEngine, EngineOptions, Location, Queue, SystemClock};
use conveyor_store::Store;
use conveyor_worker::{FailHandler, HttpHandler, LogHandler, QueueWorker, WorkerStats};
use tokio::sync::watch;

use crate::ConfigArgs;

/// Message loops per queue.
const WORKER_CONCURRENCY: usize = 4;
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
    if parts.api() && !settings.listen.ip().is_loopback() && settings.api_keys.is_empty() {
        bail!(
            "environment {} would listen on {} with no API keys, open to anyone who can reach it: \
             set api_keys (or CONVEYOR_API_KEYS), or listen on 127.0.0.1",
            settings.environment,
            settings.listen
        );
    }
    let handlers = settings
        .queues
        .iter()
        .map(|q| -> anyhow::Result<Arc<dyn conveyor_worker::Handler>> {
            match &q.handler {
                Handler::Log => Ok(Arc::new(LogHandler)),
                Handler::Fail => Ok(Arc::new(FailHandler)),
                Handler::Http { url, timeout } => Ok(Arc::new(
                    HttpHandler::new(url.clone(), timeout.0)
                        .map_err(|e| anyhow::anyhow!("queue {}: {e}", q.key))?,
                )),
            }
        })
        .collect::<anyhow::Result<Vec<_>>>()?;

    check_sqs_exposure(&settings)?;
    let db = settings.data_dir.join("queue.db");
    let location = Location {
        region: settings.region.clone(),
        account_id: settings.account_id.clone(),
    };
    let engine_options = EngineOptions {
        location: location.clone(),
        ..EngineOptions::new(&db)
    };
    let engine = EmbeddedEngine::open(engine_options, Arc::new(SystemClock))
        .with_context(|| format!("opening the queue database {}", db.display()))?;
    provision(&engine, &settings).await?;
    let store = Store::local(settings.data_dir.join("objects"))?;

    let (stop, stopped) = watch::channel(false);
    let queue: Arc<dyn Queue> = Arc::new(engine.clone());
    // One termination signal stops both listeners.
    let (terminate, terminated) = watch::channel(false);
    tokio::spawn(async move {
        termination().await;
        let _ = terminate.send(true);
    });
    let sqs_server = match settings.sqs.listen {
        Some(address) => Some(
            start_sqs(
                address,
                sqs_options(&settings, location),
                queue.clone(),
                terminated.clone(),
            )
            .await?,
        ),
        None => None,
    };
    let mut workers = Vec::new();
    if parts.workers() {
        for (q, handler) in settings.queues.iter().zip(handlers) {
            let worker = QueueWorker {
                queue: q.name.clone(),
                handler,
                concurrency: WORKER_CONCURRENCY,
                visibility: q.visibility.0,
                poll_wait: Duration::from_secs(2),
                shutdown_grace: SHUTDOWN_GRACE,
            };
            let stats = Arc::new(WorkerStats::default());
            workers.push(tokio::spawn(conveyor_worker::run(
                queue.clone(),
                store.clone(),
                worker,
                stats,
                stopped.clone(),
            )));
        }
    }

    if parts.api() {
        let listener = tokio::net::TcpListener::bind(settings.listen)
            .await
            .with_context(|| {
                format!(
                    "cannot listen on {}; is another process using it?",
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
            store: store.clone(),
            settings: settings.clone(),
            metrics: Some(metrics),
        };
        let app = conveyor_api::router(state, conveyor_api::ApiLimits::default());
        axum::serve(listener, app)
            .with_graceful_shutdown(signalled(terminated.clone()))
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

/// Refuse an SQS endpoint that anyone on the network could call without credentials.
fn check_sqs_exposure(settings: &Settings) -> anyhow::Result<()> {
    let sqs = &settings.sqs;
    match sqs.listen {
        Some(address)
            if !address.ip().is_loopback()
                && sqs.access_keys.is_empty()
                && !sqs.allow_anonymous =>
        {
            bail!(
                "environment {} would serve SQS on {address} with no access keys, open to anyone who can reach it: \
                 set sqs.access_keys (or CONVEYOR_SQS_ACCESS_KEYS=id:secret), set sqs.allow_anonymous = true, \
                 or listen on 127.0.0.1",
                settings.environment
            )
        }
        _ => Ok(()),
    }
}

fn sqs_options(settings: &Settings, location: Location) -> conveyor_sqs::SqsOptions {
    let credentials = if settings.sqs.access_keys.is_empty() {
        conveyor_sqs::Credentials::AcceptAny
    } else {
        conveyor_sqs::Credentials::Keys(
            settings
                .sqs
                .access_keys
                .iter()
                .map(|k| (k.id.clone(), k.secret.expose().to_string()))
                .collect(),
        )
    };
    conveyor_sqs::SqsOptions {
        location,
        public_url: settings.sqs.public_url.clone(),
        credentials,
        ..Default::default()
    }
}

/// Bind the SQS endpoint and serve it until `terminated`.
async fn start_sqs(
    address: std::net::SocketAddr,
    options: conveyor_sqs::SqsOptions,
    queue: Arc<dyn Queue>,
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
    Ok(tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(signalled(terminated))
            .await
    }))
}

/// Completes once the termination signal has been seen.
async fn signalled(mut terminated: watch::Receiver<bool>) {
    let _ = terminated.wait_for(|t| *t).await;
}

/// Create every configured queue (dead-letter queues first) if missing; repeat runs are no-ops.
async fn provision(engine: &EmbeddedEngine, settings: &Settings) -> anyhow::Result<()> {
    let location: &Location = engine.location();
    for q in &settings.queues {
        ensure_queue(engine, &q.dlq_name, q.dlq_attributes()).await?;
        ensure_queue(
            engine,
            &q.name,
            q.attributes(Some(&location.arn(&q.dlq_name))),
        )
        .await?;
    }
    Ok(())
}

/// Create `name`, or bring an existing queue's attributes to what the configuration now says.
async fn ensure_queue(
    engine: &EmbeddedEngine,
    name: &str,
    mut attributes: std::collections::BTreeMap<String, String>,
) -> anyhow::Result<()> {
    match engine
        .create_queue(name, &attributes, &Default::default())
        .await
    {
        Ok(_) => Ok(()),
        Err(conveyor_queue::QueueError::QueueAlreadyExists { .. }) => {
            attributes.remove("FifoQueue");
            engine
                .set_attributes(name, &attributes)
                .await
                .with_context(|| format!("updating queue {name}"))
        }
        Err(e) => Err(e).with_context(|| format!("creating queue {name}")),
    }
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
