//! The SQS semantics, written once as executable cases against the `Queue` trait.
//!
//! Every implementation runs the same cases through `conformance_suite!`, given a `Harness` that
//! creates a fresh backend and can move time forward (a manual clock for the embedded engine,
//! real waiting for a remote service). A backend that cannot honour a case says so in its
//! harness with the reason, so nothing is skipped silently: `skip_reason` for a case that cannot
//! apply (it would need ten minutes of real time), `known_deviation` for a case the backend is
//! known to get wrong (an emulator's gap). A known deviation still runs and must fail: when the
//! backend is fixed, the suite says so, and the entry is removed.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use crate::{
    BatchEntry, MessageAttributeValue, MoveTaskStatus, Queue, QueueError, ReceiveRequest,
    SendMessage,
};

/// What a backend under test provides.
#[async_trait::async_trait]
pub trait Harness: Send + Sync {
    fn queue(&self) -> Arc<dyn Queue>;
    /// Let `seconds` pass as far as the queue is concerned.
    async fn advance(&self, seconds: u64);
    /// Let background work (retention sweeps, move tasks) catch up with the clock.
    async fn settle(&self);
    /// A queue name unique to this run, from `base` (keeps a `.fifo` suffix last).
    fn name(&self, base: &str) -> String;
    /// The ARN this backend gives queue `name`.
    fn arn(&self, name: &str) -> String;
    /// `Some(reason)` when `case` cannot apply to this backend; it is not run.
    fn skip_reason(&self, _case: &str) -> Option<&'static str> {
        None
    }
    /// `Some(reason)` when this backend is known to fail `case`; it runs and must fail.
    fn known_deviation(&self, _case: &str) -> Option<&'static str> {
        None
    }
}

/// Run `case` against a backend that is known to fail it, and insist that it still does.
pub async fn expect_deviation<H, F>(harness: std::sync::Arc<H>, case: &str, reason: &str, run: F)
where
    H: Harness + 'static,
    F: for<'a> FnOnce(
            &'a dyn Harness,
        )
            -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + 'a>>
        + Send
        + 'static,
{
    let outcome = tokio::spawn(async move { run(&*harness).await }).await;
    match outcome {
        Err(e) if e.is_panic() => {
            eprintln!("{case}: fails on this backend, as known: {reason}");
        }
        Err(e) => panic!("{case}: the case did not finish: {e}"),
        Ok(()) => {
            panic!("{case} now passes on this backend: remove its known_deviation entry ({reason})")
        }
    }
}

fn attrs(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn none() -> BTreeMap<String, String> {
    BTreeMap::new()
}

async fn fifo_queue(h: &dyn Harness, base: &str, extra: &[(&str, &str)]) -> String {
    let name = h.name(&format!("{base}.fifo"));
    let mut a = attrs(&[("FifoQueue", "true")]);
    a.extend(attrs(extra));
    h.queue()
        .create_queue(&name, &a, &none())
        .await
        .expect("create FIFO queue");
    name
}

async fn standard_queue(h: &dyn Harness, base: &str, extra: &[(&str, &str)]) -> String {
    let name = h.name(base);
    h.queue()
        .create_queue(&name, &attrs(extra), &none())
        .await
        .expect("create queue");
    name
}

async fn receive(h: &dyn Harness, queue: &str, max: u32) -> Vec<crate::ReceivedMessage> {
    h.queue()
        .receive(queue, ReceiveRequest::up_to(max))
        .await
        .expect("receive")
}

fn bodies(messages: &[crate::ReceivedMessage]) -> Vec<String> {
    messages.iter().map(|m| m.body.clone()).collect()
}

fn code<T: std::fmt::Debug>(r: Result<T, QueueError>) -> &'static str {
    match r {
        Ok(v) => panic!("expected an error, got {v:?}"),
        Err(e) => e.aws_code(),
    }
}

pub async fn queue_lifecycle(h: &dyn Harness) {
    let q = h.queue();
    let name = h.name("life");
    let info = q
        .create_queue(&name, &attrs(&[("VisibilityTimeout", "60")]), &none())
        .await
        .unwrap();
    assert_eq!(info.arn, h.arn(&name));
    assert_eq!(q.get_queue(&name).await.unwrap(), info);
    // Repeating a create with the same (or no) attributes is harmless; different ones are refused.
    q.create_queue(&name, &attrs(&[("VisibilityTimeout", "60")]), &none())
        .await
        .unwrap();
    q.create_queue(&name, &none(), &none()).await.unwrap();
    let err = q
        .create_queue(&name, &attrs(&[("VisibilityTimeout", "61")]), &none())
        .await
        .unwrap_err();
    assert!(
        matches!(err, QueueError::QueueAlreadyExists { .. }),
        "{err:?}"
    );
    q.delete_queue(&name).await.unwrap();
    assert_eq!(code(q.get_queue(&name).await), "QueueDoesNotExist");
    assert_eq!(
        code(q.send(&name, SendMessage::new("x")).await),
        "QueueDoesNotExist"
    );
    assert_eq!(
        code(q.receive(&name, ReceiveRequest::default()).await),
        "QueueDoesNotExist"
    );
    assert_eq!(code(q.delete_queue(&name).await), "QueueDoesNotExist");
}

pub async fn queue_name_rules(h: &dyn Harness) {
    let q = h.queue();
    for bad in ["has space", "dot.ted", "", &"x".repeat(81)] {
        assert_eq!(
            code(q.create_queue(bad, &none(), &none()).await),
            "InvalidParameterValue",
            "{bad:?}"
        );
    }
    let fifo_name = h.name("suffix.fifo");
    assert!(
        q.create_queue(&fifo_name, &none(), &none()).await.is_err(),
        ".fifo without FifoQueue"
    );
    let plain = h.name("plain");
    assert!(q
        .create_queue(&plain, &attrs(&[("FifoQueue", "true")]), &none())
        .await
        .is_err());
}

