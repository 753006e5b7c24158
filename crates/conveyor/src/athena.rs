//! `conveyor athena ddl --env X`: the Athena statements over what this environment writes, the
//! same tables infra/modules/s3 creates in Glue (infra/scripts/athena_check.py compares them):
//!
//! - `events` (one per analytics prefix): Parquet, partitioned by event name and event hour;
//! - `results`: one JSON record per processed message, partitioned by queue and sent hour;
//! - `results_compacted`: the same records rolled into Parquet by `conveyor compact results`.
//!
//! Partition projection spares crawlers and `MSCK REPAIR`: Athena computes the partitions from
//! the key template. The event name and queue are `injected` (a query names them in its WHERE);
//! years span what the API accepts (events: 1970 to 9999, so a query should bound `year`).

use std::collections::BTreeMap;

use conveyor_config::{HandlerConfig, Settings};
use conveyor_handlers::analytics::parquet::{event_columns, Column};
use conveyor_handlers::analytics::results::{result_columns, COMPACTED_PREFIX};
use conveyor_handlers::analytics::typed_columns;

/// The years an events partition can have: the API refuses timestamps before 1970 and from
/// the year 10000 on.
pub const EVENT_YEARS: (u32, u32) = (1970, 9999);
/// The years a results partition can have: results are keyed by the (server's) sent time.
pub const RESULT_YEARS: (u32, u32) = (2024, 2100);

enum Format {
    Parquet,
    Json,
}

struct Table {
    name: String,
    columns: Vec<Column>,
    /// The partition key holding the first path segment (event name or queue).
    first_key: &'static str,
    prefix: String,
    years: (u32, u32),
    format: Format,
}

/// `events` → `events`; any other prefix with its `/` and `-` as `_`.
fn table_name(prefix: &str) -> String {
    prefix.trim_matches('/').replace(['/', '-'], "_")
}

/// The analytics prefixes and their columns (queues sharing a prefix share a table: their typed
/// columns are merged by name, and must agree on each one's type).
fn event_tables(settings: &Settings) -> anyhow::Result<Vec<Table>> {
    let mut by_prefix: BTreeMap<String, Vec<Column>> = BTreeMap::new();
    for q in &settings.queues {
        let HandlerConfig::Analytics(a) = &q.handler else {
            continue;
        };
        let columns = by_prefix.entry(a.prefix.clone()).or_default();
        for c in event_columns(&typed_columns(a)) {
            match columns.iter().find(|k| k.name == c.name) {
                Some(known) if known.stored != c.stored => anyhow::bail!(
                    "queues.{}: the column {} is {} here but {} in another analytics queue writing under {}/: one table cannot have both; rename one",
                    q.key,
                    c.name,
                    c.stored.athena(),
                    known.stored.athena(),
                    a.prefix
                ),
                Some(_) => {}
                None => columns.push(c),
            }
        }
    }
    Ok(by_prefix
        .into_iter()
        .map(|(prefix, columns)| Table {
            name: table_name(&prefix),
            columns,
            first_key: "event_name",
            prefix,
            years: EVENT_YEARS,
            format: Format::Parquet,
        })
        .collect())
}

/// A column name as Athena's DDL takes it (backquoted: `timestamp` is a reserved word).
fn quoted(name: &str) -> String {
    format!("`{name}`")
}

fn statement(database: &str, bucket: &str, t: &Table) -> String {
    let location = format!("s3://{bucket}/{}/", t.prefix);
    let columns: Vec<String> = t
        .columns
        .iter()
        .map(|c| format!("  {} {}", quoted(&c.name), c.stored.athena()))
        .collect();
    let format = match t.format {
        Format::Parquet => "STORED AS PARQUET".to_string(),
        Format::Json => "ROW FORMAT SERDE 'org.openx.data.jsonserde.JsonSerDe'\nSTORED AS INPUTFORMAT 'org.apache.hadoop.mapred.TextInputFormat'\n  OUTPUTFORMAT 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat'".to_string(),
    };
    let key = t.first_key;
    let mut properties = vec![
        ("projection.enabled".to_string(), "true".to_string()),
        (format!("projection.{key}.type"), "injected".to_string()),
        ("projection.year.type".into(), "integer".into()),
        (
            "projection.year.range".into(),
            format!("{},{}", t.years.0, t.years.1),
        ),
    ];
    for (field, range) in [("month", "1,12"), ("day", "1,31"), ("hour", "0,23")] {
        properties.push((format!("projection.{field}.type"), "integer".into()));
        properties.push((format!("projection.{field}.range"), range.into()));
        properties.push((format!("projection.{field}.digits"), "2".into()));
    }
    properties.push((
        "storage.location.template".into(),
        format!(
            "{location}${{{key}}}/year=${{year}}/month=${{month}}/day=${{day}}/hour=${{hour}}/"
        ),
    ));
    let properties: Vec<String> = properties
        .iter()
        .map(|(k, v)| format!("  '{k}' = '{v}'"))
        .collect();
    format!(
        "CREATE EXTERNAL TABLE IF NOT EXISTS {database}.{name} (\n{columns}\n)\nPARTITIONED BY ({key} string, `year` int, `month` int, `day` int, `hour` int)\n{format}\nLOCATION '{location}'\nTBLPROPERTIES (\n{properties}\n);\n",
        name = t.name,
        columns = columns.join(",\n"),
        properties = properties.join(",\n"),
    )
}

/// Every statement, separated by blank lines.
pub fn ddl(settings: &Settings) -> anyhow::Result<String> {
    let database = &settings.glue_database;
    let mut tables = event_tables(settings)?;
    for (name, format) in [
        ("results", Format::Json),
        (COMPACTED_PREFIX, Format::Parquet),
    ] {
        tables.push(Table {
            name: name.to_string(),
            columns: result_columns(),
            first_key: "queue_name",
            prefix: name.to_string(),
            years: RESULT_YEARS,
            format,
        });
    }
    let mut out = format!(
        "-- Athena over the records of {} ({}), as infra/modules/s3 creates them in Glue.\n-- Queries name the partition: WHERE event_name = 'open' (or queue_name = '…') AND year = 2026 …\n-- On SQS + S3 delivery is at least once: deduplicate events on event_id, results on message_id.\n\nCREATE DATABASE IF NOT EXISTS {database};\n",
        settings.environment, settings.bucket
    );
    for t in &tables {
        out.push('\n');
        out.push_str(&statement(database, &settings.bucket, t));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_staging_tables_name_every_column_and_partition() {
        let config = conveyor_config::load(
            None,
            [("CONVEYOR_ENVIRONMENT".to_string(), "staging".to_string())],
        )
        .unwrap();
        let text = ddl(&config.selected).unwrap();
        assert!(text.contains("CREATE DATABASE IF NOT EXISTS mht_api_staging_data_collection;"));
        for table in ["events", "results", "results_compacted"] {
            assert!(
                text.contains(&format!(
                    "CREATE EXTERNAL TABLE IF NOT EXISTS mht_api_staging_data_collection.{table} ("
                )),
                "{text}"
            );
        }
        assert!(text.contains("  `plan` string"), "the shipped typed column");
        assert!(text.contains("'storage.location.template' = 's3://mht-api-staging-data-collection/events/${event_name}/year=${year}/month=${month}/day=${day}/hour=${hour}/'"), "{text}");
        assert!(text.contains("'projection.year.range' = '1970,9999'"));
    }
}
