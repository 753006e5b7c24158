//! The analytics Parquet as DuckDB reads it (the `duckdb` package from PyPI, installed by
//! scripts/test-deps.sh): files laid out under Athena's hive partitions, read with
//! `hive_partitioning=true`, give back every event once, its partition columns, timestamps as
//! UTC timestamps and the typed columns.

#![cfg(feature = "analytics")]

use std::process::Command;

use conveyor_handlers::analytics::parquet::{write, ColumnKind, Event, TypedColumn};

fn event(n: i64, name: &str, hour: i64) -> Event {
    Event {
        event_id: format!("m-{name}-{hour}-{n}"),
        name: name.into(),
        user_id: Some(format!("u{}", n % 3)),
        // 2026-12-01T00:00:00Z plus the hour.
        timestamp_ms: 1_796_083_200_000 + hour * 3_600_000 + n,
        received_at_ms: 1_796_083_200_000 + hour * 3_600_000 + 5_000,
        properties:
            serde_json::json!({ "plan": if n % 2 == 0 { "pro" } else { "free" }, "seats": n })
                .to_string(),
    }
}

#[test]
fn duckdb_reads_the_partitioned_parquet_with_every_event_once() {
    let dir = tempfile::tempdir().unwrap();
    let columns = vec![
        TypedColumn {
            name: "plan".into(),
            pointer: "/plan".into(),
            kind: ColumnKind::String,
        },
        TypedColumn {
            name: "seats".into(),
            pointer: "/seats".into(),
            kind: ColumnKind::Int64,
        },
    ];
    for (name, hour, count) in [("open", 10, 40), ("open", 11, 25), ("tap", 10, 7)] {
        let events: Vec<Event> = (0..count).map(|n| event(n, name, hour)).collect();
        let folder = dir.path().join(format!(
            "events/{name}/year=2026/month=12/day=01/hour={hour}"
        ));
        std::fs::create_dir_all(&folder).unwrap();
        std::fs::write(
            folder.join("first-batch.parquet"),
            write(&events, &columns).unwrap(),
        )
        .unwrap();
    }
    let query = format!(
        "import duckdb\n\
         rows = duckdb.sql(\"\"\"SELECT name, year, month, day, hour, count(*), count(DISTINCT event_id),\n\
           min(timestamp)::VARCHAR, sum(seats), count(*) FILTER (WHERE plan = 'pro'), typeof(min(timestamp))\n\
           FROM read_parquet('{}/events/**/*.parquet', hive_partitioning = true)\n\
           GROUP BY ALL ORDER BY name, hour\"\"\").fetchall()\n\
         for r in rows: print('|'.join(str(x) for x in r))",
        dir.path().display()
    );
    let out = Command::new("python3")
        .args(["-c", &query])
        .output()
        .unwrap_or_else(|e| panic!("cannot run python3: {e}; run scripts/test-deps.sh"));
    assert!(
        out.status.success(),
        "duckdb failed (run scripts/test-deps.sh): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines,
        [
            "open|2026|12|01|10|40|40|2026-12-01 10:00:00+00|780|20|TIMESTAMP WITH TIME ZONE",
            "open|2026|12|01|11|25|25|2026-12-01 11:00:00+00|300|13|TIMESTAMP WITH TIME ZONE",
            "tap|2026|12|01|10|7|7|2026-12-01 10:00:00+00|21|4|TIMESTAMP WITH TIME ZONE",
        ],
        "{text}"
    );
}
