//! Queue attributes: the typed form the engine keeps, parsed from and printed to the string map
//! SQS callers use, with SQS's ranges and cross-attribute rules.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::{QueueError, QueueResult};

/// SQS raised both the default and the ceiling from 256 KiB to 1 MiB in August 2025.
pub const DEFAULT_MAX_MESSAGE_SIZE: u32 = 1_048_576;
pub const MAX_MESSAGE_SIZE_LIMIT: u32 = 1_048_576;
pub const MAX_VISIBILITY_TIMEOUT: u32 = 43_200;
pub const MAX_DELAY_SECONDS: u32 = 900;
pub const MAX_WAIT_SECONDS: u32 = 20;
pub const MIN_RETENTION: u32 = 60;
pub const MAX_RETENTION: u32 = 1_209_600;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DeduplicationScope {
    Queue,
    MessageGroup,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum FifoThroughputLimit {
    PerQueue,
    PerMessageGroupId,
}

/// `RedrivePolicy`: after `max_receive_count` receives, the next receive moves the message to the
/// dead-letter queue instead of delivering it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RedrivePolicy {
    pub dead_letter_target_arn: String,
    pub max_receive_count: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RedrivePermission {
    AllowAll,
    DenyAll,
    ByQueue,
}

/// `RedriveAllowPolicy`: which source queues may use this queue as their dead-letter queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RedriveAllowPolicy {
    pub permission: RedrivePermission,
    pub source_queue_arns: Vec<String>,
}

impl RedriveAllowPolicy {
    pub fn allows(&self, source_arn: &str) -> bool {
        match self.permission {
            RedrivePermission::AllowAll => true,
            RedrivePermission::DenyAll => false,
            RedrivePermission::ByQueue => self.source_queue_arns.iter().any(|a| a == source_arn),
        }
    }
}

/// Every settable attribute of a queue, with SQS's defaults.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueConfig {
    pub fifo: bool,
    pub delay_seconds: u32,
    pub maximum_message_size: u32,
    pub message_retention_period: u32,
    pub receive_message_wait_time_seconds: u32,
    pub visibility_timeout: u32,
    pub redrive_policy: Option<RedrivePolicy>,
    pub redrive_allow_policy: Option<RedriveAllowPolicy>,
    pub content_based_deduplication: bool,
    pub deduplication_scope: DeduplicationScope,
    pub fifo_throughput_limit: FifoThroughputLimit,
    pub kms_master_key_id: Option<String>,
    pub kms_data_key_reuse_period_seconds: u32,
    pub sqs_managed_sse_enabled: bool,
    pub policy: Option<String>,
}

impl Default for QueueConfig {
    fn default() -> Self {
        QueueConfig {
            fifo: false,
            delay_seconds: 0,
            maximum_message_size: DEFAULT_MAX_MESSAGE_SIZE,
            message_retention_period: 345_600,
            receive_message_wait_time_seconds: 0,
            visibility_timeout: 30,
            redrive_policy: None,
            redrive_allow_policy: None,
            content_based_deduplication: false,
            deduplication_scope: DeduplicationScope::Queue,
            fifo_throughput_limit: FifoThroughputLimit::PerQueue,
            kms_master_key_id: None,
            kms_data_key_reuse_period_seconds: 300,
            sqs_managed_sse_enabled: true,
            policy: None,
        }
    }
}

/// Names of the settable attributes, in the order `GetQueueAttributes All` prints them.
pub const SETTABLE_ATTRIBUTES: &[&str] = &[
    "DelaySeconds",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "ReceiveMessageWaitTimeSeconds",
    "VisibilityTimeout",
    "RedrivePolicy",
    "RedriveAllowPolicy",
    "FifoQueue",
    "ContentBasedDeduplication",
    "DeduplicationScope",
    "FifoThroughputLimit",
    "KmsMasterKeyId",
    "KmsDataKeyReusePeriodSeconds",
    "SqsManagedSseEnabled",
    "Policy",
];

