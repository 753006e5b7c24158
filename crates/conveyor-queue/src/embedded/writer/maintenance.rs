//! The periodic pass (retention, dedup expiry) and message move tasks.

use std::sync::Arc;

use rusqlite::{params, OptionalExtension};

use super::*;
use crate::model::MoveOutcome;

impl Writer {
    pub(super) fn maintain(&mut self, now: i64) -> rusqlite::Result<()> {
        let queues: Vec<Arc<QueueMeta>> = self.catalog.by_id.values().cloned().collect();
        for meta in queues {
            let cutoff = now - meta.config.message_retention_period as i64 * 1000;
            let payloads: Vec<i64> = self
                .conn
                .prepare_cached(
                    "DELETE FROM messages WHERE id IN \
                     (SELECT id FROM messages WHERE queue_id = ?1 AND retain_from <= ?2 LIMIT ?3) \
                     RETURNING payload_id",
                )?
                .query_map(params![meta.id, cutoff, SWEEP_LIMIT], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            for payload_id in &payloads {
                self.conn
                    .prepare_cached("DELETE FROM payloads WHERE id = ?1")?
                    .execute([payload_id])?;
            }
            let removed = payloads.len();
            if removed > 0 {
                self.forget_messages_of(meta.id);
            }
        }
        self.conn
            .prepare_cached("DELETE FROM dedup WHERE expires_at <= ?1")?
            .execute([now])?;
        self.conn
            .prepare_cached("DELETE FROM idempotency_keys WHERE expires_at <= ?1")?
            .execute([now])?;
        self.advance_move_tasks(now)
    }

    pub(super) fn start_move(
        &mut self,
        source_arn: &str,
        destination_arn: Option<String>,
        rate: Option<u32>,
        now: i64,
    ) -> rusqlite::Result<QueueResult<String>> {
        let checked = (|| {
            let source = self.catalog.by_arn(source_arn).ok_or_else(|| {
                QueueError::ResourceNotFound(format!(
                    "the source queue {source_arn} does not exist"
                ))
            })?;
            if self.catalog.dead_letter_sources(source_arn).is_empty() {
                return Err(QueueError::invalid(format!(
                    "{} is not the dead-letter queue of any queue; message move tasks redrive dead-letter queues only",
                    source.name
                )));
            }
            if let Some(dest) = &destination_arn {
                let d = self.catalog.by_arn(dest).ok_or_else(|| {
                    QueueError::ResourceNotFound(format!(
                        "the destination queue {dest} does not exist"
                    ))
                })?;
                if d.config.fifo != source.config.fifo {
                    return Err(QueueError::invalid(
                        "messages can only move between queues of the same type (FIFO to FIFO, standard to standard)",
                    ));
                }
            }
            if let Some(r) = rate {
                if !(1..=500).contains(&r) {
                    return Err(QueueError::invalid(format!(
                        "MaxNumberOfMessagesPerSecond {r} is out of range: use 1 to 500"
                    )));
                }
            }
            Ok(source)
        })();
        let source = refuse!(checked);
        let running: bool = self.conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM move_tasks WHERE source_queue_id = ?1 AND status IN ('RUNNING', 'CANCELLING'))",
            [source.id],
            |r| r.get(0),
        )?;
        if running {
            return Ok(Err(QueueError::UnsupportedOperation(format!(
                "{} already has a running message move task; cancel it or wait for it to finish",
                source.name
            ))));
        }
        let (boundary, to_move): (i64, i64) = self.conn.query_row(
            "SELECT COALESCE(MAX(id), 0), COUNT(*) FROM messages WHERE queue_id = ?1",
            [source.id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        let handle = uuid::Uuid::new_v4().to_string();
        self.conn.execute(
            "INSERT INTO move_tasks (handle, source_queue_id, source_arn, destination_arn, max_per_second, status, \
             moved, to_move, boundary_id, started_at) VALUES (?1, ?2, ?3, ?4, ?5, 'RUNNING', 0, ?6, ?7, ?8)",
            params![handle, source.id, source.arn, destination_arn, rate, to_move, boundary, now],
        )?;
        Ok(Ok(handle))
    }

    pub(super) fn cancel_move(&mut self, handle: &str) -> rusqlite::Result<QueueResult<u64>> {
        let task: Option<(String, i64)> = self
            .conn
            .query_row(
                "SELECT status, moved FROM move_tasks WHERE handle = ?1",
                [handle],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        match task {
            None => Ok(Err(QueueError::ResourceNotFound(format!(
                "no message move task has the handle {handle:?}"
            )))),
            Some((status, _)) if status != MoveTaskStatus::Running.as_str() => {
                Ok(Err(QueueError::UnsupportedOperation(format!(
                    "the message move task is {status}, so it cannot be cancelled"
                ))))
            }
            Some((_, moved)) => {
                self.conn.execute(
                    "UPDATE move_tasks SET status = 'CANCELLING' WHERE handle = ?1",
                    [handle],
                )?;
                Ok(Ok(moved as u64))
            }
        }
    }

    pub(super) fn finish_task(
        &self,
        handle: &str,
        status: MoveTaskStatus,
        moved: i64,
        reason: Option<&str>,
    ) -> rusqlite::Result<()> {
        self.conn.execute(
            "UPDATE move_tasks SET status = ?1, moved = ?2, failure_reason = ?3 WHERE handle = ?4",
            params![status.as_str(), moved, reason, handle],
        )?;
        Ok(())
    }

    /// Move the visible messages with these ids from `source` to `destination`, as a move
    /// task moves each (a new row, receive count 0, the payload kept); in-flight or missing
    /// ones are reported, not moved.
    pub(super) fn move_selected(
        &mut self,
        source: &QueueMeta,
        destination: &QueueMeta,
        ids: &[String],
        now: i64,
    ) -> rusqlite::Result<QueueResult<MoveOutcome>> {
        let source = refuse!(self.current(source));
        let destination = refuse!(self.current(destination));
        let mut outcome = MoveOutcome::default();
        for id in ids {
            // (row id, group, retention start, payload id)
            let row: Option<(i64, Option<String>, i64, i64)> = self
                .conn
                .prepare_cached(
                    "SELECT m.id, m.group_id, m.retain_from, m.payload_id \
                     FROM payloads p JOIN messages m ON m.payload_id = p.id \
                     WHERE p.message_id = ?1 AND m.queue_id = ?2 AND m.visible_at <= ?3 LIMIT 1",
                )?
                .query_row(params![id, source.id, now], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
                })
                .optional()?;
            let Some((row_id, group, retain_from, payload_id)) = row else {
                outcome.not_found.push(id.clone());
                continue;
            };
            let retain_from = if destination.config.fifo {
                now
            } else {
                retain_from
            };
            self.move_row(
                &destination,
                Relocation {
                    from_queue: source.id,
                    row_id,
                    payload_id,
                    group_id: group.as_deref(),
                    retain_from,
                    receive_count: 0,
                    first_received_at: None,
                    dlq_source_arn: None,
                },
                now,
            )?;
            outcome.moved.push(id.clone());
        }
        Ok(Ok(outcome))
    }

    pub(super) fn advance_move_tasks(&mut self, now: i64) -> rusqlite::Result<()> {
        type TaskRow = (
            String,
            i64,
            Option<String>,
            Option<i64>,
            String,
            i64,
            i64,
            i64,
        );
        let tasks: Vec<TaskRow> = self
            .conn
            .prepare_cached(
                "SELECT handle, source_queue_id, destination_arn, max_per_second, status, moved, boundary_id, started_at \
                 FROM move_tasks WHERE status IN ('RUNNING', 'CANCELLING')",
            )?
            .query_map([], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?))
            })?
            .collect::<rusqlite::Result<_>>()?;
        for (handle, source_id, destination_arn, rate, status, mut moved, boundary, started_at) in
            tasks
        {
            if status == MoveTaskStatus::Cancelling.as_str() {
                self.finish_task(&handle, MoveTaskStatus::Cancelled, moved, None)?;
                continue;
            }
            let Some(source) = self.catalog.by_id.get(&source_id).cloned() else {
                self.finish_task(
                    &handle,
                    MoveTaskStatus::Failed,
                    moved,
                    Some("the source queue was deleted"),
                )?;
                continue;
            };
            let allowed = match rate {
                Some(r) => (r * (now - started_at).max(0) / 1000 - moved).max(0),
                None => DEFAULT_MOVE_RATE * (now - started_at).max(1000) / 1000 - moved,
            }
            .clamp(0, MOVE_STEP_LIMIT);
            // (row id, group, dead-letter source, retention start, payload id)
            type MoveRow = (i64, Option<String>, Option<String>, i64, i64);
            let rows: Vec<MoveRow> = self
                .conn
                .prepare_cached(
                    "SELECT m.id, m.group_id, p.dlq_source_arn, m.retain_from, m.payload_id \
                     FROM messages m JOIN payloads p ON p.id = m.payload_id \
                     WHERE m.queue_id = ?1 AND m.id <= ?2 AND m.visible_at <= ?3 ORDER BY m.id LIMIT ?4",
                )?
                .query_map(params![source.id, boundary, now, allowed], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
                })?
                .collect::<rusqlite::Result<_>>()?;
            let mut failed = None;
            for (row_id, group, origin, retain_from, payload_id) in rows {
                let target = destination_arn.as_deref().or(origin.as_deref());
                let Some(dest) = target.and_then(|arn| self.catalog.by_arn(arn)) else {
                    failed = Some(match target {
                        Some(arn) => format!("the destination queue {arn} no longer exists"),
                        None => "a message has no source queue to return to; give a DestinationArn"
                            .to_string(),
                    });
                    break;
                };
                let retain_from = if dest.config.fifo { now } else { retain_from };
                let moving = Relocation {
                    from_queue: source.id,
                    row_id,
                    payload_id,
                    group_id: group.as_deref(),
                    retain_from,
                    receive_count: 0,
                    first_received_at: None,
                    dlq_source_arn: None,
                };
                self.move_row(&dest, moving, now)?;
                moved += 1;
            }
            if let Some(reason) = failed {
                self.finish_task(&handle, MoveTaskStatus::Failed, moved, Some(&reason))?;
                continue;
            }
            let remaining: bool = self.conn.query_row(
                "SELECT EXISTS (SELECT 1 FROM messages WHERE queue_id = ?1 AND id <= ?2)",
                params![source.id, boundary],
                |r| r.get(0),
            )?;
            if remaining {
                self.conn.execute(
                    "UPDATE move_tasks SET moved = ?1 WHERE handle = ?2",
                    params![moved, handle],
                )?;
            } else {
                self.finish_task(&handle, MoveTaskStatus::Completed, moved, None)?;
            }
        }
        Ok(())
    }
}
