//! Which message groups of a FIFO queue can deliver, in the order their oldest messages arrived.
//!
//! This is a cache over the `messages` table, owned by the writer thread: it is loaded lazily per
//! queue, updated as the writer changes rows, and dropped whenever it might be wrong (a failed
//! transaction, a purge, a retention sweep). The table stays the only source of truth.
//!
//! Why the cache can be this small: within a group, messages are delivered in order and a group
//! with anything in flight delivers nothing more, so every in-flight message of a group is among
//! its first ten (one receive returns at most ten). A group's state is therefore decided by its
//! first ten rows. Each group holds a longer prefix of its rows (up to [`GROUP_PREFIX`]) so that
//! receives and deletes are followed in memory, and the writer reads the group again only when
//! deletes have eaten the prefix down below ten rows while the store holds more.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;

/// How many leading rows of a group can hold in-flight messages (the receive batch maximum).
pub const GROUP_WINDOW: usize = 10;
/// How many leading rows of a group are kept in memory once the group has been read again:
/// one read then serves about 54 deletes. 10,000 groups hold at most ~15 MB.
pub const GROUP_PREFIX: usize = 64;

/// What the group index needs of one stored row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueuedRow {
    pub id: i64,
    pub visible_at: i64,
    /// Received at least once: its `visible_at` is a visibility deadline that blocks the group.
    pub received: bool,
}

#[derive(Debug, Default)]
struct Group {
    /// The group's first rows, in id order.
    prefix: VecDeque<QueuedRow>,
    /// The store may hold rows of this group after `read_up_to`.
    more_in_store: bool,
    /// The highest id the prefix has covered (`None`: nothing read yet). Rows up to it that are
    /// not in `prefix` are gone.
    read_up_to: Option<i64>,
    /// The group delivers nothing before this time (a delayed head or a message in flight).
    blocked_until: i64,
}

impl Group {
    fn head_id(&self) -> Option<i64> {
        self.prefix.front().map(|r| r.id)
    }

    fn recompute(&mut self) {
        let Some(head) = self.prefix.front() else {
            return;
        };
        self.blocked_until = self
            .prefix
            .iter()
            .take(GROUP_WINDOW)
            .filter(|r| r.received)
            .map(|r| r.visible_at)
            .fold(head.visible_at, i64::max);
    }
}

/// The groups of one FIFO queue.
#[derive(Debug, Default)]
pub struct QueueGroups {
    by_head: BTreeMap<i64, Arc<str>>,
    groups: HashMap<Arc<str>, Group>,
}

impl QueueGroups {
    /// Note a group known to have stored rows, none of them read yet; [`Self::refill_request`]
    /// then asks for its first rows.
    pub fn add_unread(&mut self, group: &str) {
        self.groups
            .entry(Arc::from(group))
            .or_insert_with(|| Group {
                more_in_store: true,
                ..Group::default()
            });
    }

    /// The rows to read for `group` before its state can be trusted: `(after_id, limit)`.
    pub fn refill_request(&self, group: &str) -> Option<(i64, usize)> {
        let g = self.groups.get(group)?;
        if !g.more_in_store || g.prefix.len() >= GROUP_WINDOW {
            return None;
        }
        // A first read takes only the window: opening a queue of many groups stays cheap.
        let limit = match g.read_up_to {
            None => GROUP_WINDOW,
            Some(_) => GROUP_PREFIX - g.prefix.len(),
        };
        Some((g.read_up_to.unwrap_or(0), limit))
    }

    /// The rows read for a [`Self::refill_request`] of `limit` rows, in id order.
    pub fn refilled(&mut self, group: &str, rows: &[QueuedRow], limit: usize) {
        self.change(group, |g| {
            g.prefix.extend(rows.iter().copied());
            g.more_in_store = rows.len() == limit;
            if let Some(last) = rows.last() {
                g.read_up_to = Some(last.id);
            }
        });
    }

    /// A new message arrived. Ids only grow, so it goes after every row of its group.
    pub fn inserted(&mut self, group: &str, id: i64, visible_at: i64) {
        if !self.groups.contains_key(group) {
            self.groups.insert(Arc::from(group), Group::default());
        }
        self.change(group, |g| {
            if g.more_in_store || g.prefix.len() >= GROUP_PREFIX {
                g.more_in_store = true;
            } else {
                g.prefix.push_back(QueuedRow {
                    id,
                    visible_at,
                    received: false,
                });
                g.read_up_to = Some(id);
            }
        });
    }

    /// Row `id` of `group` was received or had its visibility changed: it is in flight (or
    /// visible again) until `visible_at`. False when the row is not in the prefix, which no
    /// in-flight row can be: the caller then drops the cache.
    pub fn leased(&mut self, group: &str, id: i64, visible_at: i64) -> bool {
        let Some(g) = self.groups.get_mut(group) else {
            return false;
        };
        let Some(row) = g.prefix.iter_mut().take(GROUP_WINDOW).find(|r| r.id == id) else {
            return false;
        };
        row.visible_at = visible_at;
        row.received = true;
        g.recompute();
        true
    }

    /// Row `id` of `group` left the queue (deleted, expired or moved away). A row after the
    /// prefix changes nothing held here.
    pub fn removed(&mut self, group: &str, id: i64) {
        self.change(group, |g| {
            if let Some(at) = g.prefix.iter().position(|r| r.id == id) {
                g.prefix.remove(at);
            }
        });
    }

    /// Apply `edit` to a held group's prefix, then keep the head order and its state true.
    fn change(&mut self, group: &str, edit: impl FnOnce(&mut Group)) {
        let Some((key, g)) = self.groups.get_key_value(group) else {
            return;
        };
        let key = key.clone();
        let old_head = g.head_id();
        edit(self.groups.get_mut(group).expect("looked up above"));
        self.settle(key, old_head);
    }

    /// Keep the head order and the group's state true after its prefix changed.
    fn settle(&mut self, key: Arc<str>, old_head: Option<i64>) {
        let Some(g) = self.groups.get_mut(&key) else {
            return;
        };
        g.recompute();
        let new_head = g.head_id();
        let gone = new_head.is_none() && !g.more_in_store;
        if old_head != new_head {
            if let Some(old) = old_head {
                self.by_head.remove(&old);
            }
            if let Some(new) = new_head {
                self.by_head.insert(new, key.clone());
            }
        }
        if gone {
            self.groups.remove(&key);
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

    /// How many groups are held, and how many rows their prefixes hold.
    #[cfg(test)]
    pub fn size(&self) -> (usize, usize) {
        (
            self.groups.len(),
            self.groups.values().map(|g| g.prefix.len()).sum(),
        )
    }
}

#[cfg(test)]
mod tests;