/// Read-only attributes the engine computes.
pub const COMPUTED_ATTRIBUTES: &[&str] = &[
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed",
    "CreatedTimestamp",
    "LastModifiedTimestamp",
    "QueueArn",
];

const FIFO_ONLY: &[&str] = &[
    "ContentBasedDeduplication",
    "DeduplicationScope",
    "FifoThroughputLimit",
];

impl QueueConfig {
    /// The configuration for `CreateQueue name attributes`.
    pub fn for_new_queue(name: &str, attributes: &BTreeMap<String, String>) -> QueueResult<Self> {
        let fifo_name = name.ends_with(".fifo");
        let fifo_attr = match attributes.get("FifoQueue") {
            Some(v) => parse_bool("FifoQueue", v)?,
            None => false,
        };
        if fifo_attr && !fifo_name {
            return Err(QueueError::invalid(
                "the name of a FIFO queue must end with the .fifo suffix",
            ));
        }
        if fifo_name && !fifo_attr {
            return Err(QueueError::invalid(format!(
                "the queue name {name:?} ends with .fifo, which is reserved for FIFO queues; set the attribute FifoQueue=true or rename the queue"
            )));
        }
        let mut config = QueueConfig {
            fifo: fifo_name,
            ..QueueConfig::default()
        };
        config.apply(attributes, true)?;
        Ok(config)
    }

    /// Apply `SetQueueAttributes`. `FifoQueue` may only be given at creation.
    pub fn apply(
        &mut self,
        attributes: &BTreeMap<String, String>,
        creating: bool,
    ) -> QueueResult<()> {
        let mut next = self.clone();
        for (name, value) in attributes {
            if !self.fifo && FIFO_ONLY.contains(&name.as_str()) {
                return Err(QueueError::InvalidAttributeName(format!(
                    "the attribute {name} applies only to FIFO queues"
                )));
            }
            match name.as_str() {
                "DelaySeconds" => {
                    next.delay_seconds = parse_range(name, value, 0, MAX_DELAY_SECONDS)?
                }
                "MaximumMessageSize" => {
                    next.maximum_message_size =
                        parse_range(name, value, 1024, MAX_MESSAGE_SIZE_LIMIT)?
                }
                "MessageRetentionPeriod" => {
                    next.message_retention_period =
                        parse_range(name, value, MIN_RETENTION, MAX_RETENTION)?
                }
                "ReceiveMessageWaitTimeSeconds" => {
                    next.receive_message_wait_time_seconds =
                        parse_range(name, value, 0, MAX_WAIT_SECONDS)?
                }
                "VisibilityTimeout" => {
                    next.visibility_timeout = parse_range(name, value, 0, MAX_VISIBILITY_TIMEOUT)?
                }
                "RedrivePolicy" => next.redrive_policy = parse_redrive_policy(value)?,
                "RedriveAllowPolicy" => {
                    next.redrive_allow_policy = parse_redrive_allow_policy(value)?
                }
                "FifoQueue" => {
                    if !creating {
                        return Err(QueueError::InvalidAttributeName(
                            "FifoQueue can only be set when the queue is created".into(),
                        ));
                    }
                }
                "ContentBasedDeduplication" => {
                    next.content_based_deduplication = parse_bool(name, value)?
                }
                "DeduplicationScope" => {
                    next.deduplication_scope = match value.as_str() {
                        "queue" => DeduplicationScope::Queue,
                        "messageGroup" => DeduplicationScope::MessageGroup,
                        _ => return Err(bad_value(name, value, "use queue or messageGroup")),
                    }
                }
                "FifoThroughputLimit" => {
                    next.fifo_throughput_limit = match value.as_str() {
                        "perQueue" => FifoThroughputLimit::PerQueue,
                        "perMessageGroupId" => FifoThroughputLimit::PerMessageGroupId,
                        _ => {
                            return Err(bad_value(name, value, "use perQueue or perMessageGroupId"))
                        }
                    }
                }
                "KmsMasterKeyId" => next.kms_master_key_id = non_empty(value),
                "KmsDataKeyReusePeriodSeconds" => {
                    next.kms_data_key_reuse_period_seconds = parse_range(name, value, 60, 86_400)?
                }
                "SqsManagedSseEnabled" => next.sqs_managed_sse_enabled = parse_bool(name, value)?,
                "Policy" => {
                    if !value.is_empty() {
                        serde_json::from_str::<serde_json::Value>(value).map_err(|e| {
                            bad_value(name, value, &format!("it is not JSON ({e})"))
                        })?;
                    }
                    next.policy = non_empty(value);
                }
                _ => {
                    return Err(QueueError::InvalidAttributeName(format!(
                        "unknown attribute {name}; settable attributes are {}",
                        SETTABLE_ATTRIBUTES.join(", ")
                    )))
                }
            }
        }
        if next.fifo
            && next.fifo_throughput_limit == FifoThroughputLimit::PerMessageGroupId
            && next.deduplication_scope == DeduplicationScope::Queue
        {
            return Err(QueueError::InvalidAttributeValue(
                "FifoThroughputLimit=perMessageGroupId requires DeduplicationScope=messageGroup"
                    .into(),
            ));
        }
        if next.kms_master_key_id.is_some()
            && next.sqs_managed_sse_enabled
            && attributes.contains_key("SqsManagedSseEnabled")
        {
            return Err(QueueError::InvalidAttributeValue(
                "a queue uses either SQS-managed encryption or a KMS key, not both".into(),
            ));
        }
        if next.kms_master_key_id.is_some() {
            next.sqs_managed_sse_enabled = false;
        }
        *self = next;
        Ok(())
    }