pub async fn list_queues_by_prefix_with_pages(h: &dyn Harness) {
    let q = h.queue();
    let names: Vec<String> = (0..5).map(|i| h.name(&format!("lst{i}"))).collect();
    for n in &names {
        q.create_queue(n, &none(), &none()).await.unwrap();
    }
    let prefix = names[0].trim_end_matches(char::is_numeric).to_string();
    let all = q.list_queues(Some(&prefix), None, None).await.unwrap();
    let listed: Vec<String> = all
        .items
        .iter()
        .map(|i| i.name.clone())
        .filter(|n| names.contains(n))
        .collect();
    assert_eq!(listed.len(), 5);
    let mut seen = Vec::new();
    let mut token = None;
    loop {
        let page = q
            .list_queues(Some(&prefix), Some(2), token.as_deref())
            .await
            .unwrap();
        assert!(page.items.len() <= 2);
        seen.extend(page.items.into_iter().map(|i| i.name));
        match page.next_token {
            Some(t) => token = Some(t),
            None => break,
        }
    }
    for n in &names {
        assert!(seen.contains(n), "pagination lost {n}");
    }
}

pub async fn attributes_round_trip_and_refuse_bad_values(h: &dyn Harness) {
    let q = h.queue();
    let name = standard_queue(
        h,
        "attrs",
        &[("DelaySeconds", "5"), ("MessageRetentionPeriod", "3600")],
    )
    .await;
    let a = q.get_attributes(&name).await.unwrap();
    assert_eq!(a["DelaySeconds"], "5");
    assert_eq!(a["MessageRetentionPeriod"], "3600");
    assert_eq!(a["VisibilityTimeout"], "30");
    assert_eq!(a["MaximumMessageSize"], "1048576");
    assert_eq!(a["QueueArn"], h.arn(&name));
    assert_eq!(a["ApproximateNumberOfMessages"], "0");
    q.set_attributes(
        &name,
        &attrs(&[
            ("VisibilityTimeout", "120"),
            ("MaximumMessageSize", "1048576"),
        ]),
    )
    .await
    .unwrap();
    let a = q.get_attributes(&name).await.unwrap();
    assert_eq!(a["VisibilityTimeout"], "120");
    assert_eq!(a["MaximumMessageSize"], "1048576");
    assert_eq!(
        code(
            q.set_attributes(&name, &attrs(&[("VisibilityTimeout", "43201")]))
                .await
        ),
        "InvalidAttributeValue"
    );
    assert_eq!(
        code(
            q.set_attributes(&name, &attrs(&[("MessageRetentionPeriod", "59")]))
                .await
        ),
        "InvalidAttributeValue"
    );
    assert_eq!(
        code(
            q.set_attributes(&name, &attrs(&[("DelaySeconds", "901")]))
                .await
        ),
        "InvalidAttributeValue"
    );
    assert_eq!(
        code(
            q.set_attributes(&name, &attrs(&[("NoSuchThing", "1")]))
                .await
        ),
        "InvalidAttributeName"
    );
    // A refused update changes nothing.
    assert_eq!(
        q.get_attributes(&name).await.unwrap()["VisibilityTimeout"],
        "120"
    );
}

pub async fn send_receive_delete_with_system_attributes(h: &dyn Harness) {
    let q = h.queue();
    let name = standard_queue(h, "basic", &[]).await;
    let msg = SendMessage::new("hello")
        .attribute("kind", MessageAttributeValue::string("greeting"))
        .attribute("n", MessageAttributeValue::number("42"))
        .attribute("raw", MessageAttributeValue::binary(vec![0, 1, 2]));
    let sent = q.send(&name, msg).await.unwrap();
    assert!(sent.sequence_number.is_none());
    let got = receive(h, &name, 10).await;
    assert_eq!(got.len(), 1);
    let m = &got[0];
    assert_eq!(m.message_id, sent.message_id);
    assert_eq!(m.body, "hello");
    assert_eq!(
        m.attributes["kind"],
        MessageAttributeValue::string("greeting")
    );
    assert_eq!(m.attributes["n"], MessageAttributeValue::number("42"));
    assert_eq!(
        m.attributes["raw"],
        MessageAttributeValue::binary(vec![0, 1, 2])
    );
    assert_eq!(m.approximate_receive_count, 1);
    assert!(m.sent_timestamp > 0 && m.approximate_first_receive_timestamp >= m.sent_timestamp);
    // In flight: not delivered again.
    assert!(receive(h, &name, 10).await.is_empty());
    q.delete(&name, &m.receipt_handle).await.unwrap();
    h.advance(31).await;
    assert!(
        receive(h, &name, 10).await.is_empty(),
        "deleted message came back"
    );
}

pub async fn visibility_timeout_redelivers_with_counts(h: &dyn Harness) {
    let q = h.queue();
    let name = standard_queue(h, "vis", &[("VisibilityTimeout", "2")]).await;
    q.send(&name, SendMessage::new("m")).await.unwrap();
    let first = receive(h, &name, 1).await;
    assert_eq!(first.len(), 1);
    assert!(receive(h, &name, 1).await.is_empty());
    h.advance(3).await;
    let second = receive(h, &name, 1).await;
    assert_eq!(second.len(), 1);
    assert_eq!(second[0].approximate_receive_count, 2);
    assert_eq!(
        second[0].approximate_first_receive_timestamp,
        first[0].approximate_first_receive_timestamp
    );
    // Each receive hands out a new receipt handle.
    assert_ne!(first[0].receipt_handle, second[0].receipt_handle);
    // A per-receive visibility overrides the queue's.
    h.advance(3).await;
    let third = q
        .receive(&name, ReceiveRequest::up_to(1).visibility(0))
        .await
        .unwrap();
    assert_eq!(third.len(), 1);
    assert_eq!(
        receive(h, &name, 1).await.len(),
        1,
        "visibility 0 leaves it visible"
    );
}

