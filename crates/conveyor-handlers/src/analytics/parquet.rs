//! Events as one Parquet file (the `parquet` crate's column writer, no Arrow): the fixed
//! columns `event_id`, `name`, `user_id`, `timestamp`, `received_at` (UTC milliseconds, Parquet's
//! `TIMESTAMP(MILLIS, true)`), `properties` (the JSON text), then the configured typed columns
//! taken from the properties by JSON pointer. Snappy-compressed, one row group: a file is one
//! flush of one partition.

use std::sync::Arc;

use parquet::basic::Compression;
use parquet::data_type::{BoolType, ByteArray, ByteArrayType, DoubleType, Int32Type, Int64Type};
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
    /// The properties object, as JSON text (written as it came).
    pub properties: String,
}

/// How a column is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    Text,
    Int64,
    Int32,
    Double,
    Boolean,
    /// UTC milliseconds, Parquet's `TIMESTAMP(MILLIS, true)`.
    Millis,
    /// Any JSON value as its text (a string stays a string).
    Json,
}

impl Stored {
    /// The column's type in Athena's (Hive's) DDL.
    pub fn athena(self) -> &'static str {
        match self {
            Stored::Text | Stored::Json => "string",
            Stored::Int64 => "bigint",
            Stored::Int32 => "int",
            Stored::Double => "double",
            Stored::Boolean => "boolean",
            Stored::Millis => "timestamp",
        }
    }

    fn parquet(self) -> &'static str {
        match self {
            Stored::Text | Stored::Json => "BYTE_ARRAY",
            Stored::Int64 | Stored::Millis => "INT64",
            Stored::Int32 => "INT32",
            Stored::Double => "DOUBLE",
            Stored::Boolean => "BOOLEAN",
        }
    }

    fn logical(self) -> &'static str {
        match self {
            Stored::Text | Stored::Json => " (STRING)",
            Stored::Millis => " (TIMESTAMP(MILLIS,true))",
            _ => "",
        }
    }
}

/// One column of a file: its name, where each row's value is (a JSON pointer into the row),
/// how it is stored, and whether every row has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    pub name: String,
    pub pointer: String,
    pub stored: Stored,
    pub required: bool,
}

impl Column {
    pub fn new(name: &str, stored: Stored, required: bool) -> Column {
        Column {
            name: name.to_string(),
            pointer: format!("/{name}"),
            stored,
            required,
        }
    }
}

impl From<ColumnKind> for Stored {
    fn from(kind: ColumnKind) -> Stored {
        match kind {
            ColumnKind::String => Stored::Text,
            ColumnKind::Int64 => Stored::Int64,
            ColumnKind::Double => Stored::Double,
            ColumnKind::Boolean => Stored::Boolean,
        }
    }
}

/// An events file's columns: the fixed six, then the typed ones taken from the properties.
pub fn event_columns(typed: &[TypedColumn]) -> Vec<Column> {
    let mut columns = vec![
        Column::new("event_id", Stored::Text, true),
        Column::new("name", Stored::Text, true),
        Column::new("user_id", Stored::Text, false),
        Column::new("timestamp", Stored::Millis, true),
        Column::new("received_at", Stored::Millis, true),
        Column::new("properties", Stored::Json, true),
    ];
    columns.extend(typed.iter().map(|c| Column {
        name: c.name.clone(),
        pointer: format!("/properties{}", c.pointer),
        stored: c.kind.into(),
        required: false,
    }));
    columns
}

/// The file's schema, as Parquet's message-type text.
pub fn schema_text(columns: &[Column]) -> String {
    let mut text = String::from("message row {\n");
    for c in columns {
        text.push_str(&format!(
            "  {} {} {}{};\n",
            if c.required { "REQUIRED" } else { "OPTIONAL" },
            c.stored.parquet(),
            c.name,
            c.stored.logical()
        ));
    }
    text.push('}');
    text
}

