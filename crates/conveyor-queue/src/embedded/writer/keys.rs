//! Idempotency keys of the HTTP API, in the same transactions as everything else, so a claim
//! and its check are one atomic step. Expired keys are removed by maintenance.

use rusqlite::{params, OptionalExtension};

use super::Writer;
use crate::idempotency::{Claim, KeyRecord, KeyTimes};

impl Writer {
    pub(super) fn claim_key(
        &mut self,
        key: &str,
        fingerprint: &str,
        times: KeyTimes,
        now: i64,
    ) -> rusqlite::Result<Claim> {
        let existing: Option<KeyRecord> = self
            .conn
            .prepare_cached(
                "SELECT fingerprint, answer, claimed_at, expires_at FROM idempotency_keys WHERE key = ?1",
            )?
            .query_row([key], |r| {
                Ok(KeyRecord {
                    fingerprint: r.get(0)?,
                    answer: r.get(1)?,
                    claimed_at_ms: r.get(2)?,
                    expires_at_ms: r.get(3)?,
                })
            })
            .optional()?;
        if let Some(claim) = existing.and_then(|r| r.judge(fingerprint, now, times.lease)) {
            return Ok(claim);
        }
        self.conn
            .prepare_cached(
                "INSERT OR REPLACE INTO idempotency_keys (key, fingerprint, answer, claimed_at, expires_at) \
                 VALUES (?1, ?2, NULL, ?3, ?4)",
            )?
            .execute(params![
                key,
                fingerprint,
                now,
                now + times.window.as_millis() as i64
            ])?;
        Ok(Claim::Fresh)
    }

    pub(super) fn settle_key(&mut self, key: &str, answer: Option<&str>) -> rusqlite::Result<()> {
        match answer {
            Some(answer) => self
                .conn
                .prepare_cached("UPDATE idempotency_keys SET answer = ?2 WHERE key = ?1")?
                .execute(params![key, answer])?,
            None => self
                .conn
                .prepare_cached("DELETE FROM idempotency_keys WHERE key = ?1 AND answer IS NULL")?
                .execute([key])?,
        };
        Ok(())
    }
}
