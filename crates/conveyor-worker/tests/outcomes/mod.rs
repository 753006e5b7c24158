//! What the runtime tests share, and the outcome scenarios (Retry with and without `after`,
//! Reject) that run on the embedded engine (`runtime.rs`) and on moto (`runtime_moto.rs`).
#![allow(dead_code)] // each test file uses a different subset

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use conveyor_queue::{Queue, ReceiveRequest, ReceivedMessage, SendMessage};
use conveyor_store::Store;
pub use conveyor_worker::testing::eventually;
use conveyor_worker::{Backoff, Handler, HandlerError, QueueWorker, WorkerStats};
use tokio::sync::watch;

pub fn attrs(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

pub fn worker(queue: &str, handler: Arc<dyn Handler>, visibility: u64) -> QueueWorker {
    QueueWorker {
        queue: queue.into(),
        handler,
        concurrency: 2,
        visibility: Duration::from_secs(visibility),
        poll_wait: Duration::from_secs(1),
        shutdown_grace: Duration::from_secs(5),
        backoff: Backoff {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(1),
        },
        dead_letter_queue: None,
        flow: Default::default(),
        batch: None,
    }
}

/// What a `Scripted` handler answers on each call (the last answer repeats).
#[derive(Clone)]
pub enum Answer {
    Done,
    Retry(Option<Duration>),
    Reject,
}

/// Answers from a script and notes when each call came.
pub struct Scripted {
    script: Vec<Answer>,
    calls: std::sync::Mutex<Vec<std::time::Instant>>,
}

impl Scripted {
    pub fn new(script: &[Answer]) -> Arc<Scripted> {
        Arc::new(Scripted {
            script: script.to_vec(),
            calls: Default::default(),
        })
    }

    pub fn calls(&self) -> Vec<std::time::Instant> {
        self.calls.lock().unwrap().clone()
    }
}

#[async_trait::async_trait]
impl Handler for Scripted {
    fn kind(&self) -> &'static str {
        "scripted"
    }
    async fn handle(&self, _m: &ReceivedMessage) -> Result<serde_json::Value, HandlerError> {
        let n = {
            let mut calls = self.calls.lock().unwrap();
            calls.push(std::time::Instant::now());
            calls.len() - 1
        };
        match self.script[n.min(self.script.len() - 1)].clone() {
            Answer::Done => Ok(serde_json::json!({ "call": n + 1 })),
            Answer::Retry(after) => Err(HandlerError::Retry {
                reason: "not yet".into(),
                after,
            }),
            Answer::Reject => Err(HandlerError::reject("never")),
        }
    }
}

/// Run `w` on `queue` in the background; the returned sender stops it.
pub fn start(
    queue: &Arc<dyn Queue>,
    store: &Store,
    w: QueueWorker,
    stats: Arc<WorkerStats>,
) -> (watch::Sender<bool>, tokio::task::JoinHandle<()>) {
    let (stop, stopped) = watch::channel(false);
    let task = tokio::spawn(conveyor_worker::run(
        queue.clone(),
        store.clone(),
        w,
        stats,
        stopped,
    ));
    (stop, task)
}

/// `Retry { after }` comes back after that time, not the visibility timeout.
pub async fn retry_after_comes_back_after_that_time(q: Arc<dyn Queue>, store: Store) {
    q.create_queue(
        "later",
        &attrs(&[("VisibilityTimeout", "60")]),
        &BTreeMap::new(),
    )
    .await
    .unwrap();
    q.send("later", SendMessage::new("m")).await.unwrap();
    let handler = Scripted::new(&[Answer::Retry(Some(Duration::from_secs(2))), Answer::Done]);
    let stats = Arc::new(WorkerStats::default());
    let (stop, task) = start(
        &q,
        &store,
        worker("later", handler.clone(), 60),
        stats.clone(),
    );
    eventually("the retried message is processed", async || {
        stats.processed() == 1
    })
    .await;
    stop.send(true).unwrap();
    task.await.unwrap();
    let calls = handler.calls();
    let gap = calls[1] - calls[0];
    assert!(
        gap >= Duration::from_millis(1900) && gap < Duration::from_secs(10),
        "came back after {gap:?}: the handler asked for 2 s (the visibility timeout is 60 s)"
    );
}

/// `Retry` without `after` backs off, more each time.
pub async fn retries_back_off_more_each_time(q: Arc<dyn Queue>, store: Store) {
    q.create_queue(
        "flaky",
        &attrs(&[("VisibilityTimeout", "60")]),
        &BTreeMap::new(),
    )
    .await
    .unwrap();
    q.send("flaky", SendMessage::new("m")).await.unwrap();
    let handler = Scripted::new(&[Answer::Retry(None)]);
    let mut w = worker("flaky", handler.clone(), 60);
    w.concurrency = 1;
    w.backoff = Backoff {
        initial: Duration::from_secs(1),
        max: Duration::from_secs(8),
    };
    let stats = Arc::new(WorkerStats::default());
    let (stop, task) = start(&q, &store, w, stats.clone());
    eventually("four attempts", async || handler.calls().len() >= 4).await;
    stop.send(true).unwrap();
    task.await.unwrap();
    let calls = handler.calls();
    let gaps: Vec<Duration> = calls.windows(2).map(|w| w[1] - w[0]).collect();
    // Waits drawn from [1/2, 1] s, [1, 2] s, [2, 4] s: each at least the one before.
    assert!(gaps[0] >= Duration::from_millis(450), "{gaps:?}");
    assert!(gaps[2] >= Duration::from_millis(1950), "{gaps:?}");
    assert!(gaps[2] > gaps[0], "the backoff grows: {gaps:?}");
}

/// `Reject` reaches the dead-letter queue after one receive.
pub async fn reject_reaches_the_dead_letter_queue_after_one_receive(
    q: Arc<dyn Queue>,
    store: Store,
    arn: &dyn Fn(&str) -> String,
) {
    q.create_queue("jobs-dlq", &BTreeMap::new(), &BTreeMap::new())
        .await
        .unwrap();
    let policy = format!(
        r#"{{"deadLetterTargetArn":"{}","maxReceiveCount":5}}"#,
        arn("jobs-dlq")
    );
    q.create_queue(
        "jobs",
        &attrs(&[("RedrivePolicy", &policy)]),
        &BTreeMap::new(),
    )
    .await
    .unwrap();
    q.send("jobs", SendMessage::new("bad address"))
        .await
        .unwrap();
    let handler = Scripted::new(&[Answer::Reject]);
    let mut w = worker("jobs", handler.clone(), 30);
    w.dead_letter_queue = Some("jobs-dlq".into());
    let stats = Arc::new(WorkerStats::default());
    let (stop, task) = start(&q, &store, w, stats.clone());
    eventually(
        "the rejected message is in the dead-letter queue",
        async || q.counts("jobs-dlq").await.unwrap().visible == 1,
    )
    .await;
    stop.send(true).unwrap();
    task.await.unwrap();
    assert_eq!(
        handler.calls().len(),
        1,
        "one receive, none of the other four"
    );
    let counts = q.counts("jobs").await.unwrap();
    assert_eq!((counts.visible, counts.in_flight), (0, 0));
    let dead = q
        .receive("jobs-dlq", ReceiveRequest::up_to(1))
        .await
        .unwrap();
    assert_eq!(dead[0].body, "bad address");
}
