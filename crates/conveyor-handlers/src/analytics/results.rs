//! Per-message results, rolled up: `conveyor compact results --older-than 1h` turns each past
//! hour's JSON records of a queue (`results/{queue}/year=…/hour=…/{id}.json`) into one Parquet
//! file at `results_compacted/{queue}/year=…/hour=…/{first id}.parquet`, then deletes the JSON,
//! so years of results are a few files per hour to scan instead of one per message.
//!
//! A crash part-way leaves each record in one place or both, never neither: the file is
//! published (temporary key, then rename) before any record is deleted, and records are deleted
//! from the last id to the first, so while any remain the file named by the first id marks them
//! as already compacted and the next run only finishes deleting.

use std::collections::BTreeMap;

use conveyor_store::{Store, StoreError};
use serde_json::Value;

use super::parquet::{write_rows, Column, Stored};

/// A result record's fields, as `conveyor-worker` writes them and Athena's `results` tables
/// read them (`conveyor athena ddl`).
pub fn result_columns() -> Vec<Column> {
    vec![
        Column::new("message_id", Stored::Text, true),
        Column::new("queue", Stored::Text, true),
        Column::new("status", Stored::Text, true),
        Column::new("handler", Stored::Text, true),
        Column::new("sent_timestamp", Stored::Int64, true),
        Column::new("started_timestamp", Stored::Int64, false),
        Column::new("processed_timestamp", Stored::Int64, true),
        Column::new("receive_count", Stored::Int32, false),
        Column::new("group_id", Stored::Text, false),
        Column::new("body_bytes", Stored::Int64, false),
        Column::new("body", Stored::Json, false),
        Column::new("output", Stored::Json, false),
    ]
}

/// Where compacted results go.
pub const COMPACTED_PREFIX: &str = "results_compacted";

#[derive(Debug, thiserror::Error)]
pub enum CompactError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot write the Parquet file for {partition}: {detail}")]
    Parquet { partition: String, detail: String },
}

/// One queue's hour, compacted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompactedHour {
    /// `{queue}/year=…/month=…/day=…/hour=…`.
    pub partition: String,
    pub records: usize,
    /// Records that were not JSON result records: left where they are.
    pub skipped: usize,
    pub key: String,
}

/// `year=YYYY/month=MM/day=DD/hour=HH` as the UTC millisecond its hour ends.
fn hour_end(partition: &[&str]) -> Option<i64> {
    let field = |i: usize, name: &str| -> Option<i64> {
        partition
            .get(i)?
            .strip_prefix(name)?
            .strip_prefix('=')?
            .parse()
            .ok()
    };
    let (y, m, d, h) = (
        field(0, "year")?,
        field(1, "month")?,
        field(2, "day")?,
        field(3, "hour")?,
    );
    let days = days_from_civil(y, m, d)?;
    Some((days * 24 + h + 1) * 3_600_000)
}

/// Howard Hinnant's `days_from_civil`: days since 1970-01-01.
fn days_from_civil(y: i64, m: i64, d: i64) -> Option<i64> {
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some(era * 146_097 + doe - 719_468)
}

/// Compact every queue's hours that ended at or before `before_ms`.
pub async fn compact_results(
    store: &Store,
    before_ms: i64,
) -> Result<Vec<CompactedHour>, CompactError> {
    // partition → its records' keys, in key (= id) order.
    let mut hours: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for key in store.list("results/").await? {
        let Some(rest) = key.strip_prefix("results/") else {
            continue;
        };
        let parts: Vec<&str> = rest.split('/').collect();
        if parts.len() != 6 || !parts[5].ends_with(".json") {
            continue;
        }
        if hour_end(&parts[1..5]).is_some_and(|end| end <= before_ms) {
            hours.entry(parts[..5].join("/")).or_default().push(key);
        }
    }
    let mut done = Vec::new();
    for (partition, mut keys) in hours {
        keys.sort();
        done.push(compact_hour(store, &partition, &keys).await?);
    }
    Ok(done)
}

