//! The worker runtime against the real embedded engine and a local store.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use conveyor_queue::{Location, Queue, ReceiveRequest, ReceivedMessage, SendMessage};

mod outcomes;
use conveyor_worker::testing::{fixture, Fixture};
use conveyor_worker::{Handler, HandlerError, QueueWorker, WorkerStats};
use outcomes::{attrs, eventually, worker, Answer, Scripted};
use tokio::sync::watch;

/// Run `w` on the fixture's engine in the background; the returned sender stops it.
fn start(
    f: &Fixture,
    w: QueueWorker,
    stats: Arc<WorkerStats>,
) -> (watch::Sender<bool>, tokio::task::JoinHandle<()>) {
    outcomes::start(
        &(Arc::new(f.engine.clone()) as Arc<dyn Queue>),
        &f.store,
        w,
        stats,
    )
}

/// Sleeps `delay` per message and counts its calls.
struct Slow {
    delay: Duration,
    calls: AtomicU64,
}

#[async_trait::async_trait]
impl Handler for Slow {
    fn kind(&self) -> &'static str {
        "slow"
    }
    async fn handle(&self, _m: &ReceivedMessage) -> Result<serde_json::Value, HandlerError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(self.delay).await;
        Ok(serde_json::json!({"slept_ms": self.delay.as_millis() as u64}))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_message_gets_a_result_at_its_partition_path_then_is_deleted() {
    let f = fixture();
    f.engine
        .create_queue("jobs", &BTreeMap::new(), &BTreeMap::new())
        .await
        .unwrap();
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(
            f.engine
                .send("jobs", SendMessage::new(format!("{{\"n\":{i}}}")))
                .await
                .unwrap()
                .message_id,
        );
    }
    let stats = Arc::new(WorkerStats::default());
    let (stop, task) = start(
        &f,
        worker("jobs", Scripted::new(&[Answer::Done]), 30),
        stats.clone(),
    );
    eventually("five messages are processed", async || {
        stats.processed() == 5
    })
    .await;
    stop.send(true).unwrap();
    task.await.unwrap();

    let keys = f.store.list("results/jobs").await.unwrap();
    assert_eq!(keys.len(), 5);
    for id in &ids {
        let key = keys
            .iter()
            .find(|k| k.ends_with(&format!("/{id}.json")))
            .expect("a result per message");
        assert!(
            key.contains("/year=")
                && key.contains("/month=")
                && key.contains("/day=")
                && key.contains("/hour="),
            "{key}"
        );
        let record: serde_json::Value =
            serde_json::from_slice(&f.store.get(key).await.unwrap()).unwrap();
        assert_eq!(record["message_id"], id.as_str());
        assert_eq!(record["status"], "processed");
        assert_eq!(record["handler"], "scripted");
        assert!(
            record["body"]["n"].is_number(),
            "JSON bodies are stored as JSON: {record}"
        );
    }
    let c = f.engine.counts("jobs").await.unwrap();
    assert_eq!((c.visible, c.in_flight), (0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_messages_reach_the_dead_letter_queue_with_their_receive_count() {
    let f = fixture();
    f.engine
        .create_queue("jobs-dlq", &BTreeMap::new(), &BTreeMap::new())
        .await
        .unwrap();
    let policy = format!(
        r#"{{"deadLetterTargetArn":"{}","maxReceiveCount":2}}"#,
        Location::default().arn("jobs-dlq")
    );
    f.engine
        .create_queue(
            "jobs",
            &attrs(&[("VisibilityTimeout", "1"), ("RedrivePolicy", &policy)]),
            &BTreeMap::new(),
        )
        .await
        .unwrap();
    f.engine
        .send("jobs", SendMessage::new("poison"))
        .await
        .unwrap();
    let stats = Arc::new(WorkerStats::default());
    let (stop, task) = start(
        &f,
        worker("jobs", Scripted::new(&[Answer::Retry(None)]), 1),
        stats.clone(),
    );
    eventually("the message is dead-lettered", async || {
        f.engine.counts("jobs-dlq").await.unwrap().visible == 1
    })
    .await;
    stop.send(true).unwrap();
    task.await.unwrap();
    assert_eq!(stats.failed(), 2);
    assert_eq!(stats.processed(), 0);
    let dead = f
        .engine
        .receive("jobs-dlq", ReceiveRequest::up_to(1))
        .await
        .unwrap();
    assert_eq!(dead[0].body, "poison");
    assert_eq!(
        dead[0].approximate_receive_count, 3,
        "two failed receives in the source, then this one"
    );
    assert!(
        f.store.list("results/jobs").await.unwrap().is_empty(),
        "a failed message has no result"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_with_after_comes_back_after_that_time_not_the_visibility_timeout() {
    let f = fixture();
    outcomes::retry_after_comes_back_after_that_time(Arc::new(f.engine.clone()), f.store.clone())
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_after_retries_back_off_more_each_time() {
    let f = fixture();
    outcomes::retries_back_off_more_each_time(Arc::new(f.engine.clone()), f.store.clone()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_message_reaches_its_dead_letter_queue_after_one_receive() {
    let f = fixture();
    outcomes::reject_reaches_the_dead_letter_queue_after_one_receive(
        Arc::new(f.engine.clone()),
        f.store.clone(),
        &|name| Location::default().arn(name),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_message_without_a_dead_letter_queue_is_deleted_with_a_rejected_result() {
    let f = fixture();
    f.engine
        .create_queue("jobs", &BTreeMap::new(), &BTreeMap::new())
        .await
        .unwrap();
    f.engine
        .send("jobs", SendMessage::new("refused"))
        .await
        .unwrap();
    let stats = Arc::new(WorkerStats::default());
    let (stop, task) = start(
        &f,
        worker("jobs", Scripted::new(&[Answer::Reject]), 30),
        stats.clone(),
    );
    eventually("a result is stored", async || {
        !f.store.list("results/jobs").await.unwrap().is_empty()
    })
    .await;
    stop.send(true).unwrap();
    task.await.unwrap();
    let key = f.store.list("results/jobs").await.unwrap().remove(0);
    let record: serde_json::Value =
        serde_json::from_slice(&f.store.get(&key).await.unwrap()).unwrap();
    assert_eq!(record["status"], "rejected");
    assert_eq!(record["output"]["rejected"], "never");
    assert_eq!(f.engine.counts("jobs").await.unwrap().visible, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handler_slower_than_the_visibility_timeout_keeps_its_message() {
    let f = fixture();
    f.engine
        .create_queue(
            "slow",
            &attrs(&[("VisibilityTimeout", "1")]),
            &BTreeMap::new(),
        )
        .await
        .unwrap();
    f.engine
        .send("slow", SendMessage::new("long job"))
        .await
        .unwrap();
    let handler = Arc::new(Slow {
        delay: Duration::from_millis(2_500),
        calls: AtomicU64::new(0),
    });
    let stats = Arc::new(WorkerStats::default());
    let (stop, task) = start(&f, worker("slow", handler.clone(), 1), stats.clone());
    eventually("the slow message is processed", async || {
        stats.processed() == 1
    })
    .await;
    stop.send(true).unwrap();
    task.await.unwrap();
    assert_eq!(
        handler.calls.load(Ordering::SeqCst),
        1,
        "the second loop must not get the message meanwhile"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_lets_a_running_handler_finish() {
    let f = fixture();
    f.engine
        .create_queue("finish", &BTreeMap::new(), &BTreeMap::new())
        .await
        .unwrap();
    f.engine
        .send("finish", SendMessage::new("in progress"))
        .await
        .unwrap();
    let handler = Arc::new(Slow {
        delay: Duration::from_millis(800),
        calls: AtomicU64::new(0),
    });
    let stats = Arc::new(WorkerStats::default());
    let (stop, task) = start(&f, worker("finish", handler.clone(), 30), stats.clone());
    eventually("the handler starts", async || {
        handler.calls.load(Ordering::SeqCst) == 1
    })
    .await;
    stop.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .expect("the worker stops")
        .unwrap();
    assert_eq!(stats.processed(), 1);
    assert_eq!(f.store.list("results/finish").await.unwrap().len(), 1);
    let c = f.engine.counts("finish").await.unwrap();
    assert_eq!((c.visible, c.in_flight), (0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_releases_a_message_whose_handler_overruns_the_grace() {
    let f = fixture();
    f.engine
        .create_queue("stuck", &BTreeMap::new(), &BTreeMap::new())
        .await
        .unwrap();
    f.engine
        .send("stuck", SendMessage::new("never finishes"))
        .await
        .unwrap();
    let handler = Arc::new(Slow {
        delay: Duration::from_secs(3_600),
        calls: AtomicU64::new(0),
    });
    let stats = Arc::new(WorkerStats::default());
    let mut w = worker("stuck", handler.clone(), 30);
    w.shutdown_grace = Duration::from_millis(200);
    let (stop, task) = start(&f, w, stats.clone());
    eventually("the handler starts", async || {
        handler.calls.load(Ordering::SeqCst) == 1
    })
    .await;
    stop.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .expect("the worker stops")
        .unwrap();
    assert!(stats.released() >= 1);
    assert_eq!(stats.processed(), 0);
    // Released, not held for its 30 s visibility timeout: it can be received at once.
    let again = f
        .engine
        .receive("stuck", ReceiveRequest::up_to(1))
        .await
        .unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].body, "never finishes");
}

/// Notes every call's key and when it ran, sleeping `delay` in it.
struct Timed {
    delay: Duration,
    spans: std::sync::Mutex<Vec<(String, std::time::Instant, std::time::Instant)>>,
}

#[async_trait::async_trait]
impl Handler for Timed {
    fn kind(&self) -> &'static str {
        "timed"
    }
    async fn handle(&self, m: &ReceivedMessage) -> Result<serde_json::Value, HandlerError> {
        let start = std::time::Instant::now();
        tokio::time::sleep(self.delay).await;
        let key = m.group_id.clone().unwrap_or_default();
        self.spans
            .lock()
            .unwrap()
            .push((key, start, std::time::Instant::now()));
        Ok(serde_json::json!({}))
    }
}

fn timed(delay_ms: u64) -> Arc<Timed> {
    Arc::new(Timed {
        delay: Duration::from_millis(delay_ms),
        spans: Default::default(),
    })
}

async fn fill(f: &Fixture, queue: &str, n: usize, groups: usize) {
    f.engine
        .create_queue(queue, &BTreeMap::new(), &BTreeMap::new())
        .await
        .unwrap();
    for chunk in (0..n).collect::<Vec<_>>().chunks(10) {
        let entries = chunk
            .iter()
            .map(|i| conveyor_queue::BatchEntry {
                id: i.to_string(),
                entry: SendMessage::new(format!("m{i}")).group(format!("g{}", i % groups)),
            })
            .collect();
        f.engine.send_batch(queue, entries).await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_of_20_per_second_holds_over_10_seconds_with_8_loops() {
    rate_holds(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_holds_in_batch_mode_too() {
    rate_holds(Some(conveyor_worker::BatchLimits {
        max_messages: 5,
        max_wait: Duration::from_millis(200),
        max_bytes: None,
    }))
    .await;
}

async fn rate_holds(batch: Option<conveyor_worker::BatchLimits>) {
    let f = fixture();
    fill(&f, "paced", 300, 1).await;
    let handler = timed(0);
    let mut w = worker("paced", handler.clone(), 30);
    w.concurrency = 8;
    w.flow.rate = Some(20.0);
    w.batch = batch;
    let stats = Arc::new(WorkerStats::default());
    let (stop, task) = start(&f, w, stats.clone());
    tokio::time::sleep(Duration::from_secs(11)).await;
    stop.send(true).unwrap();
    task.await.unwrap();
    let spans = handler.spans.lock().unwrap().clone();
    let first = spans.iter().map(|s| s.1).min().unwrap();
    let in_window = spans
        .iter()
        .filter(|s| s.1 < first + Duration::from_secs(10))
        .count();
    // 20 per second for 10 s, plus the first token: 201; within 5% either way.
    assert!(
        (191..=211).contains(&in_window),
        "{in_window} messages in the first 10 s at 20/s"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_key_concurrency_never_exceeds_its_bound() {
    let f = fixture();
    fill(&f, "keyed", 40, 2).await;
    let handler = timed(150);
    let mut w = worker("keyed", handler.clone(), 30);
    w.concurrency = 8;
    w.flow.key = Some(conveyor_worker::RateKey::Group);
    w.flow.key_concurrency = Some(2);
    let stats = Arc::new(WorkerStats::default());
    let (stop, task) = start(&f, w, stats.clone());
    eventually("all 40 are processed", async || stats.processed() == 40).await;
    stop.send(true).unwrap();
    task.await.unwrap();
    let spans = handler.spans.lock().unwrap().clone();
    let mut most = 0;
    for (key, start, _) in &spans {
        // How many of this key's calls were running at the moment this one started.
        let running = spans
            .iter()
            .filter(|(k, s, e)| k == key && s <= start && e > start)
            .count();
        most = most.max(running);
    }
    assert_eq!(
        most, 2,
        "at most 2 per key at once, and the bound is reached"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_queue_takes_nothing_until_resumed() {
    let f = fixture();
    f.engine
        .create_queue("held", &BTreeMap::new(), &BTreeMap::new())
        .await
        .unwrap();
    let stats = Arc::new(WorkerStats::default());
    let (stop, task) = start(
        &f,
        worker("held", Scripted::new(&[Answer::Done]), 30),
        stats.clone(),
    );
    let paused = BTreeMap::from([(conveyor_worker::PAUSED_TAG.to_string(), "true".to_string())]);
    f.engine.tag("held", &paused).await.unwrap();
    // Within one poll (1 s here) the loops stop taking messages.
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    for i in 0..3 {
        f.engine
            .send("held", SendMessage::new(format!("m{i}")))
            .await
            .unwrap();
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(stats.processed(), 0, "nothing is taken while paused");
    assert_eq!(f.engine.counts("held").await.unwrap().visible, 3);
    f.engine
        .untag("held", &[conveyor_worker::PAUSED_TAG.to_string()])
        .await
        .unwrap();
    eventually("the queue drains once resumed", async || {
        stats.processed() == 3
    })
    .await;
    stop.send(true).unwrap();
    task.await.unwrap();
}

/// Takes whole batches, noting their sizes; fails (Retry in 1 s) the messages whose body ends
/// in an odd digit, the first time each is seen.
struct Batcher {
    sizes: std::sync::Mutex<Vec<usize>>,
    seen: std::sync::Mutex<std::collections::HashMap<String, u32>>,
}

#[async_trait::async_trait]
impl Handler for Batcher {
    fn kind(&self) -> &'static str {
        "batcher"
    }
    async fn handle(&self, _m: &ReceivedMessage) -> Result<serde_json::Value, HandlerError> {
        unreachable!("batch mode calls handle_batch")
    }
    async fn handle_batch(
        &self,
        messages: &[ReceivedMessage],
    ) -> Vec<Result<serde_json::Value, HandlerError>> {
        self.sizes.lock().unwrap().push(messages.len());
        let mut seen = self.seen.lock().unwrap();
        messages
            .iter()
            .map(|m| {
                let odd = m.body.ends_with(['1', '3', '5', '7', '9']);
                let times = seen.entry(m.body.clone()).or_default();
                *times += 1;
                if odd && *times == 1 {
                    Err(HandlerError::retry_after(
                        "odd, once",
                        Duration::from_secs(1),
                    ))
                } else {
                    Ok(serde_json::json!({ "batched": true }))
                }
            })
            .collect()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_handler_gets_up_to_its_limit_and_a_partial_failure_deletes_only_the_successes() {
    let f = fixture();
    f.engine
        .create_queue(
            "bulk",
            &attrs(&[("VisibilityTimeout", "30")]),
            &BTreeMap::new(),
        )
        .await
        .unwrap();
    for chunk in (0..250).collect::<Vec<_>>().chunks(10) {
        let entries = chunk
            .iter()
            .map(|i| conveyor_queue::BatchEntry {
                id: i.to_string(),
                entry: SendMessage::new(format!("event-{i}")),
            })
            .collect();
        f.engine.send_batch("bulk", entries).await.unwrap();
    }
    let handler = Arc::new(Batcher {
        sizes: Default::default(),
        seen: Default::default(),
    });
    let mut w = worker("bulk", handler.clone(), 30);
    w.concurrency = 1;
    w.batch = Some(conveyor_worker::BatchLimits {
        max_messages: 100,
        max_wait: Duration::from_secs(2),
        max_bytes: None,
    });
    let stats = Arc::new(WorkerStats::default());
    let (stop, task) = start(&f, w, stats.clone());
    eventually("every message is processed", async || {
        stats.processed() == 250
    })
    .await;
    stop.send(true).unwrap();
    task.await.unwrap();
    let sizes = handler.sizes.lock().unwrap().clone();
    assert_eq!(sizes[0], 100, "a full batch of max_messages: {sizes:?}");
    assert!(sizes.iter().all(|&n| n <= 100), "{sizes:?}");
    // Each failure came back once (it was not deleted); no success came back (it was).
    for (body, times) in handler.seen.lock().unwrap().iter() {
        let odd = body.ends_with(['1', '3', '5', '7', '9']);
        assert_eq!(*times, if odd { 2 } else { 1 }, "{body}");
    }
    let c = f.engine.counts("bulk").await.unwrap();
    assert_eq!(
        (c.visible, c.in_flight),
        (0, 0),
        "all deleted, each once processed"
    );
    assert_eq!(f.store.list("results/bulk").await.unwrap().len(), 250);
}
