//! Events as one Parquet file (the `parquet` crate's column writer, no Arrow): the fixed
//! columns `event_id`, `name`, `user_id`, `timestamp`, `received_at` (UTC milliseconds, Parquet's
//! `TIMESTAMP(MILLIS, true)`), `properties` (the JSON text), then the configured typed columns
//! taken from the properties by JSON pointer. Snappy-compressed, one row group: a file is one
//! flush of one partition.

use std::sync::Arc;

use parquet::basic::Compression;
use parquet::data_type::{BoolType, ByteArray, ByteArrayType, DoubleType, Int64Type};
use parquet::errors::ParquetError;
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::parser::parse_message_type;
use serde_json::Value;

/// A typed column's Parquet type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnKind {
    String,
    Int64,
    Double,
    Boolean,
}

/// A column taken from each event's properties.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypedColumn {
    pub name: String,
    /// A JSON pointer into `properties` (`/plan`, `/device/os`).
    pub pointer: String,
    pub kind: ColumnKind,
}

/// One event as it is written.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub event_id: String,
    pub name: String,
    pub user_id: Option<String>,
    pub timestamp_ms: i64,
    pub received_at_ms: i64,
    /// The properties object.
    pub properties: Value,
}

/// The file's schema, as Parquet's message-type text.
pub fn schema_text(columns: &[TypedColumn]) -> String {
    let mut text = String::from(
        "message event {\n  REQUIRED BYTE_ARRAY event_id (STRING);\n  REQUIRED BYTE_ARRAY name (STRING);\n  OPTIONAL BYTE_ARRAY user_id (STRING);\n  REQUIRED INT64 timestamp (TIMESTAMP(MILLIS,true));\n  REQUIRED INT64 received_at (TIMESTAMP(MILLIS,true));\n  REQUIRED BYTE_ARRAY properties (STRING);\n",
    );
    for c in columns {
        let physical = match c.kind {
            ColumnKind::String => "BYTE_ARRAY",
            ColumnKind::Int64 => "INT64",
            ColumnKind::Double => "DOUBLE",
            ColumnKind::Boolean => "BOOLEAN",
        };
        let logical = if c.kind == ColumnKind::String {
            " (STRING)"
        } else {
            ""
        };
        text.push_str(&format!("  OPTIONAL {physical} {}{logical};\n", c.name));
    }
    text.push('}');
    text
}

/// Values of an optional column: the present ones, and a definition level per row.
fn optional<T>(rows: impl Iterator<Item = Option<T>>) -> (Vec<T>, Vec<i16>) {
    let mut values = Vec::new();
    let mut levels = Vec::new();
    for v in rows {
        match v {
            Some(v) => {
                values.push(v);
                levels.push(1);
            }
            None => levels.push(0),
        }
    }
    (values, levels)
}

fn text(s: &str) -> ByteArray {
    ByteArray::from(s.as_bytes().to_vec())
}

/// The events as the bytes of one Parquet file.
pub fn write(events: &[Event], columns: &[TypedColumn]) -> Result<Vec<u8>, ParquetError> {
    let schema = Arc::new(parse_message_type(&schema_text(columns))?);
    let props = Arc::new(
        WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .set_created_by("conveyor".into())
            .build(),
    );
    let mut writer = SerializedFileWriter::new(Vec::new(), schema, props)?;
    let mut group = writer.next_row_group()?;
    let mut index = 0;
    while let Some(mut column) = group.next_column()? {
        match index {
            0 | 1 | 5 => {
                let values: Vec<ByteArray> = events
                    .iter()
                    .map(|e| match index {
                        0 => text(&e.event_id),
                        1 => text(&e.name),
                        _ => ByteArray::from(e.properties.to_string().into_bytes()),
                    })
                    .collect();
                column
                    .typed::<ByteArrayType>()
                    .write_batch(&values, None, None)?;
            }
            2 => {
                let (values, levels) =
                    optional(events.iter().map(|e| e.user_id.as_deref().map(text)));
                column
                    .typed::<ByteArrayType>()
                    .write_batch(&values, Some(&levels), None)?;
            }
            3 | 4 => {
                let values: Vec<i64> = events
                    .iter()
                    .map(|e| {
                        if index == 3 {
                            e.timestamp_ms
                        } else {
                            e.received_at_ms
                        }
                    })
                    .collect();
                column
                    .typed::<Int64Type>()
                    .write_batch(&values, None, None)?;
            }
            n => {
                let c = &columns[n - 6];
                let picked = events.iter().map(|e| e.properties.pointer(&c.pointer));
                match c.kind {
                    ColumnKind::String => {
                        let (values, levels) = optional(picked.map(|v| match v {
                            Some(Value::String(s)) => Some(text(s)),
                            Some(Value::Null) | None => None,
                            Some(other) => Some(ByteArray::from(other.to_string().into_bytes())),
                        }));
                        column.typed::<ByteArrayType>().write_batch(
                            &values,
                            Some(&levels),
                            None,
                        )?;
                    }
                    ColumnKind::Int64 => {
                        let (values, levels) = optional(picked.map(|v| v.and_then(Value::as_i64)));
                        column
                            .typed::<Int64Type>()
                            .write_batch(&values, Some(&levels), None)?;
                    }
                    ColumnKind::Double => {
                        let (values, levels) = optional(picked.map(|v| v.and_then(Value::as_f64)));
                        column
                            .typed::<DoubleType>()
                            .write_batch(&values, Some(&levels), None)?;
                    }
                    ColumnKind::Boolean => {
                        let (values, levels) = optional(picked.map(|v| v.and_then(Value::as_bool)));
                        column
                            .typed::<BoolType>()
                            .write_batch(&values, Some(&levels), None)?;
                    }
                }
            }
        }
        column.close()?;
        index += 1;
    }
    group.close()?;
    writer.into_inner()
}

#[cfg(test)]
mod tests {
    use super::*;
    use parquet::file::reader::{FileReader, SerializedFileReader};
    use parquet::record::RowAccessor;

    fn event(n: i64, plan: Option<&str>) -> Event {
        Event {
            event_id: format!("m-{n}"),
            name: "open".into(),
            user_id: (n % 2 == 0).then(|| format!("u{n}")),
            timestamp_ms: 1_796_119_200_000 + n,
            received_at_ms: 1_796_119_300_000,
            properties: match plan {
                Some(p) => serde_json::json!({ "plan": p, "seats": n }),
                None => serde_json::json!({}),
            },
        }
    }

    #[test]
    fn events_read_back_row_by_row_with_their_typed_columns() {
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
        let events = vec![
            event(0, Some("pro")),
            event(1, None),
            event(2, Some("free")),
        ];
        let bytes = write(&events, &columns).unwrap();
        assert_eq!(&bytes[..4], b"PAR1");
        let reader = SerializedFileReader::new(bytes::Bytes::from(bytes)).unwrap();
        assert_eq!(reader.metadata().file_metadata().num_rows(), 3);
        let rows: Vec<_> = reader
            .get_row_iter(None)
            .unwrap()
            .map(|r| r.unwrap())
            .collect();
        assert_eq!(rows[0].get_string(0).unwrap(), "m-0");
        assert_eq!(rows[0].get_string(2).unwrap(), "u0");
        assert!(rows[1].get_string(2).is_err(), "user_id is null");
        assert_eq!(rows[2].get_string(6).unwrap(), "free");
        assert_eq!(rows[2].get_long(7).unwrap(), 2);
        assert!(rows[1].get_long(7).is_err(), "no seats");
        assert_eq!(
            rows[0].get_string(5).unwrap(),
            r#"{"plan":"pro","seats":0}"#
        );
    }
}