/// One column's values, a row each (`None`: null).
pub enum Cells {
    Text(Vec<Option<ByteArray>>),
    Int64(Vec<Option<i64>>),
    Int32(Vec<Option<i32>>),
    Double(Vec<Option<f64>>),
    Boolean(Vec<Option<bool>>),
}

impl Cells {
    fn len(&self) -> usize {
        match self {
            Cells::Text(v) => v.len(),
            Cells::Int64(v) => v.len(),
            Cells::Int32(v) => v.len(),
            Cells::Double(v) => v.len(),
            Cells::Boolean(v) => v.len(),
        }
    }

    /// A column's cells taken from JSON values (`None`: absent or null), as `stored` says.
    pub fn from_json<'a>(stored: Stored, values: impl Iterator<Item = Option<&'a Value>>) -> Cells {
        let values = values.map(|v| v.filter(|v| !v.is_null()));
        match stored {
            Stored::Text | Stored::Json => {
                Cells::Text(values.map(|v| v.and_then(|v| text_of(v, stored))).collect())
            }
            Stored::Int64 | Stored::Millis => {
                Cells::Int64(values.map(|v| v.and_then(Value::as_i64)).collect())
            }
            Stored::Int32 => Cells::Int32(
                values
                    .map(|v| {
                        v.and_then(Value::as_i64)
                            .and_then(|n| i32::try_from(n).ok())
                    })
                    .collect(),
            ),
            Stored::Double => Cells::Double(values.map(|v| v.and_then(Value::as_f64)).collect()),
            Stored::Boolean => Cells::Boolean(values.map(|v| v.and_then(Value::as_bool)).collect()),
        }
    }
}

/// The present values and a definition level per row; a required column has no levels, and a
/// row without its value is refused.
fn split<T>(
    column: &Column,
    cells: Vec<Option<T>>,
) -> Result<(Vec<T>, Option<Vec<i16>>), ParquetError> {
    let rows = cells.len();
    let mut values = Vec::with_capacity(rows);
    let mut levels = Vec::with_capacity(if column.required { 0 } else { rows });
    for cell in cells {
        match cell {
            Some(v) => {
                values.push(v);
                if !column.required {
                    levels.push(1);
                }
            }
            None if column.required => {
                return Err(ParquetError::General(format!(
                    "a row has no value for the required column {}",
                    column.name
                )))
            }
            None => levels.push(0),
        }
    }
    Ok((values, (!column.required).then_some(levels)))
}

fn text_of(value: &Value, stored: Stored) -> Option<ByteArray> {
    match value {
        Value::Null => None,
        Value::String(s) if stored == Stored::Text || stored == Stored::Json => {
            Some(ByteArray::from(s.as_bytes().to_vec()))
        }
        other => Some(ByteArray::from(other.to_string().into_bytes())),
    }
}

/// Columns of cells (one `Cells` per column, in order, each a value per row) as the bytes of
/// one Parquet file, one row group, Snappy-compressed.
pub fn write_columns(columns: &[Column], cells: Vec<Cells>) -> Result<Vec<u8>, ParquetError> {
    if cells.len() != columns.len() || cells.windows(2).any(|w| w[0].len() != w[1].len()) {
        return Err(ParquetError::General(
            "every column needs a value (or null) for every row".into(),
        ));
    }
    let schema = Arc::new(parse_message_type(&schema_text(columns))?);
    let props = Arc::new(
        WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .set_created_by("conveyor".into())
            .build(),
    );
    let mut writer = SerializedFileWriter::new(Vec::new(), schema, props)?;
    let mut group = writer.next_row_group()?;
    let mut cells = cells.into_iter().zip(columns);
    while let Some(mut column) = group.next_column()? {
        let (data, c) = cells
            .next()
            .ok_or_else(|| ParquetError::General("more schema columns than data".into()))?;
        match data {
            Cells::Text(v) => {
                let (values, levels) = split(c, v)?;
                column
                    .typed::<ByteArrayType>()
                    .write_batch(&values, levels.as_deref(), None)?;
            }
            Cells::Int64(v) => {
                let (values, levels) = split(c, v)?;
                column
                    .typed::<Int64Type>()
                    .write_batch(&values, levels.as_deref(), None)?;
            }
            Cells::Int32(v) => {
                let (values, levels) = split(c, v)?;
                column
                    .typed::<Int32Type>()
                    .write_batch(&values, levels.as_deref(), None)?;
            }
            Cells::Double(v) => {
                let (values, levels) = split(c, v)?;
                column
                    .typed::<DoubleType>()
                    .write_batch(&values, levels.as_deref(), None)?;
            }
            Cells::Boolean(v) => {
                let (values, levels) = split(c, v)?;
                column
                    .typed::<BoolType>()
                    .write_batch(&values, levels.as_deref(), None)?;
            }
        }
        column.close()?;
    }
    group.close()?;
    writer.into_inner()
}