pub async fn stale_receipt_handle_cannot_touch_a_newer_receive(h: &dyn Harness) {
    let q = h.queue();
    let name = standard_queue(h, "stale", &[("VisibilityTimeout", "2")]).await;
    q.send(&name, SendMessage::new("m")).await.unwrap();
    let old = receive(h, &name, 1).await.remove(0);
    h.advance(3).await;
    let new = receive(h, &name, 1).await.remove(0);
    // The old handle neither extends nor deletes the newer receive; real SQS says it expired.
    assert_eq!(
        code(q.change_visibility(&name, &old.receipt_handle, 600).await),
        "InvalidParameterValue"
    );
    q.delete(&name, &old.receipt_handle).await.unwrap();
    h.advance(3).await;
    let again = receive(h, &name, 1).await;
    assert_eq!(again.len(), 1, "a stale handle deleted the message");
    // In one batch, the stale handles beside the latest one: each entry succeeds, and the
    // message goes once.
    let handles = [
        &old.receipt_handle,
        &new.receipt_handle,
        &again[0].receipt_handle,
    ];
    let entries = BatchEntry::numbered(handles.into_iter().cloned());
    let out = q.delete_batch(&name, entries).await.unwrap();
    assert_eq!(out.successful.len(), 3, "{:?}", out.failed);
    h.advance(3).await;
    assert!(receive(h, &name, 1).await.is_empty());
    assert_eq!(
        code(q.delete(&name, "not-a-handle").await),
        "ReceiptHandleIsInvalid"
    );
}

pub async fn change_visibility_rules(h: &dyn Harness) {
    let q = h.queue();
    let name = standard_queue(h, "chvis", &[("VisibilityTimeout", "30")]).await;
    q.send(&name, SendMessage::new("a")).await.unwrap();
    let m = receive(h, &name, 1).await.remove(0);
    // Extend: still hidden after the original timeout.
    q.change_visibility(&name, &m.receipt_handle, 100)
        .await
        .unwrap();
    h.advance(40).await;
    assert!(receive(h, &name, 1).await.is_empty());
    // Beyond 12 hours from the receive is refused.
    assert_eq!(
        code(q.change_visibility(&name, &m.receipt_handle, 43_200).await),
        "InvalidParameterValue"
    );
    assert_eq!(
        code(q.change_visibility(&name, &m.receipt_handle, 43_201).await),
        "InvalidParameterValue"
    );
    // Zero makes it visible at once.
    q.change_visibility(&name, &m.receipt_handle, 0)
        .await
        .unwrap();
    let again = receive(h, &name, 1).await;
    assert_eq!(again.len(), 1);
    // Once its timeout has passed, the message is no longer in flight.
    q.change_visibility(&name, &again[0].receipt_handle, 1)
        .await
        .unwrap();
    h.advance(2).await;
    assert_eq!(
        code(
            q.change_visibility(&name, &again[0].receipt_handle, 10)
                .await
        ),
        "MessageNotInflight"
    );
}

pub async fn batches_report_each_entry(h: &dyn Harness) {
    let q = h.queue();
    let name = standard_queue(h, "batch", &[]).await;
    let entry = |id: &str, body: &str| BatchEntry {
        id: id.to_string(),
        entry: SendMessage::new(body),
    };
    let out = q
        .send_batch(
            &name,
            vec![entry("a", "one"), entry("b", ""), entry("c", "three")],
        )
        .await
        .unwrap();
    let ok: Vec<&str> = out.successful.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(ok, ["a", "c"]);
    assert_eq!(out.failed.len(), 1);
    assert_eq!(out.failed[0].0, "b");
    assert_eq!(code(q.send_batch(&name, vec![]).await), "EmptyBatchRequest");
    assert_eq!(
        code(
            q.send_batch(&name, (0..11).map(|i| entry(&i.to_string(), "x")).collect())
                .await
        ),
        "TooManyEntriesInBatchRequest"
    );
    assert_eq!(
        code(
            q.send_batch(&name, vec![entry("d", "x"), entry("d", "y")])
                .await
        ),
        "BatchEntryIdsNotDistinct"
    );
    assert_eq!(
        code(q.send_batch(&name, vec![entry("bad id", "x")]).await),
        "InvalidBatchEntryId"
    );
    let big = "x".repeat(600_000);
    assert_eq!(
        code(
            q.send_batch(&name, vec![entry("e", &big), entry("f", &big)])
                .await
        ),
        "BatchRequestTooLong"
    );

    let got = receive(h, &name, 10).await;
    assert_eq!(got.len(), 2);
    let mut del: Vec<BatchEntry<String>> = got
        .iter()
        .enumerate()
        .map(|(i, m)| BatchEntry {
            id: format!("m{i}"),
            entry: m.receipt_handle.clone(),
        })
        .collect();
    del.push(BatchEntry {
        id: "junk".into(),
        entry: "garbage".into(),
    });
    let out = q.delete_batch(&name, del).await.unwrap();
    assert_eq!(out.successful.len(), 2);
    assert_eq!(out.failed.len(), 1);
    assert_eq!(out.failed[0].1.aws_code(), "ReceiptHandleIsInvalid");

    q.send(&name, SendMessage::new("v")).await.unwrap();
    let m = receive(h, &name, 1).await.remove(0);
    let out = q
        .change_visibility_batch(
            &name,
            vec![
                BatchEntry {
                    id: "ok".into(),
                    entry: (m.receipt_handle.clone(), 0),
                },
                BatchEntry {
                    id: "bad".into(),
                    entry: ("garbage".into(), 0),
                },
            ],
        )
        .await
        .unwrap();
    assert_eq!(out.successful.len(), 1);
    assert_eq!(out.failed[0].0, "bad");
}

