//! `AddPermission` / `RemovePermission`: edits of a queue's `Policy` document, one statement per
//! label, written the way SQS writes them. The embedded engine has a single account, so the
//! policy is stored and reported but grants nothing beyond what every caller already has.

use serde_json::{json, Value};

use crate::error::{QueueError, QueueResult};

/// The actions a permission may name (batch variants are implied by their single forms).
const GRANTABLE_ACTIONS: &[&str] = &[
    "*",
    "ChangeMessageVisibility",
    "DeleteMessage",
    "GetQueueAttributes",
    "GetQueueUrl",
    "ListDeadLetterSourceQueues",
    "PurgeQueue",
    "ReceiveMessage",
    "SendMessage",
];

/// SQS allows at most this many actions in one AddPermission call.
const MAX_ACTIONS: usize = 7;

/// The policy after adding a statement labelled `label`.
pub fn add_permission(
    policy: Option<&str>,
    queue_arn: &str,
    label: &str,
    accounts: &[String],
    actions: &[String],
) -> QueueResult<String> {
    let label_ok = !label.is_empty()
        && label.len() <= 80
        && label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !label_ok {
        return Err(QueueError::invalid(format!(
            "the label {label:?} is invalid: use 1 to 80 characters of A-Z, a-z, 0-9, '-' and '_'"
        )));
    }
    if actions.len() > MAX_ACTIONS {
        return Err(QueueError::OverLimit(format!(
            "{} actions were given; at most {MAX_ACTIONS} are allowed per permission",
            actions.len()
        )));
    }
    if let Some(bad) = actions
        .iter()
        .find(|a| !GRANTABLE_ACTIONS.contains(&a.as_str()))
    {
        return Err(QueueError::invalid(format!(
            "the action {bad:?} cannot be granted: use one of {}",
            GRANTABLE_ACTIONS.join(", ")
        )));
    }
    if let Some(bad) = accounts
        .iter()
        .find(|a| a.len() != 12 || !a.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(QueueError::invalid(format!(
            "the account id {bad:?} is invalid: AWS account ids are 12 digits"
        )));
    }
    let mut document = parse(policy, queue_arn)?;
    let statements = statements(&mut document)?;
    if statements.iter().any(|s| s["Sid"] == label) {
        return Err(QueueError::invalid(format!(
            "the label {label:?} already exists on this queue; remove it first or choose another"
        )));
    }
    let principals: Vec<String> = accounts
        .iter()
        .map(|a| format!("arn:aws:iam::{a}:root"))
        .collect();
    let actions: Vec<String> = actions.iter().map(|a| format!("SQS:{a}")).collect();
    statements.push(json!({
        "Sid": label,
        "Effect": "Allow",
        "Principal": {"AWS": principals},
        "Action": actions,
        "Resource": queue_arn,
    }));
    Ok(document.to_string())
}

/// The policy after removing the statement labelled `label`; `None` when none remain.
pub fn remove_permission(
    policy: Option<&str>,
    queue_arn: &str,
    label: &str,
) -> QueueResult<Option<String>> {
    let mut document = parse(policy, queue_arn)?;
    let statements = statements(&mut document)?;
    let before = statements.len();
    statements.retain(|s| s["Sid"] != label);
    if statements.len() == before {
        return Err(QueueError::invalid(format!(
            "the queue has no permission labelled {label:?}; list its Policy attribute to see the labels"
        )));
    }
    Ok((!statements.is_empty()).then(|| document.to_string()))
}

fn parse(policy: Option<&str>, queue_arn: &str) -> QueueResult<Value> {
    match policy {
        Some(text) => serde_json::from_str(text)
            .map_err(|e| QueueError::Internal(format!("the stored Policy is not JSON: {e}"))),
        None => Ok(json!({
            "Version": "2012-10-17",
            "Id": format!("{queue_arn}/SQSDefaultPolicy"),
            "Statement": [],
        })),
    }
}

fn statements(document: &mut Value) -> QueueResult<&mut Vec<Value>> {
    let Value::Object(map) = document else {
        return Err(QueueError::invalid(
            "the queue's Policy is not a JSON object; set a valid Policy before adding permissions",
        ));
    };
    // A policy written by hand may hold a single statement object instead of a list.
    let entry = map
        .entry("Statement")
        .or_insert_with(|| Value::Array(Vec::new()));
    if entry.is_object() {
        *entry = Value::Array(vec![entry.take()]);
    }
    entry.as_array_mut().ok_or_else(|| {
        QueueError::invalid("the queue's Policy has a Statement that is not a list of statements")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARN: &str = "arn:aws:sqs:us-east-1:000000000000:q";

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn adds_and_removes_labelled_statements() {
        let p = add_permission(
            None,
            ARN,
            "send",
            &strings(&["111122223333"]),
            &strings(&["SendMessage"]),
        )
        .unwrap();
        let doc: Value = serde_json::from_str(&p).unwrap();
        assert_eq!(doc["Statement"][0]["Sid"], "send");
        assert_eq!(doc["Statement"][0]["Action"][0], "SQS:SendMessage");
        assert_eq!(
            doc["Statement"][0]["Principal"]["AWS"][0],
            "arn:aws:iam::111122223333:root"
        );
        let twice = add_permission(
            Some(&p),
            ARN,
            "send",
            &strings(&["111122223333"]),
            &strings(&["*"]),
        );
        assert!(matches!(twice, Err(QueueError::InvalidParameterValue(_))));
        let p2 = add_permission(
            Some(&p),
            ARN,
            "recv",
            &strings(&["111122223333"]),
            &strings(&["ReceiveMessage"]),
        )
        .unwrap();
        let p3 = remove_permission(Some(&p2), ARN, "send").unwrap().unwrap();
        assert!(!p3.contains("\"send\""));
        assert_eq!(remove_permission(Some(&p3), ARN, "recv").unwrap(), None);
        assert!(remove_permission(Some(&p3), ARN, "nope").is_err());
    }

    #[test]
    fn refuses_bad_labels_actions_and_accounts() {
        let ok = strings(&["111122223333"]);
        let send = strings(&["SendMessage"]);
        assert!(add_permission(None, ARN, "bad label", &ok, &send).is_err());
        assert!(add_permission(None, ARN, "l", &strings(&["12"]), &send).is_err());
        assert!(add_permission(None, ARN, "l", &ok, &strings(&["DeleteQueue"])).is_err());
        let many = strings(&["SendMessage"; 8]);
        assert!(matches!(
            add_permission(None, ARN, "l", &ok, &many),
            Err(QueueError::OverLimit(_))
        ));
    }
}
