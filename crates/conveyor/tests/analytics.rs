//! The analytics pipeline in a real `conveyor serve`: requests of events to
//! `POST /v1/analytics/events` become Parquet under Athena partitions in the local store, and
//! DuckDB (from PyPI, installed by scripts/test-deps.sh) counts, per name and hour, exactly what
//! was posted, every event_id once, from the files and through serve's S3 endpoint (httpfs).

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use std::process::Command;

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
        let q = queue_row(&server.address, "acme-test-ops-analytics").await;
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
    // The same files through serve's S3 endpoint: DuckDB's httpfs lists the glob and reads the
    // Parquet (ranged GETs) over S3, and counts the same.
    let over_s3 = duckdb_on(
        Some(&server.s3),
        "SELECT name, hour, count(*), count(DISTINCT event_id), count(*) FILTER (WHERE plan = 'pro') \
         FROM read_parquet('s3://acme-test-data/events/**/*.parquet', hive_partitioning = true) \
         GROUP BY ALL ORDER BY name, hour",
    );
    assert_eq!(over_s3, wanted);
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

/// Every object key under `objects/{prefix}` of the data directory.
fn keys_under(data: &std::path::Path, prefix: &str) -> Vec<String> {
    fn walk(root: &std::path::Path, dir: &std::path::Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let p = entry.path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                out.push(p.strip_prefix(root).unwrap().display().to_string());
            }
        }
    }
    let root = data.join("objects");
    let mut out = Vec::new();
    walk(&root, &root.join(prefix), &mut out);
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_events_are_refused_with_a_reason_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), CONFIG);
    let data = dir.path().join("data");
    let mut server = start(&data, &[], Some(&config));
    let big = "x".repeat(2 * 1024 * 1024);
    let too_many: Vec<Value> = (0..501)
        .map(|i| json!({ "name": "open", "timestamp": TEN + i }))
        .collect();
    let cases: Vec<(&str, String, &str)> = vec![
        ("malformed JSON", "{\"events\": [".into(), "JSON"),
        (
            "not a list",
            json!({ "events": "open" }).to_string(),
            "events",
        ),
        (
            "an event that is not an object",
            json!({ "events": [42] }).to_string(),
            "object",
        ),
        (
            "no name",
            json!({ "events": [{ "timestamp": TEN }] }).to_string(),
            "name",
        ),
        (
            "a name with /",
            json!({ "events": [{ "name": "a/b", "timestamp": TEN }] }).to_string(),
            "'/'",
        ),
        (
            "a name of ..",
            json!({ "events": [{ "name": "..", "timestamp": TEN }] }).to_string(),
            "dot",
        ),
        (
            "year 10000",
            json!({ "events": [{ "name": "open", "timestamp": "10000-01-01T00:00:00Z" }] })
                .to_string(),
            "timestamp",
        ),
        (
            "year 10000 in epoch milliseconds",
            json!({ "events": [{ "name": "open", "timestamp": 253_402_300_800_000i64 }] })
                .to_string(),
            "outside",
        ),
        (
            "before 1970",
            json!({ "events": [{ "name": "open", "timestamp": -1 }] }).to_string(),
            "outside",
        ),
        (
            "properties not an object",
            json!({ "events": [{ "name": "open", "properties": [1] }] }).to_string(),
            "object",
        ),
        (
            "501 events",
            json!({ "events": too_many }).to_string(),
            "1 to 500",
        ),
        (
            "an event of 2 MiB",
            json!({ "events": [{ "name": "open", "properties": { "blob": big } }] }).to_string(),
            "",
        ),
        (
            "one bad event of two, atomic",
            json!({ "events": [{ "name": "open" }, { "name": "a/b" }] }).to_string(),
            "atomic",
        ),
    ];
    for (what, body, reason) in &cases {
        let path = if what.ends_with("atomic") {
            "/v1/analytics/events?atomic=true"
        } else {
            "/v1/analytics/events"
        };
        let (status, answer) = http(&server.address, "POST", path, &[JSON], body).await;
        assert!((400..500).contains(&status), "{what}: {status} {answer}");
        let message: Value = serde_json::from_str(&answer)
            .unwrap_or_else(|_| panic!("{what}: a JSON error, not {answer:?}"));
        let text = message.to_string();
        assert!(
            text.contains(reason) && message["error"].is_object(),
            "{what}: the reason should say {reason:?}: {text}"
        );
    }
    // Nothing was queued, so nothing can be flushed: give the buffer (max_age 2 s) time anyway.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let q = queue_row(&server.address, "acme-test-ops-analytics").await;
    assert_eq!(
        (q["visible"].as_u64(), q["in_flight"].as_u64()),
        (Some(0), Some(0)),
        "{q}"
    );
    assert!(terminate(&mut server).success());
    assert_eq!(keys_under(&data, "events"), Vec::<String>::new());
    assert_eq!(keys_under(&data, "results"), Vec::<String>::new());
    assert!(
        !data.join("objects/a").exists() && !data.join("a").exists(),
        "no path made of a name"
    );
}

