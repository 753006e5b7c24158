//! SQS's input rules, each refusal phrased so the caller knows what to change.

use std::collections::HashSet;

use crate::attributes::{QueueConfig, MAX_DELAY_SECONDS, MAX_VISIBILITY_TIMEOUT, MAX_WAIT_SECONDS};
use crate::error::{BatchAction, QueueError, QueueResult};
use crate::model::{BatchEntry, MessageAttributes, ReceiveRequest, SendMessage};

pub const MAX_BATCH_ENTRIES: usize = 10;
pub const MAX_MESSAGE_ATTRIBUTES: usize = 10;

/// 1–80 characters of `[A-Za-z0-9_-]`, plus the `.fifo` suffix counted in the 80.
pub fn queue_name(name: &str) -> QueueResult<()> {
    let stem = name.strip_suffix(".fifo").unwrap_or(name);
    let ok = !stem.is_empty()
        && name.len() <= 80
        && stem
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(QueueError::invalid(format!(
            "the queue name {name:?} is invalid: use 1 to 80 characters of A-Z, a-z, 0-9, '-' and '_' (FIFO names end in .fifo, counted in the 80)"
        )))
    }
}

/// Batch entries: 1–10, ids valid and distinct.
pub fn batch_ids<T>(action: BatchAction, entries: &[BatchEntry<T>]) -> QueueResult<()> {
    if entries.is_empty() {
        return Err(QueueError::EmptyBatchRequest(action));
    }
    if entries.len() > MAX_BATCH_ENTRIES {
        return Err(QueueError::TooManyEntriesInBatchRequest(entries.len()));
    }
    let mut seen = HashSet::new();
    for e in entries {
        let valid = !e.id.is_empty()
            && e.id.len() <= 80
            && e.id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !valid {
            return Err(QueueError::InvalidBatchEntryId(e.id.clone()));
        }
        if !seen.insert(e.id.as_str()) {
            return Err(QueueError::BatchEntryIdsNotDistinct(e.id.clone()));
        }
    }
    Ok(())
}

/// The characters SQS allows in bodies and string attribute values (XML 1.0's set).
fn allowed_char(c: char) -> bool {
    matches!(c, '\u{9}' | '\u{A}' | '\u{D}' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..='\u{10FFFF}')
}