pub async fn message_limits(h: &dyn Harness) {
    let q = h.queue();
    let name = standard_queue(h, "limits", &[("MaximumMessageSize", "262144")]).await;
    assert!(q
        .send(&name, SendMessage::new("x".repeat(262_144)))
        .await
        .is_ok());
    assert_eq!(
        code(q.send(&name, SendMessage::new("x".repeat(262_145))).await),
        "InvalidParameterValue"
    );
    q.set_attributes(&name, &attrs(&[("MaximumMessageSize", "1048576")]))
        .await
        .unwrap();
    assert!(q
        .send(&name, SendMessage::new("x".repeat(1_048_576)))
        .await
        .is_ok());
    assert_eq!(
        code(q.send(&name, SendMessage::new("bad \u{1} char")).await),
        "InvalidMessageContents"
    );
    let mut many = SendMessage::new("x");
    for i in 0..11 {
        many = many.attribute(format!("a{i}"), MessageAttributeValue::string("v"));
    }
    assert_eq!(code(q.send(&name, many).await), "InvalidParameterValue");
    let reserved = SendMessage::new("x").attribute("AWS.nope", MessageAttributeValue::string("v"));
    assert_eq!(code(q.send(&name, reserved).await), "InvalidParameterValue");
    let not_number = SendMessage::new("x").attribute("n", MessageAttributeValue::number("twelve"));
    assert_eq!(
        code(q.send(&name, not_number).await),
        "InvalidParameterValue"
    );
    assert_eq!(
        code(q.send(&name, SendMessage::new("x").delay(901)).await),
        "InvalidParameterValue"
    );
    assert_eq!(
        code(q.send(&name, SendMessage::new("x").dedup("d")).await),
        "InvalidParameterValue"
    );
    assert_eq!(
        code(q.receive(&name, ReceiveRequest::up_to(11)).await),
        "InvalidParameterValue"
    );
    assert_eq!(
        code(q.receive(&name, ReceiveRequest::up_to(1).wait(21)).await),
        "InvalidParameterValue"
    );
}

pub async fn delays_queue_and_per_message(h: &dyn Harness) {
    let q = h.queue();
    let name = standard_queue(h, "delay", &[("DelaySeconds", "10")]).await;
    q.send(&name, SendMessage::new("queue-delay"))
        .await
        .unwrap();
    q.send(&name, SendMessage::new("no-delay").delay(0))
        .await
        .unwrap();
    q.send(&name, SendMessage::new("long-delay").delay(30))
        .await
        .unwrap();
    let counts = q.counts(&name).await.unwrap();
    assert_eq!((counts.visible, counts.delayed), (1, 2));
    let name = name.as_str();
    let take = |expected: &'static str| async move {
        let got = receive(h, name, 10).await;
        assert_eq!(bodies(&got), [expected]);
        h.queue()
            .delete(name, &got[0].receipt_handle)
            .await
            .unwrap();
    };
    take("no-delay").await;
    h.advance(11).await;
    take("queue-delay").await;
    h.advance(20).await;
    take("long-delay").await;
}

pub async fn counts_of_visible_in_flight_and_delayed(h: &dyn Harness) {
    let q = h.queue();
    let name = standard_queue(h, "counts", &[]).await;
    for i in 0..5 {
        q.send(&name, SendMessage::new(format!("m{i}")))
            .await
            .unwrap();
    }
    q.send(&name, SendMessage::new("later").delay(60))
        .await
        .unwrap();
    let _ = receive(h, &name, 2).await;
    let c = q.counts(&name).await.unwrap();
    assert_eq!((c.visible, c.in_flight, c.delayed), (3, 2, 1));
    let a = q.get_attributes(&name).await.unwrap();
    assert_eq!(a["ApproximateNumberOfMessages"], "3");
    assert_eq!(a["ApproximateNumberOfMessagesNotVisible"], "2");
    assert_eq!(a["ApproximateNumberOfMessagesDelayed"], "1");
}

pub async fn oldest_message_age(h: &dyn Harness) {
    let q = h.queue();
    let name = standard_queue(h, "age", &[]).await;
    assert_eq!(q.counts(&name).await.unwrap().oldest_age_seconds, Some(0));
    q.send(&name, SendMessage::new("m")).await.unwrap();
    h.advance(10).await;
    let age = q.counts(&name).await.unwrap().oldest_age_seconds;
    assert!(age.is_some_and(|a| a >= 10), "{age:?}");
}

pub async fn fifo_send_rules(h: &dyn Harness) {
    let q = h.queue();
    let name = fifo_queue(h, "rules", &[]).await;
    assert_eq!(
        code(q.send(&name, SendMessage::new("x").dedup("d")).await),
        "MissingParameter"
    );
    assert_eq!(
        code(q.send(&name, SendMessage::new("x").group("g")).await),
        "InvalidParameterValue"
    );
    assert_eq!(
        code(
            q.send(&name, SendMessage::new("x").group("g").dedup("d").delay(5))
                .await
        ),
        "InvalidParameterValue"
    );
    let a = q
        .send(&name, SendMessage::new("x").group("g").dedup("1"))
        .await
        .unwrap();
    let b = q
        .send(&name, SendMessage::new("y").group("h").dedup("2"))
        .await
        .unwrap();
    let (sa, sb) = (a.sequence_number.unwrap(), b.sequence_number.unwrap());
    assert!(
        sb.parse::<u128>().unwrap() > sa.parse::<u128>().unwrap(),
        "sequence numbers must increase"
    );
    let got = receive(h, &name, 10).await;
    assert_eq!(got[0].group_id.as_deref(), Some("g"));
    assert_eq!(got[0].deduplication_id.as_deref(), Some("1"));
    assert_eq!(got[0].sequence_number.as_deref(), Some(sa.as_str()));
}