/// Rows (JSON values; each column's value at its pointer) as one Parquet file.
pub fn write_rows(columns: &[Column], rows: &[Value]) -> Result<Vec<u8>, ParquetError> {
    let cells = columns
        .iter()
        .map(|c| Cells::from_json(c.stored, rows.iter().map(|r| r.pointer(&c.pointer))))
        .collect();
    write_columns(columns, cells)
}

/// A typed column's value in one event's properties (JSON text): only the top level is parsed,
/// and only the value the pointer goes into is parsed further.
fn pick(properties: &str, pointer: &str) -> Option<Value> {
    let rest = pointer.strip_prefix('/')?;
    let (first, deeper) = rest.split_once('/').unwrap_or((rest, ""));
    let first = first.replace("~1", "/").replace("~0", "~");
    let top: std::collections::HashMap<std::borrow::Cow<'_, str>, &serde_json::value::RawValue> =
        serde_json::from_str(properties).ok()?;
    let raw = top.get(first.as_str())?;
    let value: Value = serde_json::from_str(raw.get()).ok()?;
    if deeper.is_empty() {
        Some(value)
    } else {
        value.pointer(&format!("/{deeper}")).cloned()
    }
}

fn bytes(s: &str) -> ByteArray {
    ByteArray::from(s.as_bytes().to_vec())
}

/// The events as the bytes of one Parquet file.
pub fn write(events: &[Event], typed: &[TypedColumn]) -> Result<Vec<u8>, ParquetError> {
    let mut cells = vec![
        Cells::Text(events.iter().map(|e| Some(bytes(&e.event_id))).collect()),
        Cells::Text(events.iter().map(|e| Some(bytes(&e.name))).collect()),
        Cells::Text(
            events
                .iter()
                .map(|e| e.user_id.as_deref().map(bytes))
                .collect(),
        ),
        Cells::Int64(events.iter().map(|e| Some(e.timestamp_ms)).collect()),
        Cells::Int64(events.iter().map(|e| Some(e.received_at_ms)).collect()),
        Cells::Text(events.iter().map(|e| Some(bytes(&e.properties))).collect()),
    ];
    for c in typed {
        let picked: Vec<Option<Value>> = events
            .iter()
            .map(|e| pick(&e.properties, &c.pointer))
            .collect();
        cells.push(Cells::from_json(
            c.kind.into(),
            picked.iter().map(Option::as_ref),
        ));
    }
    write_columns(&event_columns(typed), cells)
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
            }
            .to_string(),
        }
    }

    #[test]
    fn a_typed_column_is_picked_at_its_pointer_without_parsing_the_rest() {
        let p = r#"{"plan":"pro","device":{"os":"ios","v":[1,2]},"a/b":true,"n":null}"#;
        assert_eq!(pick(p, "/plan"), Some(serde_json::json!("pro")));
        assert_eq!(pick(p, "/device/os"), Some(serde_json::json!("ios")));
        assert_eq!(pick(p, "/device/v/1"), Some(serde_json::json!(2)));
        assert_eq!(pick(p, "/a~1b"), Some(serde_json::json!(true)));
        assert_eq!(pick(p, "/n"), Some(Value::Null));
        assert_eq!(pick(p, "/missing"), None);
        assert_eq!(pick("not json", "/plan"), None);
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