    /// The settable attributes as SQS prints them.
    pub fn to_attribute_map(&self) -> BTreeMap<String, String> {
        let mut map = BTreeMap::new();
        map.insert("DelaySeconds".into(), self.delay_seconds.to_string());
        map.insert(
            "MaximumMessageSize".into(),
            self.maximum_message_size.to_string(),
        );
        map.insert(
            "MessageRetentionPeriod".into(),
            self.message_retention_period.to_string(),
        );
        map.insert(
            "ReceiveMessageWaitTimeSeconds".into(),
            self.receive_message_wait_time_seconds.to_string(),
        );
        map.insert(
            "VisibilityTimeout".into(),
            self.visibility_timeout.to_string(),
        );
        if let Some(p) = &self.redrive_policy {
            map.insert(
                "RedrivePolicy".into(),
                serde_json::json!({"deadLetterTargetArn": p.dead_letter_target_arn, "maxReceiveCount": p.max_receive_count})
                    .to_string(),
            );
        }
        if let Some(p) = &self.redrive_allow_policy {
            let permission = match p.permission {
                RedrivePermission::AllowAll => "allowAll",
                RedrivePermission::DenyAll => "denyAll",
                RedrivePermission::ByQueue => "byQueue",
            };
            let mut value = serde_json::json!({"redrivePermission": permission});
            if p.permission == RedrivePermission::ByQueue {
                value["sourceQueueArns"] = serde_json::json!(p.source_queue_arns);
            }
            map.insert("RedriveAllowPolicy".into(), value.to_string());
        }
        if self.fifo {
            map.insert("FifoQueue".into(), "true".into());
            map.insert(
                "ContentBasedDeduplication".into(),
                self.content_based_deduplication.to_string(),
            );
            map.insert(
                "DeduplicationScope".into(),
                match self.deduplication_scope {
                    DeduplicationScope::Queue => "queue",
                    DeduplicationScope::MessageGroup => "messageGroup",
                }
                .into(),
            );
            map.insert(
                "FifoThroughputLimit".into(),
                match self.fifo_throughput_limit {
                    FifoThroughputLimit::PerQueue => "perQueue",
                    FifoThroughputLimit::PerMessageGroupId => "perMessageGroupId",
                }
                .into(),
            );
        }
        if let Some(k) = &self.kms_master_key_id {
            map.insert("KmsMasterKeyId".into(), k.clone());
            map.insert(
                "KmsDataKeyReusePeriodSeconds".into(),
                self.kms_data_key_reuse_period_seconds.to_string(),
            );
        }
        map.insert(
            "SqsManagedSseEnabled".into(),
            self.sqs_managed_sse_enabled.to_string(),
        );
        if let Some(p) = &self.policy {
            map.insert("Policy".into(), p.clone());
        }
        map
    }

