use super::*;
use proptest::prelude::*;

/// The store as the model sees it: every row of every group, in id order.
#[derive(Default)]
struct Store {
    groups: BTreeMap<String, Vec<QueuedRow>>,
    next_id: i64,
}

impl Store {
    /// What the writer does after each change: read what the index asks for.
    fn serve_refills(&self, index: &mut QueueGroups) {
        for (name, rows) in &self.groups {
            while let Some((after, limit)) = index.refill_request(name) {
                let read: Vec<QueuedRow> = rows
                    .iter()
                    .filter(|r| r.id > after)
                    .take(limit)
                    .copied()
                    .collect();
                index.refilled(name, &read, limit);
            }
        }
    }

    /// The groups that may deliver, computed from all rows.
    fn available(&self, now: i64) -> Vec<String> {
        let mut heads: Vec<(i64, String)> = self
            .groups
            .iter()
            .filter(|(_, rows)| !rows.is_empty())
            .filter(|(_, rows)| {
                let blocked = rows
                    .iter()
                    .take(GROUP_WINDOW)
                    .filter(|r| r.received)
                    .map(|r| r.visible_at)
                    .fold(rows[0].visible_at, i64::max);
                blocked <= now
            })
            .map(|(name, rows)| (rows[0].id, name.clone()))
            .collect();
        heads.sort();
        heads.into_iter().map(|(_, name)| name).collect()
    }
}

fn names(index: &QueueGroups, now: i64) -> Vec<String> {
    index.available(now).iter().map(|g| g.to_string()).collect()
}

#[derive(Debug, Clone)]
enum Op {
    Send {
        group: u8,
        delay: i64,
    },
    /// Lease one of the group's first ten rows (a receive or a visibility change).
    Lease {
        group: u8,
        nth: usize,
        until: i64,
    },
    /// Remove one of the group's rows (a delete of a leased row, an expiry, a move).
    Remove {
        group: u8,
        nth: usize,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0u8..4, prop_oneof![Just(0i64), 0i64..50]).prop_map(|(group, delay)| Op::Send { group, delay }),
        2 => (0u8..4, 0usize..GROUP_WINDOW, 0i64..100).prop_map(|(group, nth, until)| Op::Lease { group, nth, until }),
        3 => (0u8..4, 0usize..80).prop_map(|(group, nth)| Op::Remove { group, nth }),
    ]
}

proptest! {
    /// The index, fed only the changes and the refills it asks for, agrees with the full rows
    /// after every step, also when groups outgrow the in-memory prefix.
    #[test]
    fn the_index_follows_the_store(ops in proptest::collection::vec(op(), 1..400), start_loaded in any::<bool>()) {
        let mut store = Store::default();
        let mut index = QueueGroups::default();
        // Half the runs start from a store that already holds rows (an index loaded at open).
        if !start_loaded {
            for i in 0..150 {
                store.next_id += 1;
                let row = QueuedRow { id: store.next_id, visible_at: 0, received: false };
                store.groups.entry(format!("g{}", i % 3)).or_default().push(row);
            }
            for name in store.groups.keys() {
                index.add_unread(name);
            }
            store.serve_refills(&mut index);
        }
        for op in ops {
            match op {
                Op::Send { group, delay } => {
                    store.next_id += 1;
                    let name = format!("g{group}");
                    store.groups.entry(name.clone()).or_default().push(QueuedRow { id: store.next_id, visible_at: delay, received: false });
                    index.inserted(&name, store.next_id, delay);
                }
                Op::Lease { group, nth, until } => {
                    let name = format!("g{group}");
                    if let Some(row) = store.groups.get_mut(&name).and_then(|rows| rows.get_mut(nth)) {
                        row.visible_at = until;
                        row.received = true;
                        prop_assert!(index.leased(&name, row.id, until), "a row among the first ten is in the prefix");
                    }
                }
                Op::Remove { group, nth } => {
                    let name = format!("g{group}");
                    if let Some(rows) = store.groups.get_mut(&name) {
                        if nth < rows.len() {
                            let row = rows.remove(nth);
                            index.removed(&name, row.id);
                        }
                    }
                }
            }
            store.serve_refills(&mut index);
            for now in [0, 25, 60, 200] {
                prop_assert_eq!(names(&index, now), store.available(now));
            }
        }
        let (_, held) = index.size();
        prop_assert!(held <= 4 * GROUP_PREFIX, "each group holds at most its prefix");
    }
}

#[test]
fn groups_come_out_in_head_order_and_blocked_ones_are_skipped() {
    let mut q = QueueGroups::default();
    q.inserted("b", 2, 0);
    q.inserted("a", 1, 0);
    q.inserted("a", 3, 0);
    q.inserted("c", 4, 100);
    assert_eq!(names(&q, 10), ["a", "b"]);
    assert!(q.leased("a", 1, 50));
    assert_eq!(names(&q, 10), ["b"]);
    q.removed("b", 2);
    assert_eq!(q.size(), (2, 3));
    assert_eq!(names(&q, 100), ["a", "c"]);
    // Deleting the leased head lets the next message of the group through.
    q.removed("a", 1);
    assert_eq!(names(&q, 10), ["a"]);
}

#[test]
fn a_group_past_its_prefix_asks_to_be_read_again_when_deletes_run_it_short() {
    let mut q = QueueGroups::default();
    for id in 1..=(GROUP_PREFIX as i64 + 5) {
        q.inserted("a", id, 0);
    }
    assert_eq!(q.size(), (1, GROUP_PREFIX));
    for id in 1..=(GROUP_PREFIX - GROUP_WINDOW) as i64 {
        q.removed("a", id);
        assert_eq!(
            q.refill_request("a"),
            None,
            "{GROUP_WINDOW} or more rows still held"
        );
    }
    q.removed("a", (GROUP_PREFIX - GROUP_WINDOW) as i64 + 1);
    assert_eq!(
        q.refill_request("a"),
        Some((GROUP_PREFIX as i64, GROUP_PREFIX - GROUP_WINDOW + 1))
    );
}
