//! Property test: random operation sequences run against the embedded engine and against a small
//! in-memory model of SQS, comparing every observable result (send outcomes and deduplication,
//! which messages each receive returns and in which order, receive counts, visibility changes,
//! dead-lettering, counts).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use conveyor_queue::{
    Durability, EmbeddedEngine, EngineOptions, Location, ManualClock, Queue, ReceiveRequest,
    SendMessage,
};
use proptest::prelude::*;

const MAX_RECEIVES: u32 = 3;
const VISIBILITY: i64 = 10;

#[derive(Debug, Clone)]
enum Op {
    /// body index (small, so content-based dedup collides), group, per-message delay (standard only)
    Send {
        body: u8,
        group: u8,
        delayed: bool,
    },
    Receive {
        max: u32,
        visibility: Option<u32>,
    },
    /// index into the handles handed out so far (stale ones included)
    Delete {
        handle: usize,
    },
    ChangeVisibility {
        handle: usize,
        timeout: u32,
    },
    Advance {
        seconds: u32,
    },
    Counts,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0u8..6, 0u8..3, any::<bool>()).prop_map(|(body, group, delayed)| Op::Send { body, group, delayed }),
        4 => (1u32..=10, prop_oneof![Just(None), (0u32..20).prop_map(Some)]).prop_map(|(max, visibility)| Op::Receive { max, visibility }),
        2 => (0usize..40).prop_map(|handle| Op::Delete { handle }),
        1 => (0usize..40, 0u32..30).prop_map(|(handle, timeout)| Op::ChangeVisibility { handle, timeout }),
        2 => (1u32..15).prop_map(|seconds| Op::Advance { seconds }),
        1 => Just(Op::Counts),
    ]
}

#[derive(Debug, Clone)]
struct ModelMessage {
    seq: u64,
    label: usize,
    group: String,
    visible_at: i64,
    receive_count: u32,
    /// Which handed-out handle is the latest receive of this message.
    latest_handle: Option<usize>,
    received_ever: bool,
}

/// SQS as the specification describes it, kept deliberately naive.
struct Model {
    fifo: bool,
    now: i64,
    next_seq: u64,
    queue: Vec<ModelMessage>,
    dead: Vec<ModelMessage>,
    /// content-based dedup: body -> (label of the original, expiry)
    dedup: HashMap<u8, (usize, i64)>,
    /// handle index -> message label
    handles: Vec<usize>,
}

impl Model {
    fn send(&mut self, label: usize, body: u8, group: u8, delayed: bool) -> usize {
        if self.fifo {
            if let Some((original, expires)) = self.dedup.get(&body) {
                if *expires > self.now {
                    return *original;
                }
            }
            self.dedup.insert(body, (label, self.now + 300_000));
        }
        let delay = if delayed && !self.fifo { 5_000 } else { 0 };
        self.next_seq += 1;
        self.queue.push(ModelMessage {
            seq: self.next_seq,
            label,
            group: format!("g{group}"),
            visible_at: self.now + delay,
            receive_count: 0,
            latest_handle: None,
            received_ever: false,
        });
        label
    }

    /// Returns (label, receive count) in delivery order.
    fn receive(&mut self, max: usize, visibility: Option<u32>) -> Vec<(usize, u32)> {
        let vis = visibility.map(|v| v as i64).unwrap_or(VISIBILITY) * 1000;
        let now = self.now;
        // Which rows are candidates, in delivery order.
        let order: Vec<u64> = if self.fifo {
            let mut groups: Vec<(u64, String)> = Vec::new();
            for m in &self.queue {
                if !groups.iter().any(|(_, g)| *g == m.group) {
                    groups.push((m.seq, m.group.clone()));
                }
            }
            groups.sort();
            let mut order = Vec::new();
            for (_, g) in groups {
                let members: Vec<&ModelMessage> =
                    self.queue.iter().filter(|m| m.group == g).collect();
                let in_flight = members
                    .iter()
                    .any(|m| m.received_ever && m.visible_at > now);
                if in_flight {
                    continue;
                }
                for m in members {
                    if m.visible_at > now {
                        break;
                    }
                    order.push(m.seq);
                }
            }
            order
        } else {
            let mut visible: Vec<&ModelMessage> =
                self.queue.iter().filter(|m| m.visible_at <= now).collect();
            visible.sort_by_key(|m| (m.visible_at, m.seq));
            visible.iter().map(|m| m.seq).collect()
        };
        let mut out = Vec::new();
        for seq in order {
            if out.len() >= max {
                break;
            }
            let idx = self
                .queue
                .iter()
                .position(|m| m.seq == seq)
                .expect("present");
            if self.queue[idx].receive_count >= MAX_RECEIVES {
                let mut dead = self.queue.remove(idx);
                dead.visible_at = now;
                self.dead.push(dead);
                continue;
            }
            let handle = self.handles.len();
            let m = &mut self.queue[idx];
            self.handles.push(m.label);
            m.receive_count += 1;
            m.received_ever = true;
            m.visible_at = now + vis;
            m.latest_handle = Some(handle);
            out.push((m.label, m.receive_count));
        }
        out
    }

    fn delete(&mut self, handle: usize) {
        self.queue.retain(|m| m.latest_handle != Some(handle));
    }

