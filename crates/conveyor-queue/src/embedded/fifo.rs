//! Which message groups of a FIFO queue can deliver, in the order their oldest messages arrived.
//!
//! This is a cache over the `messages` table, owned by the writer thread: it is loaded lazily per
//! queue, updated as the writer changes rows, and dropped whenever it might be wrong (a failed
//! transaction, a purge, a retention sweep). The table stays the only source of truth.
//!
//! Why the cache can be this small: within a group, messages are delivered in order and a group
//! with anything in flight delivers nothing more, so every in-flight message of a group is among
//! its first ten (one receive returns at most ten). A group's state is therefore its head id and
//! the time until which its first ten rows keep it blocked.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// How many leading rows of a group can hold in-flight messages (the receive batch maximum).
pub const GROUP_WINDOW: i64 = 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupState {
    /// Row id of the group's oldest message: the position of the group in delivery order.
    pub head_id: i64,
    /// The group delivers nothing before this time (a delayed head or a message in flight).
    pub blocked_until: i64,
}

/// The groups of one FIFO queue.
#[derive(Debug, Default)]
pub struct QueueGroups {
    by_head: BTreeMap<i64, Arc<str>>,
    groups: HashMap<Arc<str>, GroupState>,
}

impl QueueGroups {
    /// Replace a group's state; `None` removes a group that has no messages left.
    pub fn set(&mut self, group: &str, state: Option<GroupState>) {
        if let Some(old) = self.groups.get(group) {
            self.by_head.remove(&old.head_id);
        }
        match state {
            Some(s) => {
                let key: Arc<str> = match self.groups.get_key_value(group) {
                    Some((k, _)) => k.clone(),
                    None => Arc::from(group),
                };
                self.by_head.insert(s.head_id, key.clone());
                self.groups.insert(key, s);
            }
            None => {
                self.groups.remove(group);
            }
        }
    }

    /// A new message arrived: it heads its group only if the group had no messages.
    pub fn on_insert(&mut self, group: &str, id: i64, visible_at: i64) {
        if !self.groups.contains_key(group) {
            self.set(
                group,
                Some(GroupState {
                    head_id: id,
                    blocked_until: visible_at,
                }),
            );
        }
    }

    /// Groups that may deliver at `now`, oldest head first.
    pub fn available(&self, now: i64) -> Vec<Arc<str>> {
        self.by_head
            .values()
            .filter(|g| {
                self.groups
                    .get(&***g)
                    .is_some_and(|s| s.blocked_until <= now)
            })
            .cloned()
            .collect()
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.groups.len()
    }
}

/// The state of the first rows of a group, oldest first: `(id, visible_at, receive_count)`.
pub fn state_from_window(rows: &[(i64, i64, i64)]) -> Option<GroupState> {
    let (head_id, head_visible, _) = *rows.first()?;
    let blocked_until = rows
        .iter()
        .filter(|(_, _, received)| *received > 0)
        .map(|(_, visible_at, _)| *visible_at)
        .fold(head_visible, i64::max);
    Some(GroupState {
        head_id,
        blocked_until,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_come_out_in_head_order_and_blocked_ones_are_skipped() {
        let mut q = QueueGroups::default();
        q.on_insert("b", 2, 0);
        q.on_insert("a", 1, 0);
        q.on_insert("a", 3, 0);
        q.on_insert("c", 4, 100);
        let names: Vec<String> = q.available(10).iter().map(|g| g.to_string()).collect();
        assert_eq!(names, ["a", "b"]);
        q.set(
            "a",
            Some(GroupState {
                head_id: 1,
                blocked_until: 50,
            }),
        );
        assert_eq!(q.available(10).len(), 1);
        q.set("b", None);
        assert_eq!(q.len(), 2);
        assert_eq!(q.available(100).len(), 2);
    }

    #[test]
    fn window_state_takes_the_latest_in_flight_time() {
        assert_eq!(state_from_window(&[]), None);
        let s = state_from_window(&[(5, 10, 1), (6, 30, 1), (7, 0, 0)]).unwrap();
        assert_eq!(
            s,
            GroupState {
                head_id: 5,
                blocked_until: 30
            }
        );
        // An unreceived delayed head blocks the group until it is visible.
        let s = state_from_window(&[(5, 40, 0), (6, 0, 0)]).unwrap();
        assert_eq!(s.blocked_until, 40);
    }
}
