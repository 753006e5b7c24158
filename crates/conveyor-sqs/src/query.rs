//! The older query protocol: `Action=SendMessage&MessageAttribute.1.Name=…` in, XML out.
//!
//! Requests are converted to the JSON protocol's object shape and responses rendered from it,
//! so every action is implemented once. The conversion knows SQS's flattened list and map
//! spellings (`Attribute.N.Name`/`.Value`, `AttributeName.N`, `…BatchRequestEntry.N.…`).

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::error::ApiError;

pub const XML_NAMESPACE: &str = "http://queue.amazonaws.com/doc/2012-11-05/";

/// How a flattened query member becomes a JSON member.
enum Shape {
    /// `AttributeName.1=…` → `"AttributeNames": [...]`.
    List(&'static str),
    /// `Attribute.1.Name=k&Attribute.1.Value=v` → `"Attributes": {"k": "v"}`.
    Map {
        json: &'static str,
        key: &'static str,
        value: &'static str,
    },
    /// `MessageAttribute.1.Name=k&MessageAttribute.1.Value.DataType=…` → `{"k": {"DataType": …}}`.
    AttributeMap(&'static str),
    /// `SendMessageBatchRequestEntry.1.Id=…` → `"Entries": [{"Id": …}]`, members converted again.
    Entries,
}

fn shape(action: &str, member: &str) -> Option<Shape> {
    Some(match member {
        "AttributeName" => Shape::List("AttributeNames"),
        "MessageAttributeName" => Shape::List("MessageAttributeNames"),
        "MessageSystemAttributeName" => Shape::List("MessageSystemAttributeNames"),
        "TagKey" => Shape::List("TagKeys"),
        "AWSAccountId" => Shape::List("AWSAccountIds"),
        "ActionName" => Shape::List("Actions"),
        "Attribute" => Shape::Map {
            json: "Attributes",
            key: "Name",
            value: "Value",
        },
        // The JSON protocol spells CreateQueue's member in lower case.
        "Tag" => Shape::Map {
            json: if action == "CreateQueue" {
                "tags"
            } else {
                "Tags"
            },
            key: "Key",
            value: "Value",
        },
        "MessageAttribute" => Shape::AttributeMap("MessageAttributes"),
        "MessageSystemAttribute" => Shape::AttributeMap("MessageSystemAttributes"),
        "SendMessageBatchRequestEntry"
        | "DeleteMessageBatchRequestEntry"
        | "ChangeMessageVisibilityBatchRequestEntry" => Shape::Entries,
        _ => return None,
    })
}

/// `application/x-www-form-urlencoded` pairs. Unlike a lossy decoder, text that is not UTF-8
/// after percent-decoding is refused, so a message body is never stored altered.
pub fn form_pairs(bytes: &[u8]) -> Result<Vec<(String, String)>, ApiError> {
    let decode = |part: &[u8]| -> Result<String, ApiError> {
        let spaced: Vec<u8> = part
            .iter()
            .map(|&b| if b == b'+' { b' ' } else { b })
            .collect();
        let decoded: Vec<u8> = percent_encoding::percent_decode(&spaced).collect();
        String::from_utf8(decoded).map_err(|_| {
            ApiError::malformed("a form parameter is not valid UTF-8 after percent-decoding")
        })
    };
    bytes
        .split(|&b| b == b'&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = match pair.iter().position(|&b| b == b'=') {
                Some(eq) => (&pair[..eq], &pair[eq + 1..]),
                None => (pair, &b""[..]),
            };
            Ok((decode(name)?, decode(value)?))
        })
        .collect()
}

/// A parsed query request: its action and its parameters in the JSON protocol's shape.
pub fn parse(pairs: &[(String, String)]) -> Result<(String, Value), ApiError> {
    let mut action = None;
    let mut tree = Node::default();
    for (key, value) in pairs {
        match key.as_str() {
            "Action" => action = Some(value.clone()),
            // Protocol plumbing, not parameters.
            "Version" | "Signature" | "SignatureMethod" | "SignatureVersion" | "AWSAccessKeyId"
            | "Timestamp" | "Expires" => {}
            k if k.starts_with("X-Amz-") => {}
            _ => tree.insert(key.split('.'), value.clone())?,
        }
    }
    let action = action
        .filter(|a| !a.is_empty())
        .ok_or_else(|| ApiError::missing_parameter("Action"))?;
    let members = convert(&action, tree)?;
    Ok((action, Value::Object(members)))
}