    /// Ok, or the AWS error code.
    fn change_visibility(&mut self, handle: usize, timeout: u32) -> Result<(), &'static str> {
        let now = self.now;
        let Some(m) = self
            .queue
            .iter_mut()
            .find(|m| m.latest_handle == Some(handle))
        else {
            // A superseded or deleted message's handle has expired, as real SQS says.
            return Err("InvalidParameterValue");
        };
        if m.visible_at <= now {
            return Err("MessageNotInflight");
        }
        m.visible_at = now + timeout as i64 * 1000;
        Ok(())
    }

    fn counts(&self) -> (u64, u64, u64) {
        let visible = self
            .queue
            .iter()
            .filter(|m| m.visible_at <= self.now)
            .count() as u64;
        let in_flight = self
            .queue
            .iter()
            .filter(|m| m.visible_at > self.now && m.received_ever)
            .count() as u64;
        let delayed = self
            .queue
            .iter()
            .filter(|m| m.visible_at > self.now && !m.received_ever)
            .count() as u64;
        (visible, in_flight, delayed)
    }
}

fn run(fifo: bool, ops: Vec<Op>) -> Result<(), TestCaseError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let dir = tempfile::tempdir().expect("temp dir");
        let clock = ManualClock::default();
        let mut options = EngineOptions::new(dir.path().join("q.db"));
        options.maintenance_interval = None;
        // Same semantics as Full; the property is about behaviour, not power loss.
        options.durability = Durability::Relaxed;
        let engine = EmbeddedEngine::open(options, Arc::new(clock.clone())).expect("open");
        let (name, dlq) = if fifo {
            ("q.fifo", "dead.fifo")
        } else {
            ("q", "dead")
        };
        let mut base: BTreeMap<String, String> = BTreeMap::new();
        if fifo {
            base.insert("FifoQueue".into(), "true".into());
            base.insert("ContentBasedDeduplication".into(), "true".into());
        }
        engine
            .create_queue(dlq, &base, &BTreeMap::new())
            .await
            .expect("dlq");
        let mut attrs = base.clone();
        attrs.insert("VisibilityTimeout".into(), VISIBILITY.to_string());
        attrs.insert(
            "RedrivePolicy".into(),
            format!(
                r#"{{"deadLetterTargetArn":"{}","maxReceiveCount":{MAX_RECEIVES}}}"#,
                Location::default().arn(dlq)
            ),
        );
        engine
            .create_queue(name, &attrs, &BTreeMap::new())
            .await
            .expect("queue");

        let mut model = Model {
            fifo,
            now: clock.now_millis_for_model(),
            next_seq: 0,
            queue: Vec::new(),
            dead: Vec::new(),
            dedup: HashMap::new(),
            handles: Vec::new(),
        };
        let mut labels: Vec<String> = Vec::new(); // label -> engine message id
        let mut engine_handles: Vec<String> = Vec::new();
        for (step, op) in ops.into_iter().enumerate() {
            match op {
                Op::Send {
                    body,
                    group,
                    delayed,
                } => {
                    let mut m = SendMessage::new(format!("body-{body}"));
                    if fifo {
                        m = m.group(format!("g{group}"));
                    } else if delayed {
                        m = m.delay(5);
                    }
                    let sent = engine.send(name, m).await.expect("send");
                    let label = labels.len();
                    labels.push(sent.message_id.clone());
                    let expected = model.send(label, body, group, delayed);
                    prop_assert_eq!(
                        &sent.message_id,
                        &labels[expected],
                        "step {}: dedup outcome",
                        step
                    );
                }
                Op::Receive { max, visibility } => {
                    let mut request = ReceiveRequest::up_to(max);
                    request.visibility_timeout = visibility;
                    let got = engine.receive(name, request).await.expect("receive");
                    let expected = model.receive(max as usize, visibility);
                    let got_labels: Vec<(usize, u32)> = got
                        .iter()
                        .map(|m| {
                            (
                                labels
                                    .iter()
                                    .position(|id| *id == m.message_id)
                                    .expect("known id"),
                                m.approximate_receive_count,
                            )
                        })
                        .collect();
                    prop_assert_eq!(&got_labels, &expected, "step {}: receive", step);
                    engine_handles.extend(got.into_iter().map(|m| m.receipt_handle));
                }
                Op::Delete { handle } => {
                    if handle < engine_handles.len() {
                        engine
                            .delete(name, &engine_handles[handle])
                            .await
                            .expect("delete succeeds, even stale");
                        model.delete(handle);
                    }
                }
                Op::ChangeVisibility { handle, timeout } => {
                    if handle < engine_handles.len() {
                        let got = engine
                            .change_visibility(name, &engine_handles[handle], timeout)
                            .await
                            .map_err(|e| e.aws_code());
                        let expected = model.change_visibility(handle, timeout);
                        prop_assert_eq!(got, expected, "step {}: change visibility", step);
                    }
                }
                Op::Advance { seconds } => {
                    clock.advance(Duration::from_secs(seconds as u64));
                    model.now += seconds as i64 * 1000;
                }
                Op::Counts => {
                    let c = engine.counts(name).await.expect("counts");
                    prop_assert_eq!(
                        (c.visible, c.in_flight, c.delayed),
                        model.counts(),
                        "step {}: counts",
                        step
                    );
                    let d = engine.counts(dlq).await.expect("dlq counts");
                    prop_assert_eq!(
                        d.visible + d.in_flight + d.delayed,
                        model.dead.len() as u64,
                        "step {}: dlq size",
                        step
                    );
                }
            }
        }
        Ok(())
    })
}

trait ModelNow {
    fn now_millis_for_model(&self) -> i64;
}

impl ModelNow for ManualClock {
    fn now_millis_for_model(&self) -> i64 {
        conveyor_queue::Clock::now_millis(self)
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn standard_queue_matches_model(ops in proptest::collection::vec(op(), 1..60)) {
        run(false, ops)?;
    }

    #[test]
    fn fifo_queue_matches_model(ops in proptest::collection::vec(op(), 1..60)) {
        run(true, ops)?;
    }
}
