//! The event AWS Lambda passes a function for SQS, field for field and in Lambda's order, and
//! the answer it reads back (`batchItemFailures`). Serialized with structs, not a JSON map, so
//! the bytes match the documented sample (see the test).

use std::collections::BTreeMap;

use base64::Engine as _;
use conveyor_queue::ReceivedMessage;
use md5::{Digest, Md5};
use serde::Serialize;

/// The whole event. The handler writes `{"Records":[…]}` itself from records serialized one by
/// one (so it can size invocations); this struct is what that must equal.
#[cfg(test)]
#[derive(Serialize)]
pub(crate) struct Event<'a> {
    #[serde(rename = "Records")]
    pub records: Vec<Record<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Record<'a> {
    pub message_id: &'a str,
    pub receipt_handle: &'a str,
    pub body: &'a str,
    pub attributes: Attributes,
    pub message_attributes: BTreeMap<&'a str, Attribute<'a>>,
    pub md5_of_body: String,
    pub event_source: &'static str,
    #[serde(rename = "eventSourceARN")]
    pub event_source_arn: &'a str,
    pub aws_region: &'a str,
}

/// System attributes as strings, in the order Lambda writes them (standard and FIFO samples).
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct Attributes {
    pub approximate_receive_count: String,
    pub sent_timestamp: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sequence_number: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_group_id: Option<String>,
    pub sender_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_deduplication_id: Option<String>,
    pub approximate_first_receive_timestamp: String,
    #[serde(rename = "AWSTraceHeader", skip_serializing_if = "Option::is_none")]
    pub aws_trace_header: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dead_letter_queue_source_arn: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Attribute<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub string_value: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub binary_value: Option<String>,
    pub string_list_values: [(); 0],
    pub binary_list_values: [(); 0],
    pub data_type: &'a str,
}

/// Where the records say they came from.
pub(crate) struct Source<'a> {
    pub arn: &'a str,
    pub region: &'a str,
}