/// Send parameters as real SQS judges them (see `validate::send_message` for the sources).
pub async fn send_parameters_as_real_sqs_judges_them(h: &dyn Harness) {
    let q = h.queue();
    let fifo = fifo_queue(h, "params", &[]).await;
    q.send(&fifo, SendMessage::new("a").group("g").dedup("1").delay(0))
        .await
        .expect("DelaySeconds=0 is accepted on a FIFO queue");
    let entry = |id: &str, m: SendMessage| BatchEntry {
        id: id.into(),
        entry: m,
    };
    let out = q
        .send_batch(
            &fifo,
            vec![entry(
                "a",
                SendMessage::new("b").group("g").dedup("2").delay(0),
            )],
        )
        .await
        .unwrap();
    assert_eq!(out.successful.len(), 1, "{:?}", out.failed);
    // One entry without a group fails the whole request, and nothing of it is sent.
    assert_eq!(
        code(
            q.send_batch(
                &fifo,
                vec![
                    entry("ok", SendMessage::new("c").group("g").dedup("3")),
                    entry("nogroup", SendMessage::new("d").dedup("4")),
                ],
            )
            .await
        ),
        "MissingParameter"
    );
    assert_eq!(bodies(&receive(h, &fifo, 10).await), ["a", "b"]);
    let standard = standard_queue(h, "params", &[]).await;
    assert_eq!(
        code(q.send(&standard, SendMessage::new("x").dedup("d")).await),
        "InvalidParameterValue"
    );
}

pub async fn fifo_orders_within_a_group_and_blocks_it_while_in_flight(h: &dyn Harness) {
    let q = h.queue();
    let name = fifo_queue(
        h,
        "order",
        &[
            ("ContentBasedDeduplication", "true"),
            ("VisibilityTimeout", "30"),
        ],
    )
    .await;
    for i in 0..3 {
        q.send(&name, SendMessage::new(format!("a{i}")).group("A"))
            .await
            .unwrap();
    }
    for i in 0..3 {
        q.send(&name, SendMessage::new(format!("b{i}")).group("B"))
            .await
            .unwrap();
    }
    // One receive fills from the oldest group first, in order.
    let first = receive(h, &name, 2).await;
    assert_eq!(bodies(&first), ["a0", "a1"]);
    // Group A is blocked while a0/a1 are in flight; B still delivers.
    let second = receive(h, &name, 10).await;
    assert_eq!(bodies(&second), ["b0", "b1", "b2"]);
    assert!(receive(h, &name, 10).await.is_empty());
    // Deleting a0 alone keeps A blocked (a1 still in flight).
    q.delete(&name, &first[0].receipt_handle).await.unwrap();
    assert!(receive(h, &name, 10).await.is_empty());
    q.delete(&name, &first[1].receipt_handle).await.unwrap();
    assert_eq!(bodies(&receive(h, &name, 10).await), ["a2"]);
    // Timeouts release both groups; the group whose head was sent first comes first.
    h.advance(31).await;
    let again = receive(h, &name, 10).await;
    assert_eq!(bodies(&again), ["a2", "b0", "b1", "b2"]);
    assert_eq!(again[1].approximate_receive_count, 2);
}

pub async fn fifo_deduplication_window(h: &dyn Harness) {
    let q = h.queue();
    let name = fifo_queue(h, "dedup", &[("ContentBasedDeduplication", "true")]).await;
    let a = q
        .send(&name, SendMessage::new("same").group("g"))
        .await
        .unwrap();
    let b = q
        .send(&name, SendMessage::new("same").group("g"))
        .await
        .unwrap();
    assert_eq!(
        a.message_id, b.message_id,
        "content-based duplicate accepted as the original"
    );
    let c = q
        .send(&name, SendMessage::new("same").group("g").dedup("explicit"))
        .await
        .unwrap();
    assert_ne!(a.message_id, c.message_id);
    let got = receive(h, &name, 10).await;
    assert_eq!(got.len(), 2);
    for m in &got {
        q.delete(&name, &m.receipt_handle).await.unwrap();
    }
    // Still deduplicated after the original was deleted, within five minutes...
    h.advance(240).await;
    q.send(&name, SendMessage::new("same").group("g"))
        .await
        .unwrap();
    assert!(
        receive(h, &name, 10).await.is_empty(),
        "dedup forgot the id after delete"
    );
    // ...and accepted again once the window has passed.
    h.advance(61).await;
    h.settle().await;
    q.send(&name, SendMessage::new("same").group("g"))
        .await
        .unwrap();
    assert_eq!(receive(h, &name, 10).await.len(), 1);
}

pub async fn fifo_deduplication_scope_message_group(h: &dyn Harness) {
    let q = h.queue();
    let name = fifo_queue(
        h,
        "scope",
        &[
            ("DeduplicationScope", "messageGroup"),
            ("FifoThroughputLimit", "perMessageGroupId"),
        ],
    )
    .await;
    q.send(&name, SendMessage::new("x").group("g1").dedup("same"))
        .await
        .unwrap();
    q.send(&name, SendMessage::new("x").group("g2").dedup("same"))
        .await
        .unwrap();
    q.send(&name, SendMessage::new("x").group("g1").dedup("same"))
        .await
        .unwrap();
    assert_eq!(
        receive(h, &name, 10).await.len(),
        2,
        "per-group scope keeps one per group"
    );
    let queue_scope = fifo_queue(h, "qscope", &[]).await;
    q.send(
        &queue_scope,
        SendMessage::new("x").group("g1").dedup("same"),
    )
    .await
    .unwrap();
    q.send(
        &queue_scope,
        SendMessage::new("x").group("g2").dedup("same"),
    )
    .await
    .unwrap();
    assert_eq!(
        receive(h, &queue_scope, 10).await.len(),
        1,
        "queue scope keeps one in all"
    );
}

fn redrive(h: &dyn Harness, dlq: &str, count: u32) -> String {
    format!(
        r#"{{"deadLetterTargetArn":"{}","maxReceiveCount":{count}}}"#,
        h.arn(dlq)
    )
}