/// `conveyor athena ddl` for this test's configuration.
fn athena_ddl(config: &std::path::Path) -> String {
    let out = Command::new(BIN)
        .args(["athena", "ddl", "--config"])
        .arg(config)
        .env_remove("CONVEYOR_ENVIRONMENT")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The value of one table property in the statement creating `table`.
fn property(ddl: &str, table: &str, key: &str) -> String {
    let statement = ddl
        .split("CREATE EXTERNAL TABLE")
        .find(|s| s.contains(&format!(".{table} (")))
        .unwrap_or_else(|| panic!("no table {table} in {ddl}"));
    let line = statement
        .lines()
        .find(|l| l.trim_start().starts_with(&format!("'{key}'")))
        .unwrap_or_else(|| panic!("no {key} for {table}"));
    line.split(" = ")
        .nth(1)
        .unwrap()
        .trim_end_matches(',')
        .trim_matches('\'')
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_athena_projection_covers_the_first_and_last_hours_an_event_can_have() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), CONFIG);
    let data = dir.path().join("data");
    let mut server = start(&data, &[], Some(&config));
    // The first millisecond the API accepts, and the last.
    let events = json!({ "events": [
        { "name": "open", "timestamp": 0 },
        { "name": "open", "timestamp": "9999-12-31T23:59:59.999Z" },
    ]});
    let (status, body) = http(
        &server.address,
        "POST",
        "/v1/analytics/events",
        &[JSON],
        &events.to_string(),
    )
    .await;
    assert_eq!(status, 202, "{body}");
    until_within("both hours are flushed", Duration::from_secs(30), || {
        keys_under(&data, "events").len() == 2
    })
    .await;
    assert!(terminate(&mut server).success());

    let ddl = athena_ddl(&config);
    let (low, high) = property(&ddl, "events", "projection.year.range")
        .split_once(',')
        .map(|(a, b)| (a.parse::<u32>().unwrap(), b.parse::<u32>().unwrap()))
        .unwrap();
    let template = property(&ddl, "events", "storage.location.template");
    let template = template
        .strip_prefix("s3://acme-test-data/")
        .expect("the template is in the environment's bucket")
        .trim_end_matches('/')
        .to_string();
    let mut years = Vec::new();
    for key in keys_under(&data, "events") {
        let found = matching(&template, &key).unwrap_or_else(|| {
            panic!("{key} does not follow the projection's template {template}")
        });
        assert_eq!(found["event_name"], "open");
        let year: u32 = found["year"].parse().unwrap();
        assert!(
            found["year"].len() == 4 && (low..=high).contains(&year),
            "{key}: year outside {low}..{high}"
        );
        assert!(found["month"]
            .parse::<u32>()
            .is_ok_and(|m| (1..=12).contains(&m)));
        assert!(found["day"]
            .parse::<u32>()
            .is_ok_and(|d| (1..=31).contains(&d)));
        assert!(found["hour"].parse::<u32>().is_ok_and(|h| h <= 23));
        years.push(year);
    }
    years.sort();
    assert_eq!(
        years,
        [low, high],
        "the range is exactly what the API accepts"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compacting_results_rolls_an_hour_into_one_parquet_file_duckdb_reads() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        &format!("{CONFIG}\n[queues.jobs]\nhandler = \"log\"\n"),
    );
    let data = dir.path().join("data");
    let mut server = start(&data, &[], Some(&config));
    let mut ids = Vec::new();
    for n in 0..40 {
        let (status, body) = http(
            &server.address,
            "POST",
            "/v1/queues/jobs/messages",
            &[JSON],
            &json!({ "body": { "n": n } }).to_string(),
        )
        .await;
        assert_eq!(status, 202, "{body}");
        ids.push(message_id(&body));
    }
    until("every message has its result", || {
        result_files(&data).len() == 40
    })
    .await;
    assert!(terminate(&mut server).success());

    // Each record has exactly the fields the compaction (and the Athena tables) know.
    let record: Value =
        serde_json::from_slice(&std::fs::read(&result_files(&data)[0]).unwrap()).unwrap();
    let mut fields: Vec<String> = record.as_object().unwrap().keys().cloned().collect();
    fields.sort();
    let mut known: Vec<String> = conveyor_handlers::analytics::results::result_columns()
        .into_iter()
        .map(|c| c.name)
        .collect();
    known.sort();
    assert_eq!(fields, known);

    // This hour has not ended: nothing to compact yet.
    let compact = |older_than: &str| {
        let out = Command::new(BIN)
            .args(["compact", "results", "--older-than", older_than, "--config"])
            .arg(&config)
            .arg("--data-dir")
            .arg(&data)
            .env_remove("CONVEYOR_ENVIRONMENT")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    assert!(compact("1h").contains("compacted 0 records"));
    // An hour later, as far as the records are concerned: their partition is moved back two
    // hours (the records themselves are the ones the worker wrote).
    let queue_dir = data.join("objects/results/acme-test-ops-jobs");
    let hour_dir = walk_to_hour(&queue_dir);
    let old = shift_hour(&hour_dir, -2);
    std::fs::create_dir_all(old.parent().unwrap()).unwrap();
    std::fs::rename(&hour_dir, &old).unwrap();
    let report = compact("1h");
    assert!(
        report.contains("compacted 40 records in 1 hours"),
        "{report}"
    );
    assert!(result_files(&data).is_empty(), "the JSON records are gone");

    let files = format!("{}/objects/results_compacted/**/*.parquet", data.display());
    let rows = duckdb(&format!(
        "SELECT count(*), count(DISTINCT message_id), min(status), max(queue), count(*) FILTER (WHERE body LIKE '%\"n\"%') FROM read_parquet('{files}', hive_partitioning = true)"
    ));
    assert_eq!(rows, ["40|40|processed|acme-test-ops-jobs|40"]);
    let listed = duckdb(&format!(
        "SELECT message_id FROM read_parquet('{files}') ORDER BY 1"
    ));
    ids.sort();
    assert_eq!(listed, ids);
}

