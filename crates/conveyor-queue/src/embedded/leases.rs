//! Which messages of a queue are in flight, and until when, kept in memory by the writer.
//!
//! Like the FIFO group index this is a cache over the `messages` table, which stays the source
//! of truth (a receive still persists the deadline, so a restart keeps in-flight messages in
//! flight): it is loaded on a queue's first receive, kept current by every command that starts,
//! moves or ends a lease, and dropped whenever it might be wrong (a failed transaction, a purge,
//! a retention sweep that removed rows). What it buys: the in-flight count that SQS's 120,000
//! limit needs is a field read instead of a count over the in-flight index entries on every
//! receive, and each group's in-flight count, which fair queues need (see `fair`), is at hand.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

#[derive(Debug)]
struct Lease {
    until: i64,
    group: Option<Arc<str>>,
}

/// The in-flight messages of one queue.
#[derive(Debug, Default)]
pub struct Leases {
    by_row: HashMap<i64, Lease>,
    by_deadline: BTreeSet<(i64, i64)>,
    per_group: HashMap<Arc<str>, u32>,
}

impl Leases {
    /// Message `row` is in flight until `until`, replacing any lease it had.
    pub fn grant(&mut self, row: i64, until: i64, group: Option<&str>) {
        self.end(row);
        let group: Option<Arc<str>> = group.map(|g| match self.per_group.get_key_value(g) {
            Some((key, _)) => key.clone(),
            None => Arc::from(g),
        });
        if let Some(g) = &group {
            *self.per_group.entry(g.clone()).or_default() += 1;
        }
        self.by_deadline.insert((until, row));
        self.by_row.insert(row, Lease { until, group });
    }

    /// Message `row` is no longer in flight (deleted, or made visible again).
    pub fn end(&mut self, row: i64) {
        let Some(lease) = self.by_row.remove(&row) else {
            return;
        };
        self.by_deadline.remove(&(lease.until, row));
        if let Some(g) = lease.group {
            if let Some(count) = self.per_group.get_mut(&g) {
                *count -= 1;
                if *count == 0 {
                    self.per_group.remove(&g);
                }
            }
        }
    }

    /// End every lease whose deadline has passed at `now`: those messages are visible again.
    pub fn expire(&mut self, now: i64) {
        while let Some(&(until, row)) = self.by_deadline.first() {
            if until > now {
                break;
            }
            self.end(row);
        }
    }

    /// Messages in flight (as of the last `expire`).
    pub fn count(&self) -> u64 {
        self.by_row.len() as u64
    }

    /// Messages of `group` in flight.
    pub fn of_group(&self, group: &str) -> u32 {
        self.per_group.get(group).copied().unwrap_or(0)
    }

    /// Every group with messages in flight, with how many.
    pub fn groups(&self) -> impl Iterator<Item = (&Arc<str>, u32)> {
        self.per_group.iter().map(|(g, n)| (g, *n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leases_end_by_time_by_hand_and_when_replaced() {
        let mut l = Leases::default();
        l.grant(1, 100, Some("a"));
        l.grant(2, 200, Some("a"));
        l.grant(3, 300, None);
        assert_eq!((l.count(), l.of_group("a")), (3, 2));
        l.expire(100);
        assert_eq!((l.count(), l.of_group("a")), (2, 1));
        // A new receive of the same row replaces its lease rather than adding one.
        l.grant(2, 500, Some("a"));
        l.expire(300);
        assert_eq!((l.count(), l.of_group("a")), (1, 1));
        l.end(2);
        l.end(2);
        assert_eq!((l.count(), l.of_group("a")), (0, 0));
        assert_eq!(
            l.groups().count(),
            0,
            "a group with nothing in flight is forgotten"
        );
    }
}
