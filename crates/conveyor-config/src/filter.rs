//! Lambda's event filter patterns (`filter = [{ body = { kind = ["signup"] } }]`), checked when
//! the configuration is read and matched against each SQS record before a function runs.
//!
//! A pattern is a table whose keys name fields of the record (`body`, `attributes`,
//! `messageAttributes`, …) and whose leaves are lists of matchers; a field matches when any of
//! its matchers does, a table when all of its fields do, and a field holding a list when any
//! element does. Matchers, as Lambda and EventBridge define them: a plain string or number
//! (equality), `{ prefix }`, `{ suffix }`, `{ equals-ignore-case }`, `{ anything-but }` (a
//! value, a list of values, or `{ prefix }`), `{ numeric = [">", 0, "<=", 5] }` and
//! `{ exists = true|false }`. `$or` and the `wildcard` and `cidr` matchers are refused with a
//! clear error rather than half-supported.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

/// One filter pattern: its text as written, and the compiled form that matches records.
#[derive(Debug, Clone, PartialEq)]
pub struct FilterPattern {
    source: Value,
    root: Fields,
}

// Patterns are made of strings, finite numbers and booleans only, so equality is total.
impl Eq for FilterPattern {}

#[derive(Debug, Clone, PartialEq)]
struct Fields(Vec<(String, Node)>);

#[derive(Debug, Clone, PartialEq)]
enum Node {
    Fields(Fields),
    AnyOf(Vec<Matcher>),
}

#[derive(Debug, Clone, PartialEq)]
enum Matcher {
    Equals(Value),
    Prefix(String),
    Suffix(String),
    EqualsIgnoreCase(String),
    AnythingBut(Vec<Value>),
    AnythingButPrefix(String),
    Numeric(Vec<(Comparison, f64)>),
    Exists(bool),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Comparison {
    Less,
    LessOrEqual,
    Equal,
    GreaterOrEqual,
    Greater,
}

impl FilterPattern {
    /// Compile a pattern; the error names the field and what is wrong with it.
    pub fn parse(source: Value) -> Result<Self, String> {
        let root = fields(&source, "")?;
        Ok(FilterPattern { source, root })
    }