/// The values a key gives the template's `${…}` fields, segment by segment (each field is a
/// segment's whole rest after a literal prefix), the file name after the last; None when the
/// key does not follow it.
fn matching(template: &str, key: &str) -> Option<BTreeMap<String, String>> {
    let (dirs, _file) = key.rsplit_once('/')?;
    let (wanted, got): (Vec<&str>, Vec<&str>) =
        (template.split('/').collect(), dirs.split('/').collect());
    if wanted.len() != got.len() {
        return None;
    }
    let mut values = BTreeMap::new();
    for (w, g) in wanted.iter().zip(got) {
        match w.split_once("${") {
            None if *w == g => {}
            None => return None,
            Some((literal, field)) => {
                let value = g.strip_prefix(literal)?;
                if value.is_empty() || value.contains('/') {
                    return None;
                }
                values.insert(field.trim_end_matches('}').to_string(), value.to_string());
            }
        }
    }
    Some(values)
}

/// The one `hour=HH` directory below a queue's results.
fn walk_to_hour(dir: &std::path::Path) -> std::path::PathBuf {
    let mut at = dir.to_path_buf();
    for _ in 0..4 {
        let next: Vec<_> = std::fs::read_dir(&at).unwrap().flatten().collect();
        assert_eq!(next.len(), 1, "one partition under {}", at.display());
        at = next[0].path();
    }
    at
}

/// `…/year=Y/month=M/day=D/hour=H` moved `hours` (within the same day or to the day before).
fn shift_hour(hour_dir: &std::path::Path, hours: i64) -> std::path::PathBuf {
    let parts: Vec<String> = hour_dir
        .components()
        .rev()
        .take(4)
        .map(|c| c.as_os_str().to_string_lossy().to_string())
        .collect();
    let value = |s: &str| s.split_once('=').unwrap().1.parse::<i64>().unwrap();
    let (hour, day, month, year) = (
        value(&parts[0]),
        value(&parts[1]),
        value(&parts[2]),
        value(&parts[3]),
    );
    let ms = chrono::NaiveDate::from_ymd_opt(year as i32, month as u32, day as u32)
        .unwrap()
        .and_hms_opt(hour as u32, 0, 0)
        .unwrap()
        .and_utc()
        .timestamp_millis()
        + hours * 3_600_000;
    let t = chrono::DateTime::from_timestamp_millis(ms).unwrap();
    let base = hour_dir.ancestors().nth(4).unwrap();
    base.join(t.format("year=%Y/month=%m/day=%d/hour=%H").to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_sqs_and_s3_duckdb_counts_the_posted_events_per_name_and_hour_through_httpfs() {
    let moto = conveyor_aws::testing::start_moto();
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &on_moto(CONFIG, &moto.url));
    let env = MOTO_CREDENTIALS;
    provision(&config, &env);
    let mut server = start(&dir.path().join("data"), &env, Some(&config));
    let mut expected: BTreeMap<(String, i64), usize> = BTreeMap::new();
    for request in 0..10 {
        let events: Vec<Value> = (0..30)
            .map(|i| {
                let name = if i % 2 == 0 { "open" } else { "tap" };
                let hour = if i % 5 == 0 { 9 } else { 10 };
                *expected.entry((name.to_string(), hour)).or_default() += 1;
                json!({ "name": name, "timestamp": TEN + (hour - 10) * 3_600_000 + request * 100 + i })
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
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let q = queue_row(&server.address, "acme-test-ops-analytics").await;
        if q["visible"] == 0 && q["in_flight"] == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "not flushed: {q}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(terminate(&mut server).success());
    let rows = duckdb_on(
        Some(&moto.url),
        "SELECT name, hour, count(*), count(DISTINCT event_id) \
         FROM read_parquet('s3://acme-test-data/events/**/*.parquet', hive_partitioning = true) \
         GROUP BY ALL ORDER BY name, hour",
    );
    let wanted: Vec<String> = expected
        .iter()
        .map(|((name, hour), n)| format!("{name}|{hour:02}|{n}|{n}"))
        .collect();
    assert_eq!(rows, wanted);
}