/// The dotted keys as a tree; numbered segments stay keys until their shape orders them.
#[derive(Default, Debug)]
struct Node {
    value: Option<String>,
    children: BTreeMap<String, Node>,
}

impl Node {
    fn insert<'k>(
        &mut self,
        mut path: impl Iterator<Item = &'k str>,
        value: String,
    ) -> Result<(), ApiError> {
        match path.next() {
            None => {
                self.value = Some(value);
                Ok(())
            }
            Some("") => Err(ApiError::malformed(
                "a query parameter name has an empty segment (two dots in a row, or a trailing dot)",
            )),
            Some(segment) => self
                .children
                .entry(segment.to_string())
                .or_default()
                .insert(path, value),
        }
    }

    /// Children whose keys are 1-based indexes, in index order.
    fn numbered(self, member: &str) -> Result<Vec<Node>, ApiError> {
        let mut items = Vec::with_capacity(self.children.len());
        for (index, node) in self.children {
            let n: u32 = index.parse().ok().filter(|n| *n >= 1).ok_or_else(|| {
                ApiError::malformed(format!(
                    "{member}.{index} is not a numbered member; number them {member}.1, {member}.2, …"
                ))
            })?;
            items.push((n, node));
        }
        items.sort_by_key(|(n, _)| *n);
        Ok(items.into_iter().map(|(_, node)| node).collect())
    }

    fn text(&self, name: &str) -> Option<String> {
        self.children.get(name).and_then(|n| n.value.clone())
    }
}

fn convert(action: &str, tree: Node) -> Result<Map<String, Value>, ApiError> {
    let mut out = Map::new();
    for (member, node) in tree.children {
        match shape(action, &member) {
            None if node.children.is_empty() => {
                out.insert(member, Value::String(node.value.unwrap_or_default()));
            }
            None => {
                return Err(ApiError::invalid_parameter(format!(
                    "the parameter {member} does not take sub-members like {member}.{}",
                    node.children
                        .keys()
                        .next()
                        .map(String::as_str)
                        .unwrap_or("")
                )))
            }
            Some(Shape::List(json)) => {
                let items = node
                    .numbered(&member)?
                    .into_iter()
                    .map(|n| Value::String(n.value.unwrap_or_default()))
                    .collect();
                out.insert(json.into(), Value::Array(items));
            }
            Some(Shape::Map { json, key, value }) => {
                let mut map = Map::new();
                for entry in node.numbered(&member)? {
                    let k = entry
                        .text(key)
                        .ok_or_else(|| ApiError::missing_parameter(&format!("{member}.N.{key}")))?;
                    map.insert(k, Value::String(entry.text(value).unwrap_or_default()));
                }
                out.insert(json.into(), Value::Object(map));
            }
            Some(Shape::AttributeMap(json)) => {
                let mut map = Map::new();
                for mut entry in node.numbered(&member)? {
                    let name = entry
                        .text("Name")
                        .ok_or_else(|| ApiError::missing_parameter(&format!("{member}.N.Name")))?;
                    let mut typed = Map::new();
                    if let Some(v) = entry.children.remove("Value") {
                        for (field, leaf) in v.children {
                            typed.insert(field, Value::String(leaf.value.unwrap_or_default()));
                        }
                    }
                    map.insert(name, Value::Object(typed));
                }
                out.insert(json.into(), Value::Object(map));
            }
            Some(Shape::Entries) => {
                let entries = node
                    .numbered(&member)?
                    .into_iter()
                    .map(|entry| convert(action, entry).map(Value::Object))
                    .collect::<Result<Vec<_>, _>>()?;
                out.insert("Entries".into(), Value::Array(entries));
            }
        }
    }
    Ok(out)
}

// ---- responses ----------------------------------------------------------------------------

