//! The analytics pipeline in a real `conveyor serve`: requests of events to
//! `POST /v1/analytics/events` become Parquet under Athena partitions in the local store, and
//! DuckDB (from PyPI, installed by scripts/test-deps.sh) counts, per name and hour, exactly what
//! was posted, every event_id once.

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::*;
use serde_json::{json, Value};

const CONFIG: &str = r#"
instance = "acme"
use_case = "ops"
environment = "test"

[queues.analytics]
visibility = "30s"
handler = { kind = "analytics", max_age = "2s", columns = [{ name = "plan", type = "string" }] }

[environments.test]
data_dir = "unused"
bucket_suffix = "data"
"#;

/// 2026-12-01T10:00:00Z.
const TEN: i64 = 1_796_119_200_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn posted_events_are_counted_by_duckdb_per_name_and_hour_each_once() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), CONFIG);
    let data = dir.path().join("data");
    let server = start(&data, &[], Some(&config));
    let mut expected: BTreeMap<(String, i64), usize> = BTreeMap::new();
    for request in 0..30 {
        let events: Vec<Value> = (0..40)
            .map(|i| {
                let name = if i % 3 == 0 { "tap" } else { "open" };
                // A tenth of the events are an hour late.
                let hour = if i % 10 == 0 { 9 } else { 10 };
                *expected.entry((name.to_string(), hour)).or_default() += 1;
                json!({
                    "name": name,
                    "timestamp": TEN + (hour - 10) * 3_600_000 + request * 100 + i,
                    "user_id": format!("u{}", i % 7),
                    "properties": { "plan": if i % 2 == 0 { "pro" } else { "free" } },
                })
            })
            .collect();
        let (status, body) = http(
            &server.address,
            "POST",
            "/v1/analytics/events",
            &[JSON],
            &json!({ "events": events }).to_string(),
        )
        .await;
        assert_eq!(status, 202, "{body}");
    }
    // Every message flushed and deleted (the buffer's max_age is 2 s).
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, queues) = http(&server.address, "GET", "/v1/admin/queues", &[], "").await;
        let queues: Value = serde_json::from_str(&queues).unwrap();
        let q = queues["queues"]
            .as_array()
            .unwrap()
            .iter()
            .find(|q| q["name"] == "acme-test-ops-analytics")
            .unwrap()
            .clone();
        if q["visible"] == 0 && q["in_flight"] == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "not flushed: {q}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let files = format!("{}/objects/events/**/*.parquet", data.display());
    let rows = duckdb(&format!(
        "SELECT name, hour, count(*), count(DISTINCT event_id), count(*) FILTER (WHERE plan = 'pro') \
         FROM read_parquet('{files}', hive_partitioning = true) GROUP BY ALL ORDER BY name, hour"
    ));
    let wanted: Vec<String> = expected
        .iter()
        .map(|((name, hour), n)| {
            let pro = (0..40)
                .filter(|i| (if i % 3 == 0 { "tap" } else { "open" }) == name)
                .filter(|i| (if i % 10 == 0 { 9 } else { 10 }) == *hour)
                .filter(|i| i % 2 == 0)
                .count()
                * 30;
            format!("{name}|{hour:02}|{n}|{n}|{pro}")
        })
        .collect();
    assert_eq!(rows, wanted);
    // Each message still has its result record, without repeating the events it carried.
    let results = result_files(&data);
    assert_eq!(results.len(), 30);
    let record: Value = serde_json::from_slice(&std::fs::read(&results[0]).unwrap()).unwrap();
    assert_eq!(record["body"], Value::Null, "{record}");
    assert!(record["body_bytes"].as_u64().unwrap() > 1000, "{record}");
    assert!(
        record["output"]["files"][0]
            .as_str()
            .unwrap()
            .starts_with("events/"),
        "{record}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_graceful_stop_flushes_the_buffer_instead_of_waiting_out_max_age() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        &CONFIG
            .replace("visibility = \"30s\"", "visibility = \"2m\"")
            .replace("max_age = \"2s\"", "max_age = \"50s\""),
    );
    let data = dir.path().join("data");
    let mut server = start(&data, &[], Some(&config));
    for request in 0..5 {
        let events: Vec<Value> = (0..20)
            .map(|i| json!({ "name": "open", "timestamp": TEN + request * 100 + i }))
            .collect();
        let (status, body) = http(
            &server.address,
            "POST",
            "/v1/analytics/events",
            &[JSON],
            &json!({ "events": events }).to_string(),
        )
        .await;
        assert_eq!(status, 202, "{body}");
    }
    // Let the worker gather them into its (50 s) buffer, then stop.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let stopped = Instant::now();
    assert!(terminate(&mut server).success());
    assert!(
        stopped.elapsed() < Duration::from_secs(10),
        "the stop waited out max_age: {:?}",
        stopped.elapsed()
    );
    let files = format!("{}/objects/events/**/*.parquet", data.display());
    let rows = duckdb(&format!(
        "SELECT count(*), count(DISTINCT event_id) FROM read_parquet('{files}', hive_partitioning = true)"
    ));
    assert_eq!(rows, ["100|100"]);
    let conn = rusqlite::Connection::open(data.join("queue.db")).unwrap();
    let left: i64 = conn
        .query_row("SELECT count(*) FROM messages", [], |r| r.get(0))
        .unwrap();
    assert_eq!(left, 0, "flushed and deleted");
}
