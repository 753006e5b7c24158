//! Moving chosen messages between queues with nothing but the SQS calls every service has:
//! receive, send, delete and change visibility. What `Queue::move_messages` does where the
//! service cannot move a message by id (SQS); the embedded engine moves rows instead.

use std::collections::BTreeSet;

use crate::{MoveOutcome, Queue, QueueResult, ReceiveRequest, SendMessage};

/// How long a scanned message stays hidden while the scan runs, so it is not seen twice.
const SCAN_VISIBILITY_SECONDS: u32 = 30;

pub(crate) async fn by_receiving<Q: Queue + ?Sized>(
    service: &Q,
    queue: &str,
    message_ids: &[String],
    destination: &str,
    max_scan: usize,
) -> QueueResult<MoveOutcome> {
    let mut wanted: BTreeSet<&str> = message_ids.iter().map(String::as_str).collect();
    let fifo = destination.ends_with(".fifo");
    let mut outcome = MoveOutcome::default();
    let mut scanned = 0;
    let mut passed_over = Vec::new();
    while !wanted.is_empty() && scanned < max_scan {
        let batch = service
            .receive(
                queue,
                ReceiveRequest {
                    max_messages: 10,
                    visibility_timeout: Some(SCAN_VISIBILITY_SECONDS),
                    wait_time_seconds: Some(0),
                    ..Default::default()
                },
            )
            .await?;
        if batch.is_empty() {
            break;
        }
        scanned += batch.len();
        for m in batch {
            if !wanted.remove(m.message_id.as_str()) {
                passed_over.push(m.receipt_handle);
                continue;
            }
            let mut copy = SendMessage::new(m.body.clone());
            copy.attributes = m.attributes.clone();
            if fifo {
                copy.group_id = Some(m.group_id.clone().unwrap_or_else(|| "redriven".into()));
                copy.deduplication_id = Some(m.message_id.clone());
            }
            // Sent before deleted: a failure in between leaves it in both, never in neither.
            service.send(destination, copy).await?;
            service.delete(queue, &m.receipt_handle).await?;
            outcome.moved.push(m.message_id);
        }
    }
    for handle in passed_over {
        // Best effort: one not handed back returns by itself after the scan's 30 s.
        let _ = service.change_visibility(queue, &handle, 0).await;
    }
    outcome.not_found = wanted.into_iter().map(str::to_string).collect();
    Ok(outcome)
}