    /// Whether `record` (an SQS record, its body parsed when it is JSON) matches.
    pub fn matches(&self, record: &Value) -> bool {
        self.root.matches(record)
    }
}

fn fields(value: &Value, at: &str) -> Result<Fields, String> {
    let Value::Object(map) = value else {
        return Err(format!(
            "{}: a pattern is a table of fields, e.g. {{ body = {{ kind = [\"signup\"] }} }}",
            place(at)
        ));
    };
    if map.is_empty() {
        return Err(format!(
            "{}: an empty table matches everything; name at least one field",
            place(at)
        ));
    }
    let mut out = Vec::new();
    for (key, v) in map {
        let here = if at.is_empty() {
            key.clone()
        } else {
            format!("{at}.{key}")
        };
        if key.starts_with('$') {
            return Err(format!("{here}: {key} is not supported; list several patterns in filter instead (a message passes when any matches)"));
        }
        let node = match v {
            Value::Object(_) => Node::Fields(fields(v, &here)?),
            Value::Array(list) if !list.is_empty() => Node::AnyOf(
                list.iter()
                    .map(|m| matcher(m, &here))
                    .collect::<Result<_, _>>()?,
            ),
            _ => {
                return Err(format!(
                    "{here}: a field takes a table or a non-empty list of matchers, e.g. [\"signup\"] or [{{ prefix = \"sign\" }}]"
                ))
            }
        };
        out.push((key.clone(), node));
    }
    Ok(Fields(out))
}

fn place(at: &str) -> String {
    if at.is_empty() {
        "the pattern".into()
    } else {
        at.to_string()
    }
}

fn text(v: &Value, at: &str, op: &str) -> Result<String, String> {
    v.as_str()
        .map(str::to_string)
        .ok_or_else(|| format!("{at}: {op} takes a string"))
}

fn scalar(v: &Value, at: &str) -> Result<Value, String> {
    match v {
        Value::String(_) | Value::Number(_) | Value::Bool(_) | Value::Null => Ok(v.clone()),
        _ => Err(format!("{at}: expected a string or a number, got {v}")),
    }
}

fn matcher(m: &Value, at: &str) -> Result<Matcher, String> {
    let Value::Object(op) = m else {
        return scalar(m, at).map(Matcher::Equals);
    };
    let mut entries = op.iter();
    let (Some((name, arg)), None) = (entries.next(), entries.next()) else {
        return Err(format!(
            "{at}: a matcher table has exactly one operator, e.g. {{ prefix = \"a\" }}"
        ));
    };
    Ok(match name.as_str() {
        "prefix" => Matcher::Prefix(text(arg, at, name)?),
        "suffix" => Matcher::Suffix(text(arg, at, name)?),
        "equals-ignore-case" => Matcher::EqualsIgnoreCase(text(arg, at, name)?.to_lowercase()),
        "exists" => Matcher::Exists(
            arg.as_bool()
                .ok_or_else(|| format!("{at}: exists takes true or false"))?,
        ),
        "anything-but" => match arg {
            Value::Array(list) if !list.is_empty() => Matcher::AnythingBut(
                list.iter()
                    .map(|v| scalar(v, at))
                    .collect::<Result<_, _>>()?,
            ),
            Value::Object(inner) => match inner.get("prefix") {
                Some(p) if inner.len() == 1 => Matcher::AnythingButPrefix(text(p, at, "prefix")?),
                _ => return Err(format!("{at}: anything-but takes a value, a list of values or {{ prefix = \"…\" }}")),
            },
            v => Matcher::AnythingBut(vec![scalar(v, at)?]),
        },
        "numeric" => Matcher::Numeric(numeric(arg, at)?),
        other => {
            return Err(format!(
                "{at}: unknown matcher {other:?}; use prefix, suffix, equals-ignore-case, anything-but, numeric or exists"
            ))
        }
    })
}

fn numeric(arg: &Value, at: &str) -> Result<Vec<(Comparison, f64)>, String> {
    let bad = || format!("{at}: numeric takes one or two comparisons, e.g. [\">\", 0, \"<=\", 5]");
    let list = arg.as_array().ok_or_else(bad)?;
    if list.is_empty() || list.len() % 2 != 0 || list.len() > 4 {
        return Err(bad());
    }
    list.chunks(2)
        .map(|pair| {
            let op = match pair[0].as_str() {
                Some("<") => Comparison::Less,
                Some("<=") => Comparison::LessOrEqual,
                Some("=") => Comparison::Equal,
                Some(">=") => Comparison::GreaterOrEqual,
                Some(">") => Comparison::Greater,
                _ => return Err(bad()),
            };
            let n = pair[1].as_f64().ok_or_else(bad)?;
            Ok((op, n))
        })
        .collect()
}

impl Fields {
    fn matches(&self, value: &Value) -> bool {
        match value {
            Value::Array(items) => items.iter().any(|v| self.matches(v)),
            Value::Object(map) => self.0.iter().all(|(key, node)| node.matches(map.get(key))),
            _ => false,
        }
    }
}

impl Node {
    fn matches(&self, value: Option<&Value>) -> bool {
        match self {
            Node::Fields(f) => value.is_some_and(|v| f.matches(v)),
            Node::AnyOf(matchers) => matchers.iter().any(|m| m.matches(value)),
        }
    }
}

fn same(a: &Value, b: &Value) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

impl Matcher {
    fn matches(&self, value: Option<&Value>) -> bool {
        let Some(value) = value else {
            return *self == Matcher::Exists(false);
        };
        if let Matcher::Exists(wanted) = self {
            return *wanted;
        }
        if let Value::Array(items) = value {
            return items.iter().any(|v| self.matches_one(v));
        }
        self.matches_one(value)
    }

    fn matches_one(&self, value: &Value) -> bool {
        let s = value.as_str();
        match self {
            Matcher::Equals(want) => same(value, want),
            Matcher::Prefix(p) => s.is_some_and(|s| s.starts_with(p.as_str())),
            Matcher::Suffix(p) => s.is_some_and(|s| s.ends_with(p.as_str())),
            Matcher::EqualsIgnoreCase(p) => s.is_some_and(|s| s.to_lowercase() == *p),
            Matcher::AnythingBut(list) => !list.iter().any(|v| same(value, v)),
            Matcher::AnythingButPrefix(p) => s.is_some_and(|s| !s.starts_with(p.as_str())),
            Matcher::Numeric(bounds) => value.as_f64().is_some_and(|n| {
                bounds.iter().all(|(op, b)| match op {
                    Comparison::Less => n < *b,
                    Comparison::LessOrEqual => n <= *b,
                    Comparison::Equal => n == *b,
                    Comparison::GreaterOrEqual => n >= *b,
                    Comparison::Greater => n > *b,
                })
            }),
            Matcher::Exists(_) => true,
        }
    }
}

impl<'de> Deserialize<'de> for FilterPattern {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let source = Value::deserialize(d)?;
        FilterPattern::parse(source).map_err(serde::de::Error::custom)
    }
}

