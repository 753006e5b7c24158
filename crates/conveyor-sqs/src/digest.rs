//! The MD5 digests SQS returns so clients can check what it stored. SDKs (Java, .NET, Go v1,
//! the Rust SDK's checksum interceptors) recompute them and fail the call on a mismatch, so
//! these follow SQS's documented encoding byte for byte.

use conveyor_queue::{MessageAttributeValue, MessageAttributes};
use md5::{Digest, Md5};

/// Lowercase hex MD5 of the body's UTF-8 bytes.
pub fn body(body: &str) -> String {
    hex(&Md5::digest(body.as_bytes()))
}

/// MD5 of message attributes: sorted by name, each as length-prefixed name, length-prefixed data
/// type, a transport byte (1 string, 2 binary) and the length-prefixed value. `None` when there
/// are none, since SQS then omits the field.
pub fn attributes<'a>(
    attributes: impl IntoIterator<Item = (&'a String, &'a MessageAttributeValue)>,
) -> Option<String> {
    let mut sorted: Vec<(&String, &MessageAttributeValue)> = attributes.into_iter().collect();
    if sorted.is_empty() {
        return None;
    }
    sorted.sort_by(|a, b| a.0.cmp(b.0));
    let mut md5 = Md5::new();
    for (name, value) in sorted {
        length_prefixed(&mut md5, name.as_bytes());
        length_prefixed(&mut md5, value.data_type.as_bytes());
        match (&value.string_value, &value.binary_value) {
            (_, Some(binary)) if value.data_type.starts_with("Binary") => {
                md5.update([2u8]);
                length_prefixed(&mut md5, binary);
            }
            (Some(string), _) => {
                md5.update([1u8]);
                length_prefixed(&mut md5, string.as_bytes());
            }
            (None, Some(binary)) => {
                md5.update([2u8]);
                length_prefixed(&mut md5, binary);
            }
            (None, None) => md5.update([1u8, 0, 0, 0, 0]),
        }
    }
    Some(hex(&md5.finalize()))
}

/// MD5 of the message system attributes a sender may set (only `AWSTraceHeader`).
pub fn trace_header(trace_header: Option<&str>) -> Option<String> {
    let value = MessageAttributeValue::string(trace_header?);
    let map: MessageAttributes = [("AWSTraceHeader".to_string(), value)].into();
    attributes(&map)
}

fn length_prefixed(md5: &mut Md5, bytes: &[u8]) {
    md5.update((bytes.len() as u32).to_be_bytes());
    md5.update(bytes);
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 0xf) as usize] as char);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_digest_is_plain_md5() {
        assert_eq!(body(""), "d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(body("hello"), "5d41402abc4b2a76b9719d911017c592");
    }

    /// Reference digests computed with moto's independent implementation
    /// (`moto.sqs.models.Message.attribute_md5`) for the same attributes.
    #[test]
    fn attribute_digest_matches_an_independent_implementation() {
        let mut map = MessageAttributes::new();
        map.insert("b".into(), MessageAttributeValue::string("x"));
        map.insert("a".into(), MessageAttributeValue::number("1"));
        assert_eq!(
            attributes(&map).as_deref(),
            Some("e5e42f7f96f253b33263b68e9bd6530c")
        );
        let mut map = MessageAttributes::new();
        map.insert("bin".into(), MessageAttributeValue::binary(vec![0, 1, 2]));
        assert_eq!(
            attributes(&map).as_deref(),
            Some("6a64fe1652436ab8bf8c6e61d79f45b8")
        );
        assert_eq!(
            trace_header(Some("Root=1-5759e988-bd862e3fe1be46a994272793")).as_deref(),
            Some("62a56dd927315f2b2e12832b84617ea5")
        );
        assert_eq!(attributes(&MessageAttributes::new()), None);
    }
}