async fn compact_hour(
    store: &Store,
    partition: &str,
    keys: &[String],
) -> Result<CompactedHour, CompactError> {
    let first = keys[0]
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .trim_end_matches(".json");
    let key = format!("{COMPACTED_PREFIX}/{partition}/{first}.parquet");
    let mut compacted = Vec::new();
    let mut skipped = 0;
    if store.exists(&key).await? {
        // A run that published this file was interrupted while deleting: these are in it.
        compacted = keys.to_vec();
    } else {
        let mut rows = Vec::with_capacity(keys.len());
        let columns = result_columns();
        for k in keys {
            let record = match store.get(k).await {
                Ok(bytes) => serde_json::from_slice::<Value>(&bytes).ok(),
                Err(StoreError::NotFound(_)) => continue,
                Err(e) => return Err(e.into()),
            };
            let complete = record.as_ref().is_some_and(|r| {
                columns
                    .iter()
                    .filter(|c| c.required)
                    .all(|c| r.get(&c.name).is_some_and(|v| !v.is_null()))
            });
            match record {
                Some(r) if complete => {
                    rows.push(r);
                    compacted.push(k.clone());
                }
                _ => {
                    tracing::warn!(key = %k, "not a result record; left out of the compaction");
                    skipped += 1;
                }
            }
        }
        if rows.is_empty() {
            return Ok(CompactedHour {
                partition: partition.to_string(),
                records: 0,
                skipped,
                key: String::new(),
            });
        }
        let bytes = write_rows(&columns, &rows).map_err(|e| CompactError::Parquet {
            partition: partition.to_string(),
            detail: e.to_string(),
        })?;
        let temporary = format!(
            "_conveyor/compaction/tmp/{}.parquet",
            uuid::Uuid::now_v7().simple()
        );
        store.put(&temporary, bytes).await?;
        store.rename(&temporary, &key).await?;
    }
    // Last first: the first id's record, which names the file, goes last.
    for k in compacted.iter().rev() {
        match store.delete(k).await {
            Ok(()) | Err(StoreError::NotFound(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(CompactedHour {
        partition: partition.to_string(),
        records: compacted.len(),
        skipped,
        key,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const TEN: i64 = 1_796_119_200_000; // 2026-12-01T10:00:00Z

    #[test]
    fn an_hour_partition_ends_an_hour_after_it_starts() {
        assert_eq!(
            hour_end(&["year=2026", "month=12", "day=01", "hour=10"]),
            Some(TEN + 3_600_000)
        );
        assert_eq!(
            hour_end(&["year=1970", "month=01", "day=01", "hour=00"]),
            Some(3_600_000)
        );
        assert_eq!(
            hour_end(&["year=2026", "month=13", "day=01", "hour=10"]),
            None
        );
        assert_eq!(hour_end(&["day=01"]), None);
    }

    fn record(id: &str) -> Value {
        json!({
            "message_id": id, "queue": "q", "status": "succeeded", "handler": "log",
            "sent_timestamp": TEN, "processed_timestamp": TEN + 5, "receive_count": 1,
            "group_id": null, "body_bytes": 2, "body": { "n": 1 }, "output": { "ok": true },
        })
    }

    #[tokio::test]
    async fn a_past_hour_becomes_one_file_and_an_interrupted_run_only_finishes_deleting() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::local(dir.path()).unwrap();
        let hour = "results/q/year=2026/month=12/day=01/hour=10";
        for id in ["a", "b", "c"] {
            store
                .put(&format!("{hour}/{id}.json"), record(id).to_string())
                .await
                .unwrap();
        }
        store
            .put(&format!("{hour}/junk.json"), "not json")
            .await
            .unwrap();
        // The hour has not ended by 10:59: nothing happens.
        assert!(compact_results(&store, TEN + 3_599_999)
            .await
            .unwrap()
            .is_empty());
        let done = compact_results(&store, TEN + 3_600_000).await.unwrap();
        assert_eq!(done.len(), 1);
        assert_eq!((done[0].records, done[0].skipped), (3, 1));
        assert_eq!(
            done[0].key,
            "results_compacted/q/year=2026/month=12/day=01/hour=10/a.parquet"
        );
        let mut left = store.list("results/").await.unwrap();
        left.sort();
        assert_eq!(left, [format!("{hour}/junk.json")]);
        let file = store.get(&done[0].key).await.unwrap();
        let reader = parquet::file::reader::SerializedFileReader::new(file).unwrap();
        use parquet::file::reader::FileReader;
        assert_eq!(reader.metadata().file_metadata().num_rows(), 3);

        // A run interrupted after publishing, with "a" (which names the file) still there.
        store
            .put(&format!("{hour}/a.json"), record("a").to_string())
            .await
            .unwrap();
        let again = compact_results(&store, TEN + 3_600_000).await.unwrap();
        assert_eq!(again[0].key, done[0].key, "the same file, not a second one");
        assert_eq!(store.list(COMPACTED_PREFIX).await.unwrap().len(), 1);
        assert!(!store.exists(&format!("{hour}/a.json")).await.unwrap());
    }
}
