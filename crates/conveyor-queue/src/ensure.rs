//! Idempotent provisioning through the `Queue` trait: make a queue exist with the given
//! attributes, whichever implementation holds it.

use std::collections::BTreeMap;

use crate::{Queue, QueueError, QueueInfo, QueueResult};

/// What `ensure_queue` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ensured {
    Created,
    Updated,
    Unchanged,
}

impl Ensured {
    pub fn as_str(self) -> &'static str {
        match self {
            Ensured::Created => "created",
            Ensured::Updated => "updated",
            Ensured::Unchanged => "unchanged",
        }
    }
}

/// Create `name` with `attributes` and `tags`, or bring an existing queue's attributes to them.
/// A queue's type cannot change: `FifoQueue` is only given at creation.
pub async fn ensure_queue(
    queue: &dyn Queue,
    name: &str,
    attributes: &BTreeMap<String, String>,
    tags: &BTreeMap<String, String>,
) -> QueueResult<(QueueInfo, Ensured)> {
    let info = match queue.get_queue(name).await {
        Err(QueueError::QueueDoesNotExist { .. }) => {
            let info = queue.create_queue(name, attributes, tags).await?;
            return Ok((info, Ensured::Created));
        }
        other => other?,
    };
    let current = queue.get_attributes(name).await?;
    let mut wanted = attributes.clone();
    wanted.remove("FifoQueue");
    let stale: BTreeMap<String, String> = wanted
        .into_iter()
        .filter(|(k, v)| !current.get(k).is_some_and(|c| same_value(c, v)))
        .collect();
    let mut outcome = Ensured::Unchanged;
    if !stale.is_empty() {
        queue.set_attributes(name, &stale).await?;
        outcome = Ensured::Updated;
    }
    let current_tags = queue.list_tags(name).await?;
    let missing_tags: BTreeMap<String, String> = tags
        .iter()
        .filter(|(k, v)| current_tags.get(*k) != Some(*v))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if !missing_tags.is_empty() {
        queue.tag(name, &missing_tags).await?;
        outcome = Ensured::Updated;
    }
    Ok((info, outcome))
}

/// Attribute values compare as text, or as JSON when both are JSON objects (services print
/// `RedrivePolicy` with different spacing, and some quote `maxReceiveCount`).
fn same_value(a: &str, b: &str) -> bool {
    if a == b {
        return true;
    }
    let object = |s: &str| -> Option<BTreeMap<String, String>> {
        let v: serde_json::Value = serde_json::from_str(s).ok()?;
        Some(
            v.as_object()?
                .iter()
                .map(|(k, v)| {
                    let text = v
                        .as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| v.to_string());
                    (k.clone(), text)
                })
                .collect(),
        )
    };
    matches!((object(a), object(b)), (Some(x), Some(y)) if x == y)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redrive_policies_compare_by_meaning() {
        assert!(same_value(
            r#"{"deadLetterTargetArn":"arn:x","maxReceiveCount":3}"#,
            r#"{"deadLetterTargetArn": "arn:x", "maxReceiveCount": "3"}"#
        ));
        assert!(!same_value(
            r#"{"deadLetterTargetArn":"arn:x","maxReceiveCount":3}"#,
            r#"{"deadLetterTargetArn":"arn:x","maxReceiveCount":2}"#
        ));
        assert!(same_value("30", "30"));
        assert!(!same_value("30", "31"));
    }
}