/// Fair queues (SQS, July 2025): on a standard queue, a message group holding a disproportionate
/// share of the in-flight messages (at least 30 and over 10%) is served after the quiet groups,
/// even though its backlog is older; once the quiet groups have nothing visible, it is served.
pub async fn fair_queue_serves_quiet_groups_before_a_noisy_one(h: &dyn Harness) {
    let q = h.queue();
    let name = standard_queue(h, "fair", &[]).await;
    for batch in 0..6 {
        let entries = BatchEntry::numbered(
            (0..10).map(|i| SendMessage::new(format!("noisy-{}", batch * 10 + i)).group("noisy")),
        );
        assert!(q
            .send_batch(&name, entries)
            .await
            .unwrap()
            .failed
            .is_empty());
    }
    let quiet = BatchEntry::numbered(["a", "b", "c"].iter().flat_map(|tenant| {
        (0..3).map(move |i| SendMessage::new(format!("{tenant}-{i}")).group(*tenant))
    }));
    assert!(q.send_batch(&name, quiet).await.unwrap().failed.is_empty());
    let is_noisy = |body: &String| body.starts_with("noisy-");
    // Nothing in flight, nobody noisy: the oldest messages come first, all the noisy group's.
    for _ in 0..3 {
        let got = bodies(&receive(h, &name, 10).await);
        assert_eq!(got.len(), 10);
        assert!(got.iter().all(is_noisy), "{got:?}");
    }
    // 30 in flight, all of one group: it is noisy, and the nine quiet messages come first.
    let got = bodies(&receive(h, &name, 10).await);
    let quiet_got: Vec<&String> = got.iter().filter(|b| !is_noisy(b)).collect();
    assert_eq!(
        quiet_got.len(),
        9,
        "the quiet groups are served first: {got:?}"
    );
    assert_eq!(
        got.len(),
        10,
        "and the rest of the batch is filled from the noisy group: {got:?}"
    );
    // With no quiet message visible, the noisy group is still served, not starved.
    let got = bodies(&receive(h, &name, 10).await);
    assert_eq!(got.len(), 10);
    assert!(got.iter().all(is_noisy), "{got:?}");
}

pub async fn redrive_moves_to_dead_letter_queue(h: &dyn Harness) {
    let q = h.queue();
    let dlq = standard_queue(h, "dlq", &[]).await;
    let src = standard_queue(
        h,
        "src",
        &[
            ("VisibilityTimeout", "1"),
            ("RedrivePolicy", &redrive(h, &dlq, 2)),
        ],
    )
    .await;
    let got = q.get_attributes(&src).await.unwrap();
    assert!(got["RedrivePolicy"].contains(&h.arn(&dlq)));
    q.send(&src, SendMessage::new("poison")).await.unwrap();
    for expected in 1..=2 {
        let m = receive(h, &src, 1).await;
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].approximate_receive_count, expected);
        h.advance(2).await;
    }
    // The receive that would exceed maxReceiveCount moves it instead of delivering it.
    assert!(receive(h, &src, 1).await.is_empty());
    let dead = receive(h, &dlq, 1).await;
    assert_eq!(bodies(&dead), ["poison"]);
    assert_eq!(
        dead[0].dead_letter_queue_source_arn.as_deref(),
        Some(h.arn(&src).as_str())
    );
    assert_eq!(dead[0].approximate_receive_count, 3);
    let sources = q
        .list_dead_letter_source_queues(&dlq, None, None)
        .await
        .unwrap();
    assert_eq!(
        sources
            .items
            .iter()
            .map(|i| i.name.clone())
            .collect::<Vec<_>>(),
        vec![src]
    );
}