    /// Whether `CreateQueue` on an existing queue with these attributes is a harmless repeat:
    /// every attribute the caller gave must equal what the queue has.
    pub fn matches_requested(&self, name: &str, requested: &BTreeMap<String, String>) -> bool {
        match QueueConfig::for_new_queue(name, requested) {
            Ok(wanted) => {
                let have = self.to_attribute_map();
                let want = wanted.to_attribute_map();
                requested
                    .keys()
                    .all(|k| k == "FifoQueue" || have.get(k) == want.get(k))
            }
            Err(_) => false,
        }
    }
}

fn non_empty(value: &str) -> Option<String> {
    (!value.is_empty()).then(|| value.to_string())
}

fn bad_value(name: &str, value: &str, hint: &str) -> QueueError {
    QueueError::InvalidAttributeValue(format!(
        "invalid value {value:?} for the attribute {name}: {hint}"
    ))
}

fn parse_range(name: &str, value: &str, min: u32, max: u32) -> QueueResult<u32> {
    match value.trim().parse::<u64>() {
        Ok(n) if n >= min as u64 && n <= max as u64 => Ok(n as u32),
        _ => Err(bad_value(
            name,
            value,
            &format!("use a whole number from {min} to {max}"),
        )),
    }
}

fn parse_bool(name: &str, value: &str) -> QueueResult<bool> {
    match value.to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(bad_value(name, value, "use true or false")),
    }
}

fn parse_redrive_policy(value: &str) -> QueueResult<Option<RedrivePolicy>> {
    if value.is_empty() {
        return Ok(None);
    }
    let hint = r#"use {"deadLetterTargetArn":"arn:aws:sqs:REGION:ACCOUNT:NAME","maxReceiveCount":N} with N from 1 to 1000"#;
    let json: serde_json::Value =
        serde_json::from_str(value).map_err(|_| bad_value("RedrivePolicy", value, hint))?;
    let arn = json
        .get("deadLetterTargetArn")
        .and_then(|v| v.as_str())
        .ok_or_else(|| bad_value("RedrivePolicy", value, hint))?;
    let count = match json.get("maxReceiveCount") {
        Some(serde_json::Value::Number(n)) => n.as_u64(),
        Some(serde_json::Value::String(s)) => s.parse::<u64>().ok(),
        _ => None,
    }
    .filter(|n| (1..=1000).contains(n))
    .ok_or_else(|| bad_value("RedrivePolicy", value, hint))?;
    if crate::arn::queue_name(arn).is_none() {
        return Err(bad_value(
            "RedrivePolicy",
            value,
            "deadLetterTargetArn is not an SQS queue ARN",
        ));
    }
    Ok(Some(RedrivePolicy {
        dead_letter_target_arn: arn.to_string(),
        max_receive_count: count as u32,
    }))
}

