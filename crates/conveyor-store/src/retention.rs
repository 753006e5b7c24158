//! Expiry on the local store, as S3 lifecycle rules do it on a bucket: every object under a
//! prefix whose age (since it was last written) passes the rule's is deleted.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::{Store, StoreError};

/// Objects under `prefix` live `after` since they were written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expiry {
    pub prefix: String,
    pub after: Duration,
}

/// What one rule deleted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Swept {
    pub prefix: String,
    pub deleted: usize,
}

/// Apply every rule once, as of `now`. An object deleted by someone else meanwhile is not an
/// error; any other failure stops the sweep (the next one starts over).
pub async fn sweep(
    store: &Store,
    rules: &[Expiry],
    now: DateTime<Utc>,
) -> Result<Vec<Swept>, StoreError> {
    let mut swept = Vec::with_capacity(rules.len());
    for rule in rules {
        let after = chrono::Duration::from_std(rule.after).unwrap_or(chrono::Duration::MAX);
        let cutoff = now.checked_sub_signed(after);
        let mut deleted = 0;
        if let Some(cutoff) = cutoff {
            for object in store.list_sorted(&rule.prefix, true).await?.objects {
                if object.last_modified < cutoff {
                    match store.delete(&object.key).await {
                        Ok(()) | Err(StoreError::NotFound(_)) => deleted += 1,
                        Err(e) => return Err(e),
                    }
                }
            }
        }
        swept.push(Swept {
            prefix: rule.prefix.clone(),
            deleted,
        });
    }
    Ok(swept)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn only_objects_older_than_their_rule_under_its_prefix_go() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::local(dir.path()).unwrap();
        for key in [
            "events/a/1.parquet",
            "events/b/2.parquet",
            "results/q/3.json",
            "other/4",
        ] {
            store.put(key, "x").await.unwrap();
        }
        let rules = [
            Expiry {
                prefix: "events/".into(),
                after: Duration::from_secs(3600),
            },
            Expiry {
                prefix: "results/".into(),
                after: Duration::from_secs(7 * 86_400),
            },
        ];
        // Now: nothing is old enough.
        let none = sweep(&store, &rules, Utc::now()).await.unwrap();
        assert!(none.iter().all(|s| s.deleted == 0), "{none:?}");
        // Two hours on: the events go, the results (7 days) and what no rule names stay.
        let later = Utc::now() + chrono::Duration::hours(2);
        let swept = sweep(&store, &rules, later).await.unwrap();
        assert_eq!(swept[0].deleted, 2);
        assert_eq!(swept[1].deleted, 0);
        let mut left = store.list("").await.unwrap();
        left.sort();
        assert_eq!(left, ["other/4", "results/q/3.json"]);
        // A rule too long to subtract from now deletes nothing instead of failing.
        let forever = [Expiry {
            prefix: "results/".into(),
            after: Duration::MAX,
        }];
        assert_eq!(sweep(&store, &forever, later).await.unwrap()[0].deleted, 0);
    }
}
