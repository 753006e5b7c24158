//! Typed reads of a request's parameters. Both protocols arrive here as one JSON object (the
//! query protocol is converted first), so each action reads its members the same way and a
//! wrongly typed member is the same clear error whichever protocol sent it.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::error::ApiError;

/// A request's (or a batch entry's) members.
#[derive(Debug, Clone, Copy)]
pub struct Input<'a> {
    members: &'a Map<String, Value>,
}

static EMPTY: std::sync::LazyLock<Map<String, Value>> = std::sync::LazyLock::new(Map::new);

impl<'a> Input<'a> {
    pub fn new(value: &'a Value) -> Result<Self, ApiError> {
        match value {
            Value::Object(members) => Ok(Input { members }),
            Value::Null => Ok(Input { members: &EMPTY }),
            _ => Err(ApiError::malformed(
                "the request body must be a JSON object of the action's parameters",
            )),
        }
    }

    fn get(&self, name: &str) -> Option<&'a Value> {
        self.members.get(name).filter(|v| !v.is_null())
    }

    pub fn string(&self, name: &str) -> Result<Option<&'a str>, ApiError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(wrong_type(name, "a string")),
        }
    }

    pub fn required(&self, name: &str) -> Result<&'a str, ApiError> {
        self.string(name)?
            .ok_or_else(|| ApiError::missing_parameter(name))
    }

    /// A non-negative integer; the query protocol sends numbers as text, so text is accepted too.
    pub fn integer(&self, name: &str) -> Result<Option<u32>, ApiError> {
        let invalid = |shown: &str| {
            ApiError::invalid_parameter(format!(
                "value {shown} for parameter {name} is invalid: it must be a non-negative integer"
            ))
        };
        match self.get(name) {
            None => Ok(None),
            Some(Value::Number(n)) => match n.as_u64() {
                Some(v) => u32::try_from(v)
                    .map(Some)
                    .map_err(|_| invalid(&n.to_string())),
                None => Err(invalid(&n.to_string())),
            },
            Some(Value::String(s)) => s.trim().parse::<u32>().map(Some).map_err(|_| invalid(s)),
            Some(_) => Err(wrong_type(name, "an integer")),
        }
    }

    pub fn strings(&self, name: &str) -> Result<Vec<String>, ApiError> {
        match self.get(name) {
            None => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| match v {
                    Value::String(s) => Ok(s.clone()),
                    _ => Err(wrong_type(name, "a list of strings")),
                })
                .collect(),
            Some(_) => Err(wrong_type(name, "a list of strings")),
        }
    }

    pub fn string_map(&self, name: &str) -> Result<BTreeMap<String, String>, ApiError> {
        match self.get(name) {
            None => Ok(BTreeMap::new()),
            Some(Value::Object(map)) => map
                .iter()
                .map(|(k, v)| match v {
                    Value::String(s) => Ok((k.clone(), s.clone())),
                    _ => Err(wrong_type(name, "a map of strings to strings")),
                })
                .collect(),
            Some(_) => Err(wrong_type(name, "a map of strings to strings")),
        }
    }

    /// A map whose values are objects (message attributes).
    pub fn object_map(&self, name: &str) -> Result<Vec<(&'a String, Input<'a>)>, ApiError> {
        match self.get(name) {
            None => Ok(Vec::new()),
            Some(Value::Object(map)) => map
                .iter()
                .map(|(k, v)| match v {
                    Value::Object(members) => Ok((k, Input { members })),
                    _ => Err(wrong_type(name, "a map of names to objects")),
                })
                .collect(),
            Some(_) => Err(wrong_type(name, "a map of names to objects")),
        }
    }

    /// A list of objects (batch entries).
    pub fn objects(&self, name: &str) -> Result<Vec<Input<'a>>, ApiError> {
        match self.get(name) {
            None => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| match v {
                    Value::Object(members) => Ok(Input { members }),
                    _ => Err(wrong_type(name, "a list of objects")),
                })
                .collect(),
            Some(_) => Err(wrong_type(name, "a list of objects")),
        }
    }
}

fn wrong_type(name: &str, expected: &str) -> ApiError {
    ApiError::malformed(format!("the parameter {name} must be {expected}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_typed_members_and_names_the_wrong_one() {
        let v = json!({"QueueUrl": "u", "DelaySeconds": "5", "MaxResults": 3, "Bad": 7, "Neg": -1});
        let input = Input::new(&v).unwrap();
        assert_eq!(input.required("QueueUrl").unwrap(), "u");
        assert_eq!(input.integer("DelaySeconds").unwrap(), Some(5));
        assert_eq!(input.integer("MaxResults").unwrap(), Some(3));
        assert_eq!(input.integer("Missing").unwrap(), None);
        let e = input.string("Bad").unwrap_err();
        assert!(e.message.contains("Bad"), "{e}");
        assert_eq!(
            input.integer("Neg").unwrap_err().code,
            "InvalidParameterValue"
        );
        assert_eq!(input.required("Nope").unwrap_err().code, "MissingParameter");
        assert_eq!(
            Input::new(&json!([1])).unwrap_err().code,
            "SerializationException"
        );
    }
}
