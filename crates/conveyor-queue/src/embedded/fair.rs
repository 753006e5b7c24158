//! Fair queues (Amazon SQS, July 2025): on a standard queue whose messages carry a
//! `MessageGroupId`, a tenant (group) holding a disproportionate share of the in-flight messages
//! is served after the quiet tenants, so its backlog does not raise their dwell time.
//!
//! The rule is SQS's documented concurrency share: a group becomes noisy when it has at least 30
//! messages in flight and more than 10% of the queue's in-flight messages, and stays noisy until
//! its in-flight count is down to what the busiest quiet group holds, its backlog is gone, or it
//! has sent nothing for five minutes. While some group is noisy, a receive first takes visible messages of the quiet groups, a few from each in turn,
//! and fills what is left in the usual oldest-first order (which then mostly serves the noisy
//! groups). With no noisy group the queue behaves exactly as a standard queue.
//!
//! Finding a quiet group's visible messages is one seek on the `(queue_id, group_id, id)` index,
//! so the noisy backlog is never scanned; knowing which groups have messages at all is what this
//! module keeps in memory: the stored count of each group, loaded with the leases and kept
//! current by the writer.
//!
//! Not modelled: SQS's second measure (a tenant's share of consumer processing time), and the
//! ordering among several noisy groups (fewest in flight first); here they share the oldest-first
//! fill. Messages without a group are served in that fill too, not ahead of noisy groups.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ops::Bound;
use std::sync::Arc;

use super::leases::Leases;

/// A group with fewer messages than this in flight is never noisy.
pub const NOISY_MIN_IN_FLIGHT: u32 = 30;
/// ...nor one holding at most this percentage of the queue's in-flight messages.
pub const NOISY_SHARE_PERCENT: u64 = 10;
/// Most quiet groups one receive looks at, so a queue of many tenants costs a bounded receive.
pub const MAX_PROBES: usize = 64;
/// A noisy group that sent nothing for this long is quiet again.
pub const QUIET_AFTER_MS: i64 = 5 * 60 * 1000;

/// The groups of one standard queue that hold messages, with how many each.
#[derive(Debug, Default)]
pub struct Tenants {
    stored: BTreeMap<Arc<str>, u64>,
    /// The group the last round of probes ended at: the next round starts after it, so every
    /// quiet tenant gets its turn.
    last_served: Option<Arc<str>>,
    /// The groups marked noisy, each with when it last sent a message.
    noisy: HashMap<Arc<str>, i64>,
}

impl Tenants {
    pub fn from_counts(counts: impl IntoIterator<Item = (String, u64)>) -> Tenants {
        Tenants {
            stored: counts
                .into_iter()
                .map(|(g, n)| (Arc::from(g.as_str()), n))
                .collect(),
            last_served: None,
            noisy: HashMap::new(),
        }
    }

    pub fn added(&mut self, group: &str, now: i64) {
        if let Some(last_sent) = self.noisy.get_mut(group) {
            *last_sent = now;
        }
        match self.stored.get_mut(group) {
            Some(n) => *n += 1,
            None => {
                self.stored.insert(Arc::from(group), 1);
            }
        }
    }

    pub fn removed(&mut self, group: &str) {
        if let Some(n) = self.stored.get_mut(group) {
            *n -= 1;
            if *n == 0 {
                self.stored.remove(group);
                self.noisy.remove(group);
            }
        }
    }

    /// Quiet groups that may have a visible message (more stored than in flight), in turn
    /// order, at most `MAX_PROBES`. Empty when no group is noisy: then fairness has nothing
    /// to correct and the receive takes the oldest messages as usual.
    pub fn quiet_turns(&self, leases: &Leases) -> Vec<Arc<str>> {
        if self.noisy.is_empty() {
            return Vec::new();
        }
        // Turn order: the groups after the one served last, then from the first up to it.
        let (after, before) = match self.last_served.as_deref() {
            Some(last) => (
                self.stored
                    .range::<str, _>((Bound::Excluded(last), Bound::Unbounded)),
                self.stored
                    .range::<str, _>((Bound::Unbounded, Bound::Included(last))),
            ),
            None => (
                self.stored.range::<str, _>(..),
                self.stored
                    .range::<str, _>((Bound::Included(""), Bound::Excluded(""))),
            ),
        };
        after
            .chain(before)
            .filter(|(g, stored)| {
                !self.noisy.contains_key(*g) && **stored > leases.of_group(g) as u64
            })
            .map(|(g, _)| g.clone())
            .take(MAX_PROBES)
            .collect()
    }