/// The first character SQS refuses, scanning bytes (bodies are mostly ASCII and up to 1 MiB):
/// ASCII controls other than tab, LF and CR, and U+FFFE / U+FFFF (UTF-8 `EF BF BE` / `EF BF BF`).
/// Surrogates cannot occur in a Rust string, so every other character is allowed.
fn first_disallowed(text: &str) -> Option<char> {
    let bytes = text.as_bytes();
    let suspicious = |b: u8| (b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r')) || b == 0xEF;
    let mut from = 0;
    while let Some(offset) = bytes[from..].iter().position(|b| suspicious(*b)) {
        let at = from + offset;
        let c = text[at..].chars().next()?;
        if !allowed_char(c) {
            return Some(c);
        }
        from = at + c.len_utf8();
    }
    None
}

/// The size SQS counts against `MaximumMessageSize`: body plus every attribute's name, type and value.
pub fn message_size(message: &SendMessage) -> usize {
    message.body.len()
        + message
            .attributes
            .iter()
            .map(|(name, v)| {
                name.len()
                    + v.data_type.len()
                    + v.string_value.as_ref().map_or(0, String::len)
                    + v.binary_value.as_ref().map_or(0, Vec::len)
            })
            .sum::<usize>()
}

/// Everything about one message that can be checked without the queue's contents.
pub fn send_message(config: &QueueConfig, message: &SendMessage) -> QueueResult<()> {
    if message.body.is_empty() {
        return Err(QueueError::MissingParameter(
            "MessageBody (a message needs a body of at least one character)".into(),
        ));
    }
    if let Some(bad) = first_disallowed(&message.body) {
        return Err(QueueError::InvalidMessageContents(format!(
            "the message body contains the character U+{:04X}, which SQS does not allow; encode binary data (e.g. base64)",
            bad as u32
        )));
    }
    let size = message_size(message);
    if size > config.maximum_message_size as usize {
        return Err(QueueError::invalid(format!(
            "the message is {size} bytes (body plus attributes), over the queue's MaximumMessageSize of {} bytes; shrink it or raise the limit (up to 1048576)",
            config.maximum_message_size
        )));
    }
    message_attributes(&message.attributes)?;
    if let Some(delay) = message.delay_seconds {
        // Real SQS accepts DelaySeconds=0 on a FIFO queue and refuses any other value, in these
        // words (moto's AWS-verified `test_send_message_delay_seconds_validation`).
        if config.fifo && delay != 0 {
            return Err(QueueError::invalid(format!(
                "Value {delay} for parameter DelaySeconds is invalid. Reason: The request include parameter that is not valid for this queue type."
            )));
        }
        if delay > MAX_DELAY_SECONDS {
            return Err(QueueError::invalid(format!(
                "DelaySeconds {delay} is out of range: use 0 to {MAX_DELAY_SECONDS}"
            )));
        }
    }
    if config.fifo {
        fifo_ids(config, message)
    } else if let Some(d) = &message.deduplication_id {
        // Real SQS refuses a deduplication id on a standard queue with InvalidParameterValue, in
        // these words (as recorded from a live SQS error in a public deployment log; moto agrees).
        Err(QueueError::invalid(format!(
            "Value {d} for parameter MessageDeduplicationId is invalid. Reason: The request include parameter that is not valid for this queue type."
        )))
    } else if let Some(g) = &message.group_id {
        // Standard queues accept a group id (fair queues, since 2025) but it must be well formed.
        fifo_token("MessageGroupId", g)
    } else {
        Ok(())
    }
}

/// A FIFO message's group and deduplication ids. A FIFO batch is checked with this for every
/// entry before anything is sent: real SQS refuses the whole `SendMessageBatch` when one entry
/// lacks either (LocalStack's AWS-validated `test_send_batch_missing_message_group_id_for_fifo_queue`
/// and `..._missing_deduplication_id_...` expect the request to fail, not the entry).
pub fn fifo_ids(config: &QueueConfig, message: &SendMessage) -> QueueResult<()> {
    match &message.group_id {
        None => {
            return Err(QueueError::MissingParameter(
                "MessageGroupId (every message sent to a FIFO queue needs one)".into(),
            ))
        }
        Some(g) => fifo_token("MessageGroupId", g)?,
    }
    match &message.deduplication_id {
        Some(d) => fifo_token("MessageDeduplicationId", d),
        None if !config.content_based_deduplication => Err(QueueError::invalid(
            "The queue should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly",
        )),
        None => Ok(()),
    }
}

/// Group and deduplication ids: 1–128 characters of alphanumerics and ASCII punctuation.
fn fifo_token(what: &str, value: &str) -> QueueResult<()> {
    let ok = !value.is_empty() && value.len() <= 128 && value.bytes().all(|b| b.is_ascii_graphic());
    if ok {
        Ok(())
    } else {
        Err(QueueError::invalid(format!(
            "{what} {value:?} is invalid: use 1 to 128 characters of letters, digits and punctuation"
        )))
    }
}

/// At most 10 attributes; names, types and values as SQS requires.
pub fn message_attributes(attributes: &MessageAttributes) -> QueueResult<()> {
    if attributes.len() > MAX_MESSAGE_ATTRIBUTES {
        return Err(QueueError::invalid(format!(
            "the message has {} attributes; SQS allows at most {MAX_MESSAGE_ATTRIBUTES}",
            attributes.len()
        )));
    }
    for (name, value) in attributes {
        attribute_name(name)?;
        let base = value.data_type.split('.').next().unwrap_or("");
        if value.data_type.len() > 256 || !matches!(base, "String" | "Number" | "Binary") {
            return Err(QueueError::invalid(format!(
                "the attribute {name:?} has the data type {:?}: use String, Number or Binary, optionally with a .suffix (256 characters at most)",
                value.data_type
            )));
        }
        match base {
            "Binary" => {
                if value.binary_value.as_ref().is_none_or(Vec::is_empty)
                    || value.string_value.is_some()
                {
                    return Err(QueueError::invalid(format!(
                        "the attribute {name:?} is Binary and needs a non-empty BinaryValue (and no StringValue)"
                    )));
                }
            }
            _ => {
                let Some(s) = value.string_value.as_deref().filter(|s| !s.is_empty()) else {
                    return Err(QueueError::invalid(format!(
                        "the attribute {name:?} is {base} and needs a non-empty StringValue"
                    )));
                };
                if value.binary_value.is_some() {
                    return Err(QueueError::invalid(format!(
                        "the attribute {name:?} is {base} and must not have a BinaryValue"
                    )));
                }
                if let Some(bad) = s.chars().find(|c| !allowed_char(*c)) {
                    return Err(QueueError::InvalidMessageContents(format!(
                        "the attribute {name:?} contains the character U+{:04X}, which SQS does not allow",
                        bad as u32
                    )));
                }
                if base == "Number" && !is_sqs_number(s) {
                    return Err(QueueError::invalid(format!(
                        "the attribute {name:?} is a Number but {s:?} is not a number (up to 38 significant digits, between 1e-128 and 1e126)"
                    )));
                }
            }
        }
    }
    Ok(())
}

fn attribute_name(name: &str) -> QueueResult<()> {
    let lower = name.to_ascii_lowercase();
    let ok = !name.is_empty()
        && name.len() <= 256
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
        && !name.starts_with('.')
        && !name.ends_with('.')
        && !name.contains("..")
        && !lower.starts_with("aws.")
        && !lower.starts_with("amazon.");
    if ok {
        Ok(())
    } else {
        Err(QueueError::invalid(format!(
            "the attribute name {name:?} is invalid: use up to 256 characters of A-Z, a-z, 0-9, '_', '-' and '.', not starting or ending with '.', no '..', and not starting with AWS. or Amazon."
        )))
    }
}

/// SQS Number: a decimal with up to 38 significant digits in 1e-128..1e126 (either sign).
fn is_sqs_number(s: &str) -> bool {
    let t = s.trim();
    let t = t.strip_prefix(['-', '+']).unwrap_or(t);
    let (mantissa, exponent) = match t.find(['e', 'E']) {
        Some(i) => (&t[..i], Some(&t[i + 1..])),
        None => (t, None),
    };
    let exp: i64 = match exponent {
        Some(e) => match e.parse() {
            Ok(v) => v,
            Err(_) => return false,
        },
        None => 0,
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if int.is_empty() && frac.is_empty() {
        return false;
    }
    if !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit()) {
        return false;
    }
    let digits: String = format!("{int}{frac}");
    let significant = digits.trim_start_matches('0');
    if significant.is_empty() {
        return true; // zero
    }
    let significant_trimmed = significant.trim_end_matches('0');
    if significant_trimmed.len() > 38 {
        return false;
    }
    // Magnitude: position of the first significant digit relative to the decimal point.
    let leading_zeros = digits.len() - significant.len();
    let magnitude = int.len() as i64 - leading_zeros as i64 - 1 + exp;
    (-128..=126).contains(&magnitude)
}

/// Receive options within SQS's ranges.
pub fn receive_request(request: &ReceiveRequest) -> QueueResult<()> {
    if !(1..=10).contains(&request.max_messages) {
        return Err(QueueError::invalid(format!(
            "MaxNumberOfMessages {} is out of range: use 1 to 10",
            request.max_messages
        )));
    }
    if let Some(v) = request.visibility_timeout {
        visibility_timeout(v)?;
    }
    if let Some(w) = request.wait_time_seconds {
        if w > MAX_WAIT_SECONDS {
            return Err(QueueError::invalid(format!(
                "WaitTimeSeconds {w} is out of range: use 0 to {MAX_WAIT_SECONDS}"
            )));
        }
    }
    Ok(())
}

pub fn visibility_timeout(seconds: u32) -> QueueResult<()> {
    if seconds > MAX_VISIBILITY_TIMEOUT {
        return Err(QueueError::invalid(format!(
            "VisibilityTimeout {seconds} is out of range: use 0 to {MAX_VISIBILITY_TIMEOUT} seconds"
        )));
    }
    Ok(())
}

/// Tags: at most 50 per queue, keys 1–128 and values 0–256 characters, keys not starting with `aws:`.
pub fn tags(tags: &std::collections::BTreeMap<String, String>) -> QueueResult<()> {
    for (k, v) in tags {
        if k.is_empty()
            || k.chars().count() > 128
            || v.chars().count() > 256
            || k.to_ascii_lowercase().starts_with("aws:")
        {
            return Err(QueueError::invalid(format!(
                "the tag {k:?} is invalid: keys are 1 to 128 characters and may not start with aws:, values at most 256"
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::MessageAttributeValue;

    #[test]
    fn queue_names() {
        assert!(queue_name("orders").is_ok());
        assert!(queue_name("orders-2_x.fifo").is_ok());
        assert!(queue_name(&"a".repeat(80)).is_ok());
        assert!(queue_name(&"a".repeat(81)).is_err());
        assert!(queue_name(&format!("{}.fifo", "a".repeat(76))).is_err());
        for bad in ["", ".fifo", "a b", "a.b", "ä"] {
            assert!(queue_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn batch_entry_rules() {
        let e = |id: &str| BatchEntry {
            id: id.to_string(),
            entry: (),
        };
        assert_eq!(
            batch_ids::<()>(BatchAction::SendMessage, &[]),
            Err(QueueError::EmptyBatchRequest(BatchAction::SendMessage))
        );
        assert!(matches!(
            batch_ids(
                BatchAction::SendMessage,
                &(0..11).map(|i| e(&i.to_string())).collect::<Vec<_>>()
            ),
            Err(QueueError::TooManyEntriesInBatchRequest(11))
        ));
        assert!(matches!(
            batch_ids(BatchAction::SendMessage, &[e("a"), e("a")]),
            Err(QueueError::BatchEntryIdsNotDistinct(_))
        ));
        assert!(matches!(
            batch_ids(BatchAction::SendMessage, &[e("a b")]),
            Err(QueueError::InvalidBatchEntryId(_))
        ));
        assert!(matches!(
            batch_ids(BatchAction::SendMessage, &[e(&"x".repeat(81))]),
            Err(QueueError::InvalidBatchEntryId(_))
        ));
        assert!(batch_ids(BatchAction::SendMessage, &[e(&"x".repeat(80)), e("a-b_c")]).is_ok());
    }

    #[test]
    fn numbers() {
        for ok in [
            "0",
            "-1",
            "3.14",
            "1e10",
            "1E-128",
            ".5",
            "5.",
            "12345678901234567890123456789012345678",
        ] {
            assert!(is_sqs_number(ok), "{ok}");
        }
        for bad in [
            "",
            "abc",
            "1e127",
            "1e-129",
            "1.2.3",
            "123456789012345678901234567890123456789",
            "--1",
        ] {
            assert!(!is_sqs_number(bad), "{bad}");
        }
    }

    #[test]
    fn attribute_rules() {
        let mut a = MessageAttributes::new();
        a.insert("AWS.thing".into(), MessageAttributeValue::string("x"));
        assert!(message_attributes(&a).is_err());
        let mut a = MessageAttributes::new();
        a.insert("ok.name".into(), MessageAttributeValue::string(""));
        assert!(message_attributes(&a).is_err());
        let mut a = MessageAttributes::new();
        a.insert(
            "n".into(),
            MessageAttributeValue {
                data_type: "Number.int".into(),
                string_value: Some("7".into()),
                binary_value: None,
            },
        );
        a.insert("b".into(), MessageAttributeValue::binary(vec![1, 2]));
        assert!(message_attributes(&a).is_ok());
        let many: MessageAttributes = (0..11)
            .map(|i| (format!("a{i}"), MessageAttributeValue::string("v")))
            .collect();
        assert!(message_attributes(&many).is_err());
    }

    #[test]
    fn disallowed_characters_are_found_by_the_byte_scan() {
        assert_eq!(first_disallowed("plain text\twith\ttabs\r\n"), None);
        assert_eq!(
            first_disallowed("snowman \u{2603} and \u{EFFF} \u{FFFD}"),
            None
        );
        assert_eq!(first_disallowed("nul \u{0} here"), Some('\u{0}'));
        assert_eq!(first_disallowed("x\u{FFFE}"), Some('\u{FFFE}'));
        assert_eq!(first_disallowed("\u{FFFF}"), Some('\u{FFFF}'));
        for c in (0u32..0x11_0000).filter_map(char::from_u32) {
            assert_eq!(
                first_disallowed(&c.to_string()).is_none(),
                allowed_char(c),
                "U+{:04X}",
                c as u32
            );
        }
    }

    #[test]
    fn bodies() {
        let cfg = QueueConfig {
            maximum_message_size: 262_144,
            ..QueueConfig::default()
        };
        assert!(send_message(&cfg, &SendMessage::new("")).is_err());
        assert!(send_message(&cfg, &SendMessage::new("a\u{1}b")).is_err());
        assert!(send_message(&cfg, &SendMessage::new("x".repeat(262_144))).is_ok());
        let err = send_message(&cfg, &SendMessage::new("x".repeat(262_145))).unwrap_err();
        assert!(err.to_string().contains("MaximumMessageSize"));
        let fifo = QueueConfig {
            fifo: true,
            ..QueueConfig::default()
        };
        assert!(matches!(
            send_message(&fifo, &SendMessage::new("a")),
            Err(QueueError::MissingParameter(_))
        ));
        assert!(send_message(&fifo, &SendMessage::new("a").group("g").dedup("d")).is_ok());
        assert!(
            send_message(&fifo, &SendMessage::new("a").group("g").dedup("d").delay(1)).is_err()
        );
        assert!(
            send_message(&fifo, &SendMessage::new("a").group("g").dedup("d").delay(0)).is_ok(),
            "real SQS accepts DelaySeconds=0 on FIFO queues"
        );
        assert!(send_message(&fifo, &SendMessage::new("a").group("g")).is_err());
    }
}