/// An action's successful answer as the query protocol's XML document.
pub fn render(action: &str, result: &Value, request_id: &str) -> String {
    let mut xml = String::with_capacity(256);
    xml.push_str(&format!(
        "<?xml version=\"1.0\"?><{action}Response xmlns=\"{XML_NAMESPACE}\">"
    ));
    if let Value::Object(members) = result {
        if !members.is_empty() {
            xml.push_str(&format!("<{action}Result>"));
            write_members(&mut xml, action, members);
            xml.push_str(&format!("</{action}Result>"));
        }
    }
    xml.push_str(&format!(
        "<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata></{action}Response>"
    ));
    xml
}

/// An error as the query protocol's XML document.
pub fn render_error(error: &ApiError, request_id: &str) -> String {
    format!(
        "<?xml version=\"1.0\"?><ErrorResponse xmlns=\"{XML_NAMESPACE}\"><Error><Type>{}</Type><Code>{}</Code><Message>{}</Message><Detail/></Error><RequestId>{request_id}</RequestId></ErrorResponse>",
        error.fault(),
        error.query_code,
        escape(&error.message)
    )
}

fn write_members(xml: &mut String, action: &str, members: &Map<String, Value>) {
    for (name, value) in members {
        match (name.as_str(), value) {
            ("Attributes", Value::Object(map)) => write_pairs(xml, "Attribute", "Name", map),
            ("Tags", Value::Object(map)) => write_pairs(xml, "Tag", "Key", map),
            ("MessageAttributes", Value::Object(map)) => {
                for (k, v) in map {
                    xml.push_str(&format!("<MessageAttribute><Name>{}</Name>", escape(k)));
                    write_element(xml, action, "Value", v);
                    xml.push_str("</MessageAttribute>");
                }
            }
            (_, Value::Array(items)) => {
                let element = list_element(action, name);
                for item in items {
                    write_element(xml, action, &element, item);
                }
            }
            _ => write_element(xml, action, name, value),
        }
    }
}

fn write_pairs(xml: &mut String, element: &str, key: &str, map: &Map<String, Value>) {
    for (k, v) in map {
        xml.push_str(&format!(
            "<{element}><{key}>{}</{key}><Value>{}</Value></{element}>",
            escape(k),
            escape(&scalar(v))
        ));
    }
}

fn write_element(xml: &mut String, action: &str, name: &str, value: &Value) {
    xml.push_str(&format!("<{name}>"));
    match value {
        Value::Object(members) => write_members(xml, action, members),
        other => xml.push_str(&escape(&scalar(other))),
    }
    xml.push_str(&format!("</{name}>"));
}

/// The element name of one item of a flattened list member.
fn list_element(action: &str, member: &str) -> String {
    match member {
        "QueueUrls" | "queueUrls" => "QueueUrl".into(),
        "Messages" => "Message".into(),
        "Successful" => format!("{action}ResultEntry"),
        "Failed" => "BatchResultErrorEntry".into(),
        "Results" => format!("{action}ResultEntry"),
        other => other.trim_end_matches('s').into(),
    }
}