pub async fn redrive_policy_rules(h: &dyn Harness) {
    let q = h.queue();
    let std_dlq = standard_queue(h, "sdlq", &[]).await;
    let fifo_src = h.name("fsrc.fifo");
    let err = q
        .create_queue(
            &fifo_src,
            &attrs(&[
                ("FifoQueue", "true"),
                ("RedrivePolicy", &redrive(h, &std_dlq, 3)),
            ]),
            &none(),
        )
        .await
        .unwrap_err();
    assert_eq!(
        err.aws_code(),
        "InvalidParameterValue",
        "FIFO source needs a FIFO DLQ: {err}"
    );
    let missing = format!(
        r#"{{"deadLetterTargetArn":"{}","maxReceiveCount":3}}"#,
        h.arn(&h.name("nope"))
    );
    assert!(q
        .create_queue(
            &h.name("orphan"),
            &attrs(&[("RedrivePolicy", &missing)]),
            &none()
        )
        .await
        .is_err());
    // RedriveAllowPolicy: denyAll refuses every source, byQueue only the listed ones.
    let closed = standard_queue(
        h,
        "closed",
        &[("RedriveAllowPolicy", r#"{"redrivePermission":"denyAll"}"#)],
    )
    .await;
    assert!(q
        .create_queue(
            &h.name("src1"),
            &attrs(&[("RedrivePolicy", &redrive(h, &closed, 3))]),
            &none()
        )
        .await
        .is_err());
    let allowed = h.name("allowed");
    let policy = format!(
        r#"{{"redrivePermission":"byQueue","sourceQueueArns":["{}"]}}"#,
        h.arn(&allowed)
    );
    let picky = standard_queue(h, "picky", &[("RedriveAllowPolicy", &policy)]).await;
    q.create_queue(
        &allowed,
        &attrs(&[("RedrivePolicy", &redrive(h, &picky, 3))]),
        &none(),
    )
    .await
    .unwrap();
    assert!(q
        .create_queue(
            &h.name("other"),
            &attrs(&[("RedrivePolicy", &redrive(h, &picky, 3))]),
            &none()
        )
        .await
        .is_err());
}

pub async fn fifo_redrive_keeps_group_order(h: &dyn Harness) {
    let q = h.queue();
    let dlq = fifo_queue(h, "fdlq", &[]).await;
    let src = fifo_queue(
        h,
        "fsrc",
        &[
            ("ContentBasedDeduplication", "true"),
            ("VisibilityTimeout", "1"),
            ("RedrivePolicy", &redrive(h, &dlq, 1)),
        ],
    )
    .await;
    q.send(&src, SendMessage::new("first").group("g"))
        .await
        .unwrap();
    q.send(&src, SendMessage::new("second").group("g"))
        .await
        .unwrap();
    assert_eq!(bodies(&receive(h, &src, 1).await), ["first"]);
    h.advance(2).await;
    // "first" exceeded its count: it goes to the DLQ and "second" is delivered in the same call.
    assert_eq!(bodies(&receive(h, &src, 1).await), ["second"]);
    let dead = receive(h, &dlq, 1).await;
    assert_eq!(bodies(&dead), ["first"]);
    assert_eq!(dead[0].group_id.as_deref(), Some("g"));
}

pub async fn message_move_task_redrives_back(h: &dyn Harness) {
    let q = h.queue();
    let dlq = standard_queue(h, "mdlq", &[]).await;
    let src = standard_queue(
        h,
        "msrc",
        &[
            ("VisibilityTimeout", "1"),
            ("RedrivePolicy", &redrive(h, &dlq, 1)),
        ],
    )
    .await;
    let other = standard_queue(h, "mother", &[]).await;
    for i in 0..3 {
        q.send(&src, SendMessage::new(format!("m{i}")))
            .await
            .unwrap();
    }
    assert_eq!(receive(h, &src, 10).await.len(), 3);
    h.advance(2).await;
    assert!(receive(h, &src, 10).await.is_empty());
    h.settle().await;
    assert_eq!(q.counts(&dlq).await.unwrap().visible, 3);
    // Only dead-letter queues can be redriven.
    assert!(q
        .start_message_move_task(&h.arn(&other), None, None)
        .await
        .is_err());
    let handle = q
        .start_message_move_task(&h.arn(&dlq), None, Some(100))
        .await
        .unwrap();
    assert_eq!(
        code(q.start_message_move_task(&h.arn(&dlq), None, None).await),
        "UnsupportedOperation"
    );
    let tasks = q
        .list_message_move_tasks(&h.arn(&dlq), Some(10))
        .await
        .unwrap();
    assert_eq!(tasks[0].task_handle.as_deref(), Some(handle.as_str()));
    assert_eq!(tasks[0].approximate_number_of_messages_to_move, 3);
    h.advance(2).await;
    h.settle().await;
    let tasks = q.list_message_move_tasks(&h.arn(&dlq), None).await.unwrap();
    assert_eq!(tasks[0].status, MoveTaskStatus::Completed, "{tasks:?}");
    assert_eq!(tasks[0].approximate_number_of_messages_moved, 3);
    let back = receive(h, &src, 10).await;
    assert_eq!(back.len(), 3);
    assert!(
        back.iter().all(|m| m.approximate_receive_count == 1),
        "receive counts restart after redrive"
    );
    assert_eq!(
        code(q.cancel_message_move_task(&handle).await),
        "UnsupportedOperation"
    );
}

pub async fn message_move_task_to_named_queue_and_cancel(h: &dyn Harness) {
    let q = h.queue();
    let dlq = standard_queue(h, "ndlq", &[]).await;
    let _src = standard_queue(h, "nsrc", &[("RedrivePolicy", &redrive(h, &dlq, 1))]).await;
    let target = standard_queue(h, "ntarget", &[]).await;
    for i in 0..5 {
        q.send(&dlq, SendMessage::new(format!("m{i}")))
            .await
            .unwrap();
    }
    let handle = q
        .start_message_move_task(&h.arn(&dlq), Some(&h.arn(&target)), Some(1))
        .await
        .unwrap();
    h.advance(2).await;
    h.settle().await;
    let moved = q.cancel_message_move_task(&handle).await.unwrap();
    assert!(
        (1..5).contains(&moved),
        "a rate of 1/s moved {moved} in ~2 s"
    );
    h.settle().await;
    let tasks = q.list_message_move_tasks(&h.arn(&dlq), None).await.unwrap();
    assert_eq!(tasks[0].status, MoveTaskStatus::Cancelled);
    assert_eq!(q.counts(&target).await.unwrap().visible, moved);
    assert_eq!(
        code(q.cancel_message_move_task("no-such-task").await),
        "ResourceNotFoundException"
    );
}

pub async fn retention_expires_messages(h: &dyn Harness) {
    let q = h.queue();
    let name = standard_queue(h, "ret", &[("MessageRetentionPeriod", "60")]).await;
    q.send(&name, SendMessage::new("old")).await.unwrap();
    h.advance(30).await;
    q.send(&name, SendMessage::new("young")).await.unwrap();
    h.advance(31).await;
    h.settle().await;
    assert_eq!(q.counts(&name).await.unwrap().visible, 1);
    assert_eq!(bodies(&receive(h, &name, 10).await), ["young"]);
    // Shortening retention applies to messages already queued.
    q.send(&name, SendMessage::new("third")).await.unwrap();
    h.advance(61).await;
    assert!(
        receive(h, &name, 10).await.is_empty(),
        "expired messages must not be delivered"
    );
}

pub async fn purge_empties_and_is_rate_limited(h: &dyn Harness) {
    let q = h.queue();
    let name = standard_queue(h, "purge", &[]).await;
    for i in 0..3 {
        q.send(&name, SendMessage::new(format!("m{i}")))
            .await
            .unwrap();
    }
    let _ = receive(h, &name, 1).await;
    q.purge(&name).await.unwrap();
    let c = q.counts(&name).await.unwrap();
    assert_eq!((c.visible, c.in_flight, c.delayed), (0, 0, 0), "{c:?}");
    assert_eq!(code(q.purge(&name).await), "PurgeQueueInProgress");
    h.advance(61).await;
    q.purge(&name).await.unwrap();
}

pub async fn tags_round_trip(h: &dyn Harness) {
    let q = h.queue();
    let name = h.name("tags");
    q.create_queue(&name, &none(), &attrs(&[("env", "staging")]))
        .await
        .unwrap();
    q.tag(&name, &attrs(&[("team", "core"), ("env", "production")]))
        .await
        .unwrap();
    assert_eq!(
        q.list_tags(&name).await.unwrap(),
        attrs(&[("env", "production"), ("team", "core")])
    );
    q.untag(&name, &["env".to_string()]).await.unwrap();
    assert_eq!(
        q.list_tags(&name).await.unwrap(),
        attrs(&[("team", "core")])
    );
}

pub async fn long_poll_returns_when_a_message_arrives(h: &dyn Harness) {
    let q = h.queue();
    let name = standard_queue(h, "poll", &[]).await;
    let started = std::time::Instant::now();
    let receiver = {
        let (q, name) = (q.clone(), name.clone());
        tokio::spawn(async move { q.receive(&name, ReceiveRequest::up_to(1).wait(20)).await })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    q.send(&name, SendMessage::new("wake")).await.unwrap();
    let got = receiver.await.unwrap().unwrap();
    assert_eq!(bodies(&got), ["wake"]);
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "long poll waited out its 20 s instead of returning"
    );
    // With nothing to receive, a short wait returns empty after waiting.
    let started = std::time::Instant::now();
    assert!(q
        .receive(&name, ReceiveRequest::up_to(1).wait(1))
        .await
        .unwrap()
        .is_empty());
    assert!(started.elapsed() >= Duration::from_millis(900));
}

pub async fn peek_shows_without_taking(h: &dyn Harness) {
    let q = h.queue();
    let name = standard_queue(h, "peek", &[]).await;
    for body in ["a", "b", "c"] {
        q.send(&name, SendMessage::new(body)).await.unwrap();
    }
    let page = q.peek(&name, 10, None).await.unwrap();
    let mut seen: Vec<&str> = page.messages.iter().map(|m| m.body.as_str()).collect();
    seen.sort();
    assert_eq!(seen, ["a", "b", "c"]);
    assert!(matches!(
        q.peek(&name, 0, None).await,
        Err(QueueError::InvalidParameterValue(_))
    ));
    // Still there, all three, for the next receive.
    let got = receive(h, &name, 10).await;
    assert_eq!(got.len(), 3, "a peek takes nothing");
    let expected = if page.counted_as_receive { 2 } else { 1 };
    assert!(
        got.iter().all(|m| m.approximate_receive_count == expected),
        "{got:?}"
    );

    // Where peeking is a receive, a queue whose receives count toward a redrive refuses it.
    let dlq = standard_queue(h, "peek-dlq", &[]).await;
    let policy = format!(
        r#"{{"deadLetterTargetArn":"{}","maxReceiveCount":"1"}}"#,
        h.arn(&dlq)
    );
    let source = standard_queue(h, "peek-src", &[("RedrivePolicy", &policy)]).await;
    q.send(&source, SendMessage::new("x")).await.unwrap();
    match q.peek(&source, 10, None).await {
        Ok(page) => assert!(!page.counted_as_receive && page.messages.len() == 1),
        Err(e) => assert!(matches!(e, QueueError::UnsupportedOperation(_)), "{e:?}"),
    }
}

pub async fn move_messages_moves_only_the_chosen(h: &dyn Harness) {
    let q = h.queue();
    let from = standard_queue(h, "move-from", &[]).await;
    let to = standard_queue(h, "move-to", &[]).await;
    let mut ids = Vec::new();
    for body in ["keep-1", "move-me", "keep-2"] {
        let mut m = SendMessage::new(body);
        m.attributes
            .insert("kind".into(), MessageAttributeValue::string("dead"));
        ids.push(q.send(&from, m).await.unwrap().message_id);
    }
    let chosen = vec![
        ids[1].clone(),
        "00000000-0000-0000-0000-000000000000".to_string(),
    ];
    let outcome = q.move_messages(&from, &chosen, &to, 1000).await.unwrap();
    assert_eq!(outcome.moved, [ids[1].clone()]);
    assert_eq!(outcome.not_found, [chosen[1].clone()]);
    let moved = receive(h, &to, 10).await;
    assert_eq!(bodies(&moved), ["move-me"]);
    assert_eq!(moved[0].approximate_receive_count, 1, "it arrives fresh");
    assert_eq!(
        moved[0].attributes["kind"],
        MessageAttributeValue::string("dead")
    );
    let mut left = bodies(&receive(h, &from, 10).await);
    left.sort();
    assert_eq!(
        left,
        ["keep-1", "keep-2"],
        "the others are handed straight back"
    );
}

/// Generate one test per case for a backend: `conformance_suite!(async { make_harness().await });`
#[macro_export]
macro_rules! conformance_suite {
    ($make:expr) => {
        $crate::conformance_suite!(@cases $make;
            queue_lifecycle, queue_name_rules, list_queues_by_prefix_with_pages,
            attributes_round_trip_and_refuse_bad_values, send_receive_delete_with_system_attributes,
            visibility_timeout_redelivers_with_counts, stale_receipt_handle_cannot_touch_a_newer_receive,
            change_visibility_rules, batches_report_each_entry, message_limits, delays_queue_and_per_message,
            counts_of_visible_in_flight_and_delayed, oldest_message_age, fifo_send_rules, send_parameters_as_real_sqs_judges_them, fifo_orders_within_a_group_and_blocks_it_while_in_flight,
            fifo_deduplication_window, fifo_deduplication_scope_message_group, redrive_moves_to_dead_letter_queue,
            redrive_policy_rules, fifo_redrive_keeps_group_order, message_move_task_redrives_back,
            message_move_task_to_named_queue_and_cancel, retention_expires_messages,
            purge_empties_and_is_rate_limited, tags_round_trip, long_poll_returns_when_a_message_arrives,
            peek_shows_without_taking, move_messages_moves_only_the_chosen,
            fair_queue_serves_quiet_groups_before_a_noisy_one);
    };
    (@cases $make:expr; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let harness = std::sync::Arc::new($make.await);
                let h: &dyn $crate::conformance::Harness = &*harness;
                let case = stringify!($case);
                if let Some(reason) = h.skip_reason(case) {
                    eprintln!("{case}: not applicable to this backend: {reason}");
                } else if let Some(reason) = h.known_deviation(case) {
                    $crate::conformance::expect_deviation(harness.clone(), case, reason, |h| {
                        Box::pin($crate::conformance::$case(h))
                    })
                    .await;
                } else {
                    $crate::conformance::$case(h).await;
                }
            }
        )*
    };
}
