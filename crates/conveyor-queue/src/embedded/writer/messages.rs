//! Message commands: send, receive (standard and FIFO), delete, visibility, dead-lettering.

use rusqlite::{params, OptionalExtension};

use super::*;

impl Writer {
    pub(super) fn send(
        &mut self,
        queue: &QueueMeta,
        messages: Vec<PreparedSend>,
        now: i64,
    ) -> rusqlite::Result<QueueResult<Vec<SendOutcome>>> {
        let meta = refuse!(self.current(queue));
        let fifo = meta.config.fifo;
        let mut outcomes = Vec::with_capacity(messages.len());
        let mut wake = false;
        for m in messages {
            let dedup_scope = match (&meta.config.deduplication_scope, &m.group_id) {
                (DeduplicationScope::MessageGroup, Some(g)) => g.as_str(),
                _ => "",
            };
            if fifo {
                let dedup_id = m.dedup_id.as_deref().unwrap_or_default();
                let earlier: Option<(String, i64)> = self
                    .conn
                    .prepare_cached(
                        "SELECT message_id, sequence FROM dedup \
                         WHERE queue_id = ?1 AND scope = ?2 AND dedup_id = ?3 AND expires_at > ?4",
                    )?
                    .query_row(params![meta.id, dedup_scope, dedup_id, now], |r| {
                        Ok((r.get(0)?, r.get(1)?))
                    })
                    .optional()?;
                if let Some((message_id, sequence)) = earlier {
                    outcomes.push(SendOutcome {
                        message_id,
                        sequence_number: Some(sequence_number(sequence)),
                    });
                    continue;
                }
            }
            let id = self.alloc_id();
            let delay = m.delay_seconds.unwrap_or(meta.config.delay_seconds) as i64;
            let visible_at = now + delay * 1000;
            self.conn
                .prepare_cached(
                    "INSERT INTO payloads (id, message_id, body, attributes, dedup_id, sent_at, trace_header) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                )?
                .execute(params![id, m.message_id, m.body, m.attributes, m.dedup_id, now, m.trace_header])?;
            self.conn
                .prepare_cached(
                    "INSERT INTO messages (id, queue_id, payload_id, group_id, retain_from, visible_at) \
                     VALUES (?1, ?2, ?1, ?3, ?4, ?5)",
                )?
                .execute(params![id, meta.id, m.group_id, now, visible_at])?;
            if fifo {
                self.conn
                    .prepare_cached(
                        "INSERT OR REPLACE INTO dedup (queue_id, scope, dedup_id, message_id, sequence, expires_at) \
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    )?
                    .execute(params![
                        meta.id,
                        dedup_scope,
                        m.dedup_id.as_deref().unwrap_or_default(),
                        m.message_id,
                        id,
                        now + DEDUP_WINDOW_MS
                    ])?;
            }
            self.group_gained_message(meta.id, m.group_id.as_deref(), id, visible_at, now);
            wake |= delay == 0;
            outcomes.push(SendOutcome {
                message_id: m.message_id,
                sequence_number: fifo.then(|| sequence_number(id)),
            });
        }
        if wake {
            self.wake.push(meta.notify.clone());
        }
        Ok(Ok(outcomes))
    }

    pub(super) fn fate(&self, meta: &QueueMeta, row: &StoredRow, now: i64) -> Fate {
        if row.retain_from + meta.config.message_retention_period as i64 * 1000 <= now {
            return Fate::Expired;
        }
        if let Some(policy) = &meta.config.redrive_policy {
            if row.receive_count >= policy.max_receive_count as i64 {
                // A missing dead-letter queue leaves the message deliverable rather than lost.
                if let Some(dlq) = self.catalog.by_arn(&policy.dead_letter_target_arn) {
                    return Fate::DeadLetter(dlq);
                }
            }
        }
        Fate::Deliver
    }

    /// Apply a non-delivering fate; returns false when the row is to be delivered.
    pub(super) fn dispose(
        &mut self,
        meta: &QueueMeta,
        row: &StoredRow,
        now: i64,
    ) -> rusqlite::Result<bool> {
        match self.fate(meta, row, now) {
            Fate::Deliver => Ok(false),
            Fate::Expired => {
                self.delete_row(row.id, row.payload_id)?;
                self.group_lost_message(meta.id, row.group_id.as_deref(), row.id)?;
                Ok(true)
            }
            Fate::DeadLetter(dlq) => {
                // FIFO dead-letter queues restart the retention clock; standard ones keep the original.
                let retain_from = if dlq.config.fifo {
                    now
                } else {
                    row.retain_from
                };
                let source_arn = meta.arn.clone();
                let moving = Relocation {
                    from_queue: meta.id,
                    row_id: row.id,
                    payload_id: row.payload_id,
                    group_id: row.group_id.as_deref(),
                    retain_from,
                    receive_count: row.receive_count,
                    first_received_at: row.first_received_at,
                    dlq_source_arn: Some(&source_arn),
                };
                self.move_row(&dlq, moving, now)?;
                Ok(true)
            }
        }
    }

    /// Expire or dead-letter `row` if its time or receive count says so (true), else deliver it
    /// into `out` (false).
    fn dispose_or_deliver(
        &mut self,
        meta: &QueueMeta,
        row: StoredRow,
        visibility: u32,
        now: i64,
        out: &mut Vec<ReceivedMessage>,
    ) -> rusqlite::Result<QueueResult<bool>> {
        if self.dispose(meta, &row, now)? {
            return Ok(Ok(true));
        }
        Ok(self.deliver(meta, row, visibility, now)?.map(|m| {
            out.push(m);
            false
        }))
    }

    /// Move a stored message to another queue as a new row (a new sequence number) in place of
    /// the old one; the payload stays where it is.
    pub(super) fn move_row(
        &mut self,
        destination: &QueueMeta,
        moving: Relocation<'_>,
        now: i64,
    ) -> rusqlite::Result<()> {
        let new_id = self.alloc_id();
        self.conn
            .prepare_cached(
                "INSERT INTO messages (id, queue_id, payload_id, group_id, retain_from, visible_at, receive_count, \
                 first_received_at) SELECT ?1, ?2, payload_id, group_id, ?3, ?4, ?5, ?6 FROM messages WHERE id = ?7",
            )?
            .execute(params![
                new_id,
                destination.id,
                moving.retain_from,
                now,
                moving.receive_count,
                moving.first_received_at,
                moving.row_id
            ])?;
        self.conn
            .prepare_cached("DELETE FROM messages WHERE id = ?1")?
            .execute([moving.row_id])?;
        self.conn
            .prepare_cached("UPDATE payloads SET dlq_source_arn = ?1 WHERE id = ?2")?
            .execute(params![moving.dlq_source_arn, moving.payload_id])?;
        self.group_gained_message(destination.id, moving.group_id, new_id, now, now);
        self.group_lost_message(moving.from_queue, moving.group_id, moving.row_id)?;
        self.wake.push(destination.notify.clone());
        Ok(())
    }

    /// Message `id` of `group` arrived in queue `queue_id` (sent or moved there): the FIFO group
    /// index or the fair-queue tenant counts, whichever the queue has loaded, take it in.
    fn group_gained_message(
        &mut self,
        queue_id: i64,
        group: Option<&str>,
        id: i64,
        visible_at: i64,
        now: i64,
    ) {
        let Some(g) = group else { return };
        if let Some(groups) = self.fifo.get_mut(&queue_id) {
            groups.inserted(g, id, visible_at);
        }
        if let Some(tenants) = self.tenants.get_mut(&queue_id) {
            tenants.added(g, now);
        }
    }

    /// Message `id` of `group` left queue `queue_id` (deleted, expired or moved away): the FIFO
    /// group index (read again from the table if that ran its prefix short) or the fair-queue
    /// tenant counts, whichever the queue has loaded, let it go.
    fn group_lost_message(
        &mut self,
        queue_id: i64,
        group: Option<&str>,
        id: i64,
    ) -> rusqlite::Result<()> {
        let Some(g) = group else { return Ok(()) };
        if let Some(groups) = self.fifo.get_mut(&queue_id) {
            groups.removed(g, id);
            self.refill_group(queue_id, g)?;
        }
        if let Some(tenants) = self.tenants.get_mut(&queue_id) {
            tenants.removed(g);
        }
        Ok(())
    }

    /// Row `id` of `group` is in flight (or visible again) until `visible_at`.
    fn group_leased_message(
        &mut self,
        queue_id: i64,
        group: Option<&str>,
        id: i64,
        visible_at: i64,
    ) {
        let (Some(groups), Some(g)) = (self.fifo.get_mut(&queue_id), group) else {
            return;
        };
        if !groups.leased(g, id, visible_at) {
            // Only a bug can get here (an in-flight row is always among a group's first ten):
            // drop the index rather than deliver out of order; the next receive reads it again.
            debug_assert!(false, "leased row {id} of group {g} is not in the index");
            self.fifo.remove(&queue_id);
        }
    }

    /// Remove one message and its payload.
    pub(super) fn delete_row(&mut self, row_id: i64, payload_id: i64) -> rusqlite::Result<()> {
        self.conn
            .prepare_cached("DELETE FROM messages WHERE id = ?1")?
            .execute([row_id])?;
        self.conn
            .prepare_cached("DELETE FROM payloads WHERE id = ?1")?
            .execute([payload_id])?;
        Ok(())
    }

    /// Remove every message of a queue with its payload (purge, queue deletion).
    pub(super) fn delete_all_messages(&mut self, queue_id: i64) -> rusqlite::Result<()> {
        self.conn.execute(
            "DELETE FROM payloads WHERE id IN (SELECT payload_id FROM messages WHERE queue_id = ?1)",
            [queue_id],
        )?;
        self.conn
            .execute("DELETE FROM messages WHERE queue_id = ?1", [queue_id])?;
        Ok(())
    }

    pub(super) fn deliver(
        &mut self,
        meta: &QueueMeta,
        row: StoredRow,
        visibility: u32,
        now: i64,
    ) -> rusqlite::Result<QueueResult<ReceivedMessage>> {
        let token: i64 = rand::random();
        let visible_at = now + visibility as i64 * 1000;
        self.conn
            .prepare_cached(
                "UPDATE messages SET visible_at = ?2, receive_count = receive_count + 1, \
                 first_received_at = COALESCE(first_received_at, ?3), last_received_at = ?3, receipt_token = ?4 \
                 WHERE id = ?1",
            )?
            .execute(params![row.id, visible_at, now, token])?;
        if let Some(leases) = self.leases.get_mut(&meta.id) {
            leases.grant(row.id, visible_at, row.group_id.as_deref());
        }
        self.group_leased_message(meta.id, row.group_id.as_deref(), row.id, visible_at);
        let attributes = match row
            .attributes
            .as_deref()
            .map(serde_json::from_str)
            .transpose()
        {
            Ok(a) => a.unwrap_or_default(),
            Err(e) => {
                return Ok(Err(QueueError::Internal(format!(
                "stored attributes of message {} are unreadable ({e}); the database may be damaged",
                row.message_id
            ))))
            }
        };
        Ok(Ok(ReceivedMessage {
            receipt_handle: Receipt {
                queue_id: meta.id,
                row_id: row.id,
                token,
            }
            .encode(),
            message_id: row.message_id,
            body: row.body,
            attributes,
            sent_timestamp: row.sent_at,
            approximate_receive_count: (row.receive_count + 1) as u32,
            approximate_first_receive_timestamp: row.first_received_at.unwrap_or(now),
            sequence_number: meta.config.fifo.then(|| sequence_number(row.id)),
            group_id: row.group_id,
            deduplication_id: row.dedup_id,
            dead_letter_queue_source_arn: row.dlq_source_arn,
            trace_header: row.trace_header,
            sender_id: self.location.account_id.clone(),
        }))
    }

    pub(super) fn receive(
        &mut self,
        queue: &QueueMeta,
        max: u32,
        visibility: Option<u32>,
        now: i64,
    ) -> rusqlite::Result<QueueResult<Vec<ReceivedMessage>>> {
        let meta = refuse!(self.current(queue));
        let visibility = visibility.unwrap_or(meta.config.visibility_timeout);
        self.ensure_leases(&meta, now)?;
        let in_flight = self.leases.get(&meta.id).map_or(0, Leases::count);
        let room = self.max_in_flight.saturating_sub(in_flight);
        if room == 0 {
            // SQS answers a standard queue with OverLimit and a FIFO queue with no messages.
            if meta.config.fifo {
                return Ok(Ok(Vec::new()));
            }
            return Ok(Err(QueueError::OverLimit(format!(
                "{} has {} messages in flight, the most SQS allows; delete them or make them visible again before receiving more",
                meta.name, self.max_in_flight
            ))));
        }
        let max = (max as u64).min(room) as usize;
        if meta.config.fifo {
            self.receive_fifo(&meta, max, visibility, now)
        } else {
            self.receive_standard(&meta, max, visibility, now)
        }
    }

    pub(super) fn receive_standard(
        &mut self,
        meta: &QueueMeta,
        max: usize,
        visibility: u32,
        now: i64,
    ) -> rusqlite::Result<QueueResult<Vec<ReceivedMessage>>> {
        let mut out: Vec<ReceivedMessage> = Vec::with_capacity(max);
        let mut delivered: Vec<i64> = Vec::with_capacity(max);
        refuse!(self.receive_quiet_first(meta, max, visibility, now, &mut out, &mut delivered)?);
        // Rows that expire or go to the dead-letter queue leave room: look again while that
        // happens. A row delivered with visibility 0 stays visible, so `delivered` keeps it out.
        let mut disposals = 0;
        while disposals < MAX_DISPOSALS_PER_RECEIVE && out.len() < max {
            let limit = (max - out.len() + delivered.len()) as i64;
            let rows: Vec<StoredRow> = self
                .conn
                .prepare_cached(&format!(
                    "SELECT {ROW_COLUMNS} FROM {ROW_SOURCE} WHERE m.queue_id = ?1 AND m.visible_at <= ?2 \
                     ORDER BY m.visible_at LIMIT ?3"
                ))?
                .query_map(params![meta.id, now, limit], StoredRow::read)?
                .filter(|r| !matches!(r, Ok(row) if delivered.contains(&row.id)))
                .collect::<rusqlite::Result<_>>()?;
            if rows.is_empty() {
                break;
            }
            let mut disposed = false;
            for row in rows {
                if out.len() >= max {
                    break;
                }
                let row_id = row.id;
                if refuse!(self.dispose_or_deliver(meta, row, visibility, now, &mut out)?) {
                    disposed = true;
                    disposals += 1;
                } else {
                    delivered.push(row_id);
                }
            }
            if !disposed || out.len() >= max {
                break;
            }
        }
        Ok(Ok(out))
    }

    /// Load a queue's leases (and a standard queue's tenants) if this writer has not got them
    /// yet, and end the leases that ran out by `now`.
    pub(super) fn ensure_leases(&mut self, meta: &QueueMeta, now: i64) -> rusqlite::Result<()> {
        if !self.leases.contains_key(&meta.id) {
            let mut leases = Leases::default();
            let mut stmt = self.conn.prepare_cached(
                "SELECT id, visible_at, group_id FROM messages \
                 WHERE queue_id = ?1 AND visible_at > ?2 AND receive_count > 0",
            )?;
            let rows = stmt.query_map(params![meta.id, now], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, Option<String>>(2)?,
                ))
            })?;
            for row in rows {
                let (id, until, group) = row?;
                leases.grant(id, until, group.as_deref());
            }
            drop(stmt);
            if !meta.config.fifo {
                let counts: Vec<(String, u64)> = self
                    .conn
                    .prepare_cached(
                        "SELECT group_id, count(*) FROM messages \
                         WHERE queue_id = ?1 AND group_id IS NOT NULL GROUP BY group_id",
                    )?
                    .query_map([meta.id], |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as u64)))?
                    .collect::<rusqlite::Result<_>>()?;
                self.tenants.insert(meta.id, Tenants::from_counts(counts));
            }
            self.leases.insert(meta.id, leases);
        }
        if let Some(leases) = self.leases.get_mut(&meta.id) {
            leases.expire(now);
        }
        Ok(())
    }

    /// Fair queues: while a group is noisy (see `fair`), take visible messages of the quiet
    /// groups first, a share from each in turn so that none of them takes the whole batch and
    /// turns noisy itself. The caller fills the rest oldest-first.
    fn receive_quiet_first(
        &mut self,
        meta: &QueueMeta,
        max: usize,
        visibility: u32,
        now: i64,
        out: &mut Vec<ReceivedMessage>,
        delivered: &mut Vec<i64>,
    ) -> rusqlite::Result<QueueResult<()>> {
        let turns = match (self.tenants.get_mut(&meta.id), self.leases.get(&meta.id)) {
            (Some(tenants), Some(leases)) => {
                tenants.update_noisy(leases, now);
                tenants.quiet_turns(leases)
            }
            _ => return Ok(Ok(())),
        };
        let share = max.div_ceil(turns.len().max(1)).max(1);
        for group in turns {
            if out.len() >= max {
                break;
            }
            let want = share.min(max - out.len()) as i64;
            let rows: Vec<StoredRow> = self
                .conn
                .prepare_cached(&format!(
                    "SELECT {ROW_COLUMNS} FROM {ROW_SOURCE_BY_GROUP} WHERE m.queue_id = ?1 AND m.group_id = ?2 \
                     AND m.visible_at <= ?3 ORDER BY m.id LIMIT ?4"
                ))?
                .query_map(params![meta.id, &*group, now, want], StoredRow::read)?
                .collect::<rusqlite::Result<_>>()?;
            for row in rows {
                let row_id = row.id;
                if !refuse!(self.dispose_or_deliver(meta, row, visibility, now, out)?) {
                    delivered.push(row_id);
                }
            }
            if let Some(tenants) = self.tenants.get_mut(&meta.id) {
                tenants.served(group);
            }
        }
        Ok(Ok(()))
    }

    /// Load a FIFO queue's group index if this writer has not got it yet.
    pub(super) fn ensure_groups(&mut self, queue_id: i64) -> rusqlite::Result<()> {
        if self.fifo.contains_key(&queue_id) {
            return Ok(());
        }
        let names: Vec<String> = self
            .conn
            .prepare_cached("SELECT DISTINCT group_id FROM messages WHERE queue_id = ?1 AND group_id IS NOT NULL")?
            .query_map([queue_id], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        let mut groups = QueueGroups::default();
        for g in &names {
            groups.add_unread(g);
        }
        self.fifo.insert(queue_id, groups);
        for g in &names {
            self.refill_group(queue_id, g)?;
        }
        Ok(())
    }

    /// Read the rows of `group` that follow its in-memory prefix, if the index asks for them.
    fn refill_group(&mut self, queue_id: i64, group: &str) -> rusqlite::Result<()> {
        let Some((after_id, limit)) = self
            .fifo
            .get(&queue_id)
            .and_then(|g| g.refill_request(group))
        else {
            return Ok(());
        };
        let rows: Vec<QueuedRow> = self
            .conn
            .prepare_cached(
                "SELECT id, visible_at, receive_count FROM messages WHERE queue_id = ?1 AND group_id = ?2 \
                 AND id > ?3 ORDER BY id LIMIT ?4",
            )?
            .query_map(params![queue_id, group, after_id, limit as i64], |r| {
                Ok(QueuedRow {
                    id: r.get(0)?,
                    visible_at: r.get(1)?,
                    received: r.get::<_, i64>(2)? > 0,
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
        if let Some(groups) = self.fifo.get_mut(&queue_id) {
            groups.refilled(group, &rows, limit);
        }
        Ok(())
    }

    pub(super) fn receive_fifo(
        &mut self,
        meta: &QueueMeta,
        max: usize,
        visibility: u32,
        now: i64,
    ) -> rusqlite::Result<QueueResult<Vec<ReceivedMessage>>> {
        self.ensure_groups(meta.id)?;
        let candidates = self
            .fifo
            .get(&meta.id)
            .map(|g| g.available(now))
            .unwrap_or_default();
        let mut out = Vec::with_capacity(max);
        for group in candidates {
            if out.len() >= max {
                break;
            }
            // Fill the batch from this group first, in order, stopping at the first message that
            // is not yet visible; rows that expire or dead-letter let later ones through.
            let mut after_id = 0;
            let mut disposals = 0;
            while disposals < MAX_DISPOSALS_PER_RECEIVE {
                let rows: Vec<StoredRow> = self
                    .conn
                    .prepare_cached(&format!(
                        "SELECT {ROW_COLUMNS} FROM {ROW_SOURCE} WHERE m.queue_id = ?1 AND m.group_id = ?2 \
                         AND m.id > ?3 ORDER BY m.id LIMIT ?4"
                    ))?
                    .query_map(params![meta.id, &*group, after_id, (max - out.len()) as i64], StoredRow::read)?
                    .collect::<rusqlite::Result<_>>()?;
                let fetched = rows.len();
                let mut disposed = false;
                let mut blocked = false;
                for row in rows {
                    if row.visible_at > now {
                        blocked = true;
                        break;
                    }
                    after_id = row.id;
                    if refuse!(self.dispose_or_deliver(meta, row, visibility, now, &mut out)?) {
                        disposed = true;
                        disposals += 1;
                    }
                }
                if blocked || !disposed || fetched == 0 || out.len() >= max {
                    break;
                }
            }
        }
        Ok(Ok(out))
    }

    pub(super) fn delete(
        &mut self,
        queue: &QueueMeta,
        receipts: &[Receipt],
    ) -> rusqlite::Result<QueueResult<()>> {
        let meta = refuse!(self.current(queue));
        let mut unblocked_a_group = false;
        for chunk in receipts.chunks(DELETE_CHUNK) {
            for (row_id, group) in self.delete_chunk(meta.id, chunk)? {
                if let Some(leases) = self.leases.get_mut(&meta.id) {
                    leases.end(row_id);
                }
                self.group_lost_message(meta.id, group.as_deref(), row_id)?;
                unblocked_a_group |= meta.config.fifo && group.is_some();
            }
        }
        if unblocked_a_group {
            self.wake.push(meta.notify.clone());
        }
        Ok(Ok(()))
    }

    /// Delete the messages of up to [`DELETE_CHUNK`] receipts with three statements, not two per
    /// message; returns the rows deleted with their groups. A stale handle (the message was
    /// received again since) matches no row: as in SQS the call succeeds, and the newer receive
    /// keeps its message.
    fn delete_chunk(
        &mut self,
        queue_id: i64,
        receipts: &[Receipt],
    ) -> rusqlite::Result<Vec<(i64, Option<String>)>> {
        // `+queue_id` keeps the queue's indexes out of the plan: with it SQLite looks each id up
        // by primary key; without it, it scans the queue's retention index.
        let ids = placeholders(2, receipts.len());
        let mut found: Vec<(i64, Option<i64>, Option<String>, i64)> =
            Vec::with_capacity(receipts.len());
        {
            let mut stmt = self.conn.prepare_cached(&format!(
                "SELECT id, receipt_token, group_id, payload_id FROM messages WHERE id IN ({ids}) AND +queue_id = ?1"
            ))?;
            let mut values: Vec<i64> = Vec::with_capacity(receipts.len() + 1);
            values.push(queue_id);
            values.extend(receipts.iter().map(|r| r.row_id));
            let rows = stmt.query_map(rusqlite::params_from_iter(values), |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })?;
            for row in rows {
                found.push(row?);
            }
        }
        found.retain(|(id, token, _, _)| {
            receipts
                .iter()
                .any(|r| r.row_id == *id && Some(r.token) == *token)
        });
        if found.is_empty() {
            return Ok(Vec::new());
        }
        let ids = placeholders(1, found.len());
        self.conn
            .prepare_cached(&format!("DELETE FROM messages WHERE id IN ({ids})"))?
            .execute(rusqlite::params_from_iter(found.iter().map(|f| f.0)))?;
        self.conn
            .prepare_cached(&format!("DELETE FROM payloads WHERE id IN ({ids})"))?
            .execute(rusqlite::params_from_iter(found.iter().map(|f| f.3)))?;
        Ok(found
            .into_iter()
            .map(|(id, _, group, _)| (id, group))
            .collect())
    }

    pub(super) fn change_visibility(
        &mut self,
        queue: &QueueMeta,
        changes: &[(Receipt, u32)],
        now: i64,
    ) -> rusqlite::Result<QueueResult<Vec<QueueResult<()>>>> {
        let meta = refuse!(self.current(queue));
        let mut results = Vec::with_capacity(changes.len());
        for (r, timeout) in changes {
            let row: Option<(i64, Option<i64>, Option<String>)> = self
                .conn
                .prepare_cached(
                    "SELECT visible_at, last_received_at, group_id FROM messages \
                     WHERE id = ?1 AND queue_id = ?2 AND receipt_token = ?3",
                )?
                .query_row(params![r.row_id, meta.id, r.token], |row| {
                    Ok((row.get(0)?, row.get(1)?, row.get(2)?))
                })
                .optional()?;
            let Some((visible_at, last_received_at, group)) = row else {
                results.push(Err(QueueError::ReceiptHandleExpired(r.encode())));
                continue;
            };
            if visible_at <= now {
                results.push(Err(QueueError::MessageNotInflight));
                continue;
            }
            let new_visible_at = now + *timeout as i64 * 1000;
            if new_visible_at > last_received_at.unwrap_or(now) + MAX_INFLIGHT_MS {
                results.push(Err(QueueError::invalid(format!(
                    "a visibility timeout of {timeout} s would keep the message in flight more than 12 hours after it was received; use a smaller value"
                ))));
                continue;
            }
            self.conn
                .prepare_cached("UPDATE messages SET visible_at = ?1 WHERE id = ?2")?
                .execute(params![new_visible_at, r.row_id])?;
            if let Some(leases) = self.leases.get_mut(&meta.id) {
                if new_visible_at > now {
                    leases.grant(r.row_id, new_visible_at, group.as_deref());
                } else {
                    leases.end(r.row_id);
                }
            }
            self.group_leased_message(meta.id, group.as_deref(), r.row_id, new_visible_at);
            if *timeout == 0 {
                self.wake.push(meta.notify.clone());
            }
            results.push(Ok(()));
        }
        Ok(Ok(results))
    }
}

/// `?first, ?first+1, …`: `count` numbered SQL parameters.
fn placeholders(first: usize, count: usize) -> String {
    (first..first + count)
        .map(|n| format!("?{n}"))
        .collect::<Vec<_>>()
        .join(", ")
}