fn scalar(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Text escaped for XML content; characters XML 1.0 cannot carry become character references
/// where allowed (SQS bodies may hold `\t`, `\n`, `\r`).
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\r' => out.push_str("&#xD;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn converts_flattened_members_to_the_json_shape() {
        let (action, v) = parse(&pairs(&[
            ("Action", "SendMessageBatch"),
            ("Version", "2012-11-05"),
            ("QueueUrl", "http://h/000000000000/q"),
            ("SendMessageBatchRequestEntry.2.Id", "b"),
            ("SendMessageBatchRequestEntry.2.MessageBody", "two"),
            ("SendMessageBatchRequestEntry.1.Id", "a"),
            ("SendMessageBatchRequestEntry.1.MessageBody", "one"),
            ("SendMessageBatchRequestEntry.1.DelaySeconds", "3"),
            (
                "SendMessageBatchRequestEntry.1.MessageAttribute.1.Name",
                "k",
            ),
            (
                "SendMessageBatchRequestEntry.1.MessageAttribute.1.Value.DataType",
                "String",
            ),
            (
                "SendMessageBatchRequestEntry.1.MessageAttribute.1.Value.StringValue",
                "v",
            ),
        ]))
        .unwrap();
        assert_eq!(action, "SendMessageBatch");
        assert_eq!(
            v,
            json!({
                "QueueUrl": "http://h/000000000000/q",
                "Entries": [
                    {"Id": "a", "MessageBody": "one", "DelaySeconds": "3",
                     "MessageAttributes": {"k": {"DataType": "String", "StringValue": "v"}}},
                    {"Id": "b", "MessageBody": "two"}
                ]
            })
        );
    }

    #[test]
    fn converts_attribute_maps_lists_and_create_queue_tags() {
        let (_, v) = parse(&pairs(&[
            ("Action", "CreateQueue"),
            ("QueueName", "q"),
            ("Attribute.1.Name", "DelaySeconds"),
            ("Attribute.1.Value", "5"),
            ("Tag.1.Key", "team"),
            ("Tag.1.Value", "core"),
        ]))
        .unwrap();
        assert_eq!(
            v,
            json!({"QueueName": "q", "Attributes": {"DelaySeconds": "5"}, "tags": {"team": "core"}})
        );
        let (_, v) = parse(&pairs(&[
            ("Action", "GetQueueAttributes"),
            ("AttributeName.2", "B"),
            ("AttributeName.1", "A"),
        ]))
        .unwrap();
        assert_eq!(v, json!({"AttributeNames": ["A", "B"]}));
    }

    #[test]
    fn decodes_forms_and_refuses_invalid_utf8() {
        assert_eq!(
            form_pairs(b"Action=SendMessage&MessageBody=a+b%26c%E2%9C%93&Empty=&Flag").unwrap(),
            pairs(&[
                ("Action", "SendMessage"),
                ("MessageBody", "a b&c\u{2713}"),
                ("Empty", ""),
                ("Flag", ""),
            ])
        );
        let e = form_pairs(b"MessageBody=%FF%FE").unwrap_err();
        assert_eq!(e.code, "SerializationException");
    }

    #[test]
    fn malformed_members_are_clear_errors() {
        assert_eq!(
            parse(&pairs(&[("QueueName", "q")])).unwrap_err().code,
            "MissingParameter"
        );
        let e = parse(&pairs(&[("Action", "X"), ("AttributeName.x", "A")])).unwrap_err();
        assert!(e.message.contains("AttributeName.x"), "{e}");
        let e = parse(&pairs(&[("Action", "X"), ("QueueUrl.1", "A")])).unwrap_err();
        assert_eq!(e.code, "InvalidParameterValue");
        assert!(parse(&pairs(&[("Action", "X"), ("A..b", "1")])).is_err());
    }

    #[test]
    fn renders_results_in_the_query_shape() {
        let result = json!({
            "Messages": [{"MessageId": "m", "Body": "<b>&",
                          "Attributes": {"SentTimestamp": "1"},
                          "MessageAttributes": {"k": {"DataType": "String", "StringValue": "v"}}}]
        });
        let xml = render("ReceiveMessage", &result, "rid");
        assert!(xml.contains(
            "<Message><Attribute><Name>SentTimestamp</Name><Value>1</Value></Attribute><Body>&lt;b&gt;&amp;</Body>"
        ), "{xml}");
        assert!(xml.contains("<MessageAttribute><Name>k</Name><Value><DataType>String</DataType><StringValue>v</StringValue></Value></MessageAttribute>"), "{xml}");
        let xml = render(
            "DeleteMessageBatch",
            &json!({"Successful": [{"Id": "a"}], "Failed": [{"Id": "b", "SenderFault": true}]}),
            "rid",
        );
        assert!(
            xml.contains(
                "<DeleteMessageBatchResultEntry><Id>a</Id></DeleteMessageBatchResultEntry>"
            ),
            "{xml}"
        );
        assert!(
            xml.contains("<BatchResultErrorEntry><Id>b</Id><SenderFault>true</SenderFault></BatchResultErrorEntry>"),
            "{xml}"
        );
        let xml = render("DeleteQueue", &json!({}), "rid");
        assert!(!xml.contains("DeleteQueueResult"), "{xml}");
    }
}