impl Serialize for FilterPattern {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.source.serialize(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pattern(v: Value) -> FilterPattern {
        FilterPattern::parse(v).unwrap()
    }

    #[test]
    fn values_prefixes_and_nesting_match_as_lambda_documents() {
        let p = pattern(
            json!({ "body": { "kind": ["signup", "login"], "user": { "plan": [{ "prefix": "pro" }] } } }),
        );
        assert!(
            p.matches(&json!({ "body": { "kind": "signup", "user": { "plan": "pro-annual" } } }))
        );
        assert!(!p.matches(&json!({ "body": { "kind": "signup", "user": { "plan": "free" } } })));
        assert!(!p.matches(&json!({ "body": { "kind": "logout", "user": { "plan": "pro" } } })));
        assert!(
            !p.matches(&json!({ "body": "not json" })),
            "a plain body has no fields"
        );
        // A field holding a list matches when any element does.
        let tags = pattern(json!({ "body": { "tags": ["urgent"] } }));
        assert!(tags.matches(&json!({ "body": { "tags": ["low", "urgent"] } })));
        assert!(!tags.matches(&json!({ "body": { "tags": ["low"] } })));
    }

    #[test]
    fn operators() {
        let num = pattern(json!({ "body": { "n": [{ "numeric": [">", 0, "<=", 5] }] } }));
        assert!(num.matches(&json!({ "body": { "n": 5 } })));
        assert!(!num.matches(&json!({ "body": { "n": 0 } })));
        assert!(
            !num.matches(&json!({ "body": { "n": "3" } })),
            "strings are not numbers"
        );
        let but = pattern(json!({ "body": { "state": [{ "anything-but": ["done", "failed"] }] } }));
        assert!(but.matches(&json!({ "body": { "state": "new" } })));
        assert!(!but.matches(&json!({ "body": { "state": "done" } })));
        assert!(
            !but.matches(&json!({ "body": {} })),
            "a missing field is not anything"
        );
        let exists = pattern(json!({ "body": { "email": [{ "exists": false }] } }));
        assert!(exists.matches(&json!({ "body": { "name": "ada" } })));
        assert!(!exists.matches(&json!({ "body": { "email": "a@b" } })));
        let case = pattern(
            json!({ "attributes": { "MessageGroupId": [{ "equals-ignore-case": "EU" }] } }),
        );
        assert!(case.matches(&json!({ "attributes": { "MessageGroupId": "eu" } })));
        let suffix = pattern(json!({ "body": [{ "suffix": ".png" }] }));
        assert!(
            suffix.matches(&json!({ "body": "cat.png" })),
            "a plain body matches as a string"
        );
        assert!(pattern(json!({ "body": { "n": [3] } })).matches(&json!({ "body": { "n": 3.0 } })));
    }

    #[test]
    fn malformed_patterns_are_refused_with_the_field_named() {
        for (bad, says) in [
            (json!(["x"]), "a pattern is a table"),
            (json!({}), "empty table"),
            (json!({ "body": "x" }), "body: a field takes"),
            (json!({ "body": { "n": [] } }), "body.n"),
            (
                json!({ "body": { "n": [{ "wildcard": "a*" }] } }),
                "unknown matcher \"wildcard\"",
            ),
            (
                json!({ "body": { "n": [{ "numeric": [">"] }] } }),
                "numeric takes",
            ),
            (json!({ "$or": [] }), "$or is not supported"),
            (
                json!({ "body": { "n": [{ "prefix": 1 }] } }),
                "prefix takes a string",
            ),
        ] {
            let err = FilterPattern::parse(bad.clone()).unwrap_err();
            assert!(err.contains(says), "{bad}: {err}");
        }
    }
}