pub(crate) fn record<'a>(m: &'a ReceivedMessage, source: &Source<'a>) -> Record<'a> {
    Record {
        message_id: &m.message_id,
        receipt_handle: &m.receipt_handle,
        body: &m.body,
        attributes: Attributes {
            approximate_receive_count: m.approximate_receive_count.to_string(),
            sent_timestamp: m.sent_timestamp.to_string(),
            sequence_number: m.sequence_number.clone(),
            message_group_id: m.group_id.clone(),
            sender_id: m.sender_id.clone(),
            message_deduplication_id: m.deduplication_id.clone(),
            approximate_first_receive_timestamp: m.approximate_first_receive_timestamp.to_string(),
            aws_trace_header: m.trace_header.clone(),
            dead_letter_queue_source_arn: m.dead_letter_queue_source_arn.clone(),
        },
        message_attributes: m
            .attributes
            .iter()
            .map(|(name, v)| {
                (
                    name.as_str(),
                    Attribute {
                        string_value: v.string_value.as_deref(),
                        binary_value: v
                            .binary_value
                            .as_ref()
                            .map(|b| base64::engine::general_purpose::STANDARD.encode(b)),
                        string_list_values: [],
                        binary_list_values: [],
                        data_type: &v.data_type,
                    },
                )
            })
            .collect(),
        md5_of_body: hex(&Md5::digest(m.body.as_bytes())),
        event_source: "aws:sqs",
        event_source_arn: source.arn,
        aws_region: source.region,
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// What a function's answer says, with `ReportBatchItemFailures` on.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Answer {
    /// Every record succeeded.
    AllDone,
    /// These message ids failed; the rest succeeded.
    Failed(Vec<String>),
}

/// Read an answer as Lambda does: nothing, `null`, `{}` or an empty or null
/// `batchItemFailures` is complete success; anything malformed, an empty or missing
/// `itemIdentifier`, or one naming no record of the batch fails the whole batch.
pub(crate) fn answer(text: &str, ids: &[&str]) -> Result<Answer, String> {
    if text.trim().is_empty() {
        return Ok(Answer::AllDone);
    }
    let value: serde_json::Value = serde_json::from_str(text)
        .map_err(|e| format!("the answer is not JSON ({e}); the whole batch failed"))?;
    let failures = match &value {
        serde_json::Value::Null => return Ok(Answer::AllDone),
        serde_json::Value::Object(map) => match map.get("batchItemFailures") {
            None | Some(serde_json::Value::Null) => return Ok(Answer::AllDone),
            Some(serde_json::Value::Array(list)) => list,
            Some(other) => {
                return Err(format!(
                    "batchItemFailures is {other}, not a list; the whole batch failed"
                ))
            }
        },
        other => {
            return Err(format!(
                "the answer {} is not an object with batchItemFailures; the whole batch failed",
                short(&other.to_string())
            ))
        }
    };
    let mut failed = Vec::new();
    for item in failures {
        let id = item
            .get("itemIdentifier")
            .and_then(|v| v.as_str())
            .filter(|id| !id.is_empty());
        match id {
            Some(id) if ids.contains(&id) => failed.push(id.to_string()),
            Some(id) => {
                return Err(format!(
                    "itemIdentifier {id:?} names no message of this batch; the whole batch failed"
                ))
            }
            None => {
                return Err(format!(
                    "{} has no itemIdentifier (a message id); the whole batch failed",
                    short(&item.to_string())
                ))
            }
        }
    }
    Ok(if failed.is_empty() {
        Answer::AllDone
    } else {
        Answer::Failed(failed)
    })
}

pub(crate) fn short(text: &str) -> String {
    const MOST: usize = 300;
    match text.char_indices().nth(MOST) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use conveyor_queue::MessageAttributeValue;

    fn message(id: &str, receipt: &str, sent: i64, first: i64) -> ReceivedMessage {
        ReceivedMessage {
            message_id: id.into(),
            receipt_handle: receipt.into(),
            body: "Test message.".into(),
            attributes: Default::default(),
            sent_timestamp: sent,
            approximate_receive_count: 1,
            approximate_first_receive_timestamp: first,
            sequence_number: None,
            group_id: None,
            deduplication_id: None,
            dead_letter_queue_source_arn: None,
            trace_header: None,
            sender_id: "AIDAIENQZJOLO23YVJ4VO".into(),
        }
    }

    /// Whitespace outside strings removed: how a documented sample compares with our bytes.
    fn compact(text: &str) -> String {
        let (mut out, mut quoted, mut escaped) = (String::new(), false, false);
        for c in text.chars() {
            if quoted {
                out.push(c);
                match (escaped, c) {
                    (true, _) => escaped = false,
                    (false, '\\') => escaped = true,
                    (false, '"') => quoted = false,
                    _ => {}
                }
            } else if c == '"' {
                quoted = true;
                out.push(c);
            } else if !c.is_whitespace() {
                out.push(c);
            }
        }
        out
    }

    #[test]
    fn the_event_is_byte_for_byte_lambda_s_documented_standard_queue_sample() {
        let mut first = message(
            "059f36b4-87a3-44ab-83d2-661975830a7d",
            "AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a...",
            1545082649183,
            1545082649185,
        );
        first.attributes.insert(
            "myAttribute".into(),
            MessageAttributeValue::string("myValue"),
        );
        let second = message(
            "2e1424d4-f796-459a-8184-9c92662be6da",
            "AQEBzWwaftRI0KuVm4tP+/7q1rGgNqicHq...",
            1545082650636,
            1545082650649,
        );
        let source = Source {
            arn: "arn:aws:sqs:us-east-2:123456789012:my-queue",
            region: "us-east-2",
        };
        let event = Event {
            records: vec![record(&first, &source), record(&second, &source)],
        };
        let sample = include_str!("lambda-sqs-standard-sample.json");
        assert_eq!(serde_json::to_string(&event).unwrap(), compact(sample));
    }

    #[test]
    fn the_event_is_byte_for_byte_lambda_s_documented_fifo_sample() {
        let mut m = message(
            "11d6ee51-4cc7-4302-9e22-7cd8afdaadf5",
            "AQEBBX8nesZEXmkhsmZeyIE8iQAMig7qw...",
            1573251510774,
            1573251510774,
        );
        m.sequence_number = Some("18849496460467696128".into());
        m.group_id = Some("1".into());
        m.deduplication_id = Some("1".into());
        m.sender_id = "AIDAIO23YVJENQZJOL4VO".into();
        let source = Source {
            arn: "arn:aws:sqs:us-east-2:123456789012:fifo.fifo",
            region: "us-east-2",
        };
        let event = Event {
            records: vec![record(&m, &source)],
        };
        let sample = include_str!("lambda-sqs-fifo-sample.json");
        assert_eq!(serde_json::to_string(&event).unwrap(), compact(sample));
    }

    #[test]
    fn answers_are_read_as_lambda_reads_them() {
        let ids = ["a", "b"];
        for done in [
            "",
            "  ",
            "null",
            "{}",
            r#"{"batchItemFailures":[]}"#,
            r#"{"batchItemFailures":null}"#,
            r#"{"statusCode":200}"#,
        ] {
            assert_eq!(answer(done, &ids), Ok(Answer::AllDone), "{done:?}");
        }
        assert_eq!(
            answer(r#"{"batchItemFailures":[{"itemIdentifier":"b"}]}"#, &ids),
            Ok(Answer::Failed(vec!["b".into()]))
        );
        for (bad, says) in [
            ("not json", "not JSON"),
            (r#"["a"]"#, "not an object"),
            (r#"{"batchItemFailures":"a"}"#, "not a list"),
            (
                r#"{"batchItemFailures":[{"itemIdentifier":""}]}"#,
                "no itemIdentifier",
            ),
            (
                r#"{"batchItemFailures":[{"itemIdentifier":null}]}"#,
                "no itemIdentifier",
            ),
            (
                r#"{"batchItemFailures":[{"messageId":"a"}]}"#,
                "no itemIdentifier",
            ),
            (
                r#"{"batchItemFailures":[{"itemIdentifier":"zz"}]}"#,
                "names no message",
            ),
        ] {
            let err = answer(bad, &ids).unwrap_err();
            assert!(
                err.contains(says) && err.contains("whole batch"),
                "{bad}: {err}"
            );
        }
    }
}