fn parse_redrive_allow_policy(value: &str) -> QueueResult<Option<RedriveAllowPolicy>> {
    if value.is_empty() {
        return Ok(None);
    }
    let hint = r#"use {"redrivePermission":"allowAll|denyAll|byQueue","sourceQueueArns":[...]} (1 to 10 ARNs, only with byQueue)"#;
    let json: serde_json::Value =
        serde_json::from_str(value).map_err(|_| bad_value("RedriveAllowPolicy", value, hint))?;
    let permission = match json.get("redrivePermission").and_then(|v| v.as_str()) {
        Some("allowAll") => RedrivePermission::AllowAll,
        Some("denyAll") => RedrivePermission::DenyAll,
        Some("byQueue") => RedrivePermission::ByQueue,
        _ => return Err(bad_value("RedriveAllowPolicy", value, hint)),
    };
    let arns: Vec<String> = match json.get("sourceQueueArns") {
        None => Vec::new(),
        Some(serde_json::Value::Array(items)) => items
            .iter()
            .map(|i| i.as_str().map(str::to_string))
            .collect::<Option<_>>()
            .ok_or_else(|| bad_value("RedriveAllowPolicy", value, hint))?,
        Some(_) => return Err(bad_value("RedriveAllowPolicy", value, hint)),
    };
    let arns_ok = match permission {
        RedrivePermission::ByQueue => (1..=10).contains(&arns.len()),
        _ => arns.is_empty(),
    };
    if !arns_ok {
        return Err(bad_value("RedriveAllowPolicy", value, hint));
    }
    Ok(Some(RedriveAllowPolicy {
        permission,
        source_queue_arns: arns,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn fifo_name_and_attribute_must_agree() {
        assert!(QueueConfig::for_new_queue("a.fifo", &attrs(&[])).is_err());
        assert!(QueueConfig::for_new_queue("a", &attrs(&[("FifoQueue", "true")])).is_err());
        assert!(
            QueueConfig::for_new_queue("a.fifo", &attrs(&[("FifoQueue", "true")]))
                .unwrap()
                .fifo
        );
    }

    #[test]
    fn ranges_are_enforced_with_the_attribute_named() {
        let err =
            QueueConfig::for_new_queue("a", &attrs(&[("VisibilityTimeout", "43201")])).unwrap_err();
        assert!(err.to_string().contains("VisibilityTimeout"), "{err}");
        assert!(
            QueueConfig::for_new_queue("a", &attrs(&[("MessageRetentionPeriod", "59")])).is_err()
        );
        assert!(
            QueueConfig::for_new_queue("a", &attrs(&[("MaximumMessageSize", "1048576")])).is_ok()
        );
        assert!(
            QueueConfig::for_new_queue("a", &attrs(&[("MaximumMessageSize", "1048577")])).is_err()
        );
    }

    #[test]
    fn redrive_policy_accepts_string_or_number_counts_and_prints_a_number() {
        let c = QueueConfig::for_new_queue(
            "a",
            &attrs(&[("RedrivePolicy", r#"{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:000000000000:dlq","maxReceiveCount":"3"}"#)]),
        )
        .unwrap();
        assert_eq!(c.redrive_policy.as_ref().unwrap().max_receive_count, 3);
        assert!(c.to_attribute_map()["RedrivePolicy"].contains(r#""maxReceiveCount":3"#));
        assert!(QueueConfig::for_new_queue(
            "a",
            &attrs(&[("RedrivePolicy", r#"{"maxReceiveCount":3}"#)])
        )
        .is_err());
    }

    #[test]
    fn fifo_only_attributes_are_refused_on_standard_queues() {
        let err = QueueConfig::for_new_queue("a", &attrs(&[("ContentBasedDeduplication", "true")]))
            .unwrap_err();
        assert_eq!(err.aws_code(), "InvalidAttributeName");
    }

    #[test]
    fn high_throughput_needs_message_group_scope() {
        let base = [
            ("FifoQueue", "true"),
            ("FifoThroughputLimit", "perMessageGroupId"),
        ];
        assert!(QueueConfig::for_new_queue("a.fifo", &attrs(&base)).is_err());
        let mut ok = base.to_vec();
        ok.push(("DeduplicationScope", "messageGroup"));
        assert!(QueueConfig::for_new_queue("a.fifo", &attrs(&ok)).is_ok());
    }

    #[test]
    fn repeat_create_matches_only_given_attributes() {
        let c = QueueConfig::for_new_queue("a", &attrs(&[("VisibilityTimeout", "60")])).unwrap();
        assert!(c.matches_requested("a", &attrs(&[])));
        assert!(c.matches_requested("a", &attrs(&[("VisibilityTimeout", "60")])));
        assert!(!c.matches_requested("a", &attrs(&[("VisibilityTimeout", "61")])));
    }
}