    /// Mark the groups that are noisy by the concurrency-share rule, and unmark those that
    /// are quiet again: down to the busiest quiet group's in-flight count, nothing waiting
    /// beyond what is in flight, or nothing sent for `QUIET_AFTER_MS`.
    pub fn update_noisy(&mut self, leases: &Leases, now: i64) {
        for group in noisy_groups(leases) {
            self.noisy.entry(group).or_insert(now);
        }
        if self.noisy.is_empty() {
            return;
        }
        let quiet_peak = leases
            .groups()
            .filter(|(g, _)| !self.noisy.contains_key(*g))
            .map(|(_, n)| n)
            .max()
            .unwrap_or(0);
        let stored = &self.stored;
        self.noisy.retain(|group, last_sent| {
            let in_flight = leases.of_group(group);
            in_flight > quiet_peak
                && stored.get(group).is_some_and(|s| *s > in_flight as u64)
                && now - *last_sent < QUIET_AFTER_MS
        });
    }

    pub fn served(&mut self, group: Arc<str>) {
        self.last_served = Some(group);
    }
}

/// The groups that are noisy now, by SQS's concurrency-share rule.
pub fn noisy_groups(leases: &Leases) -> HashSet<Arc<str>> {
    let total = leases.count();
    leases
        .groups()
        .filter(|(_, n)| *n >= NOISY_MIN_IN_FLIGHT && *n as u64 * 100 > total * NOISY_SHARE_PERCENT)
        .map(|(g, _)| g.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[Arc<str>]) -> Vec<&str> {
        v.iter().map(|g| &**g).collect()
    }

    #[test]
    fn a_group_is_noisy_only_with_thirty_in_flight_and_over_a_tenth_of_them() {
        let mut leases = Leases::default();
        for row in 0..29 {
            leases.grant(row, 1_000, Some("big"));
        }
        assert!(
            noisy_groups(&leases).is_empty(),
            "29 in flight is never noisy"
        );
        leases.grant(29, 1_000, Some("big"));
        assert_eq!(noisy_groups(&leases).len(), 1);
        // 30 of 300 is exactly a tenth: not more than it.
        for row in 100..370 {
            leases.grant(row, 1_000, None);
        }
        assert!(noisy_groups(&leases).is_empty());
        leases.grant(30, 1_000, Some("big"));
        assert_eq!(noisy_groups(&leases).len(), 1);
    }

    #[test]
    fn quiet_groups_take_turns_and_only_while_someone_is_noisy() {
        let mut tenants = Tenants::from_counts([
            ("a".to_string(), 2),
            ("b".to_string(), 1),
            ("c".to_string(), 5),
            ("noisy".to_string(), 1_000),
        ]);
        let mut leases = Leases::default();
        tenants.update_noisy(&leases, 0);
        assert!(tenants.quiet_turns(&leases).is_empty());
        for row in 0..40 {
            leases.grant(row, 1_000, Some("noisy"));
        }
        leases.grant(100, 1_000, Some("b"));
        tenants.update_noisy(&leases, 0);
        // b's one message is in flight, so b has nothing visible to offer.
        assert_eq!(names(&tenants.quiet_turns(&leases)), ["a", "c"]);
        tenants.served(Arc::from("a"));
        assert_eq!(names(&tenants.quiet_turns(&leases)), ["c", "a"]);
        tenants.removed("c");
        tenants.added("d", 0);
        tenants.served(Arc::from("c"));
        assert_eq!(names(&tenants.quiet_turns(&leases)), ["d", "a", "c"]);
    }

    #[test]
    fn a_noisy_group_stays_noisy_until_it_holds_no_more_than_the_quiet_ones() {
        let mut tenants =
            Tenants::from_counts([("q".to_string(), 50), ("noisy".to_string(), 1_000)]);
        let mut leases = Leases::default();
        for row in 0..30 {
            leases.grant(row, 1_000, Some("noisy"));
        }
        for row in 100..105 {
            leases.grant(row, 1_000, Some("q"));
        }
        tenants.update_noisy(&leases, 0);
        assert_eq!(names(&tenants.quiet_turns(&leases)), ["q"]);
        // Under the marking threshold but still above the quiet group: still noisy.
        for row in 0..20 {
            leases.end(row);
        }
        tenants.update_noisy(&leases, 1);
        assert_eq!(names(&tenants.quiet_turns(&leases)), ["q"]);
        // Down to what the quiet group holds: quiet again, and the queue is plain oldest-first.
        for row in 20..25 {
            leases.end(row);
        }
        tenants.update_noisy(&leases, 2);
        assert!(tenants.quiet_turns(&leases).is_empty());
    }

    #[test]
    fn a_noisy_group_that_stops_sending_is_quiet_after_five_minutes() {
        let mut tenants =
            Tenants::from_counts([("q".to_string(), 50), ("noisy".to_string(), 1_000)]);
        let mut leases = Leases::default();
        for row in 0..40 {
            leases.grant(row, i64::MAX, Some("noisy"));
        }
        tenants.update_noisy(&leases, 0);
        tenants.added("noisy", 60_000);
        tenants.update_noisy(&leases, QUIET_AFTER_MS);
        assert!(
            !tenants.quiet_turns(&leases).is_empty(),
            "it sent a minute in"
        );
        tenants.update_noisy(&leases, 60_000 + QUIET_AFTER_MS);
        assert!(tenants.quiet_turns(&leases).is_empty());
    }
}
