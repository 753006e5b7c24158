//! Between the SDK's shapes and the `Queue` trait's.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_sqs::primitives::Blob;
use aws_sdk_sqs::types::{
    self as sdk, MessageSystemAttributeName, MessageSystemAttributeNameForSends,
    MessageSystemAttributeValue,
};
use conveyor_queue::{
    MessageAttributeValue, MessageAttributes, MoveTask, MoveTaskStatus, QueueError, QueueInfo,
    ReceivedMessage,
};

/// The queue's name and ARN from its URL (`{scheme}://{host}/{account}/{name}`) and the region:
/// saves a `GetQueueAttributes` call per listed queue.
pub(crate) fn queue_info(url: &str, region: &str) -> QueueInfo {
    let mut segments = url.trim_end_matches('/').rsplit('/');
    let name = segments.next().unwrap_or_default().to_string();
    let account = segments.next().unwrap_or_default();
    QueueInfo {
        arn: format!("arn:{}:sqs:{region}:{account}:{name}", partition(region)),
        name,
    }
}

/// The AWS partition a region belongs to.
fn partition(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

pub(crate) fn to_sdk_attributes(
    attributes: &MessageAttributes,
) -> Result<Option<HashMap<String, sdk::MessageAttributeValue>>, QueueError> {
    if attributes.is_empty() {
        return Ok(None);
    }
    attributes
        .iter()
        .map(|(name, v)| {
            let value = sdk::MessageAttributeValue::builder()
                .data_type(&v.data_type)
                .set_string_value(v.string_value.clone())
                .set_binary_value(v.binary_value.clone().map(Blob::new))
                .build()
                .map_err(|e| {
                    QueueError::InvalidParameterValue(format!("message attribute {name}: {e}"))
                })?;
            Ok((name.clone(), value))
        })
        .collect::<Result<HashMap<_, _>, _>>()
        .map(Some)
}

pub(crate) fn trace_header(
    value: &Option<String>,
) -> Result<
    Option<HashMap<MessageSystemAttributeNameForSends, MessageSystemAttributeValue>>,
    QueueError,
> {
    let Some(value) = value else {
        return Ok(None);
    };
    let v = MessageSystemAttributeValue::builder()
        .data_type("String")
        .string_value(value)
        .build()
        .map_err(|e| QueueError::InvalidParameterValue(format!("AWSTraceHeader: {e}")))?;
    Ok(Some(HashMap::from([(
        MessageSystemAttributeNameForSends::AwsTraceHeader,
        v,
    )])))
}

fn from_sdk_attributes(
    attributes: Option<&HashMap<String, sdk::MessageAttributeValue>>,
) -> MessageAttributes {
    attributes
        .into_iter()
        .flatten()
        .map(|(name, v)| {
            (
                name.clone(),
                MessageAttributeValue {
                    data_type: v.data_type().to_string(),
                    string_value: v.string_value().map(str::to_string),
                    binary_value: v.binary_value().map(|b| b.as_ref().to_vec()),
                },
            )
        })
        .collect()
}

pub(crate) fn received(message: &sdk::Message) -> Result<ReceivedMessage, QueueError> {
    let system = message.attributes();
    let text = |name: MessageSystemAttributeName| -> Option<String> {
        system.and_then(|a| a.get(&name)).cloned()
    };
    let number = |name: MessageSystemAttributeName| -> i64 {
        text(name).and_then(|v| v.parse().ok()).unwrap_or(0)
    };
    let missing =
        |field: &str| QueueError::Internal(format!("SQS returned a message without its {field}"));
    Ok(ReceivedMessage {
        message_id: message
            .message_id()
            .ok_or_else(|| missing("MessageId"))?
            .to_string(),
        receipt_handle: message
            .receipt_handle()
            .ok_or_else(|| missing("ReceiptHandle"))?
            .to_string(),
        body: message.body().unwrap_or_default().to_string(),
        attributes: from_sdk_attributes(message.message_attributes()),
        sent_timestamp: number(MessageSystemAttributeName::SentTimestamp),
        approximate_receive_count: number(MessageSystemAttributeName::ApproximateReceiveCount)
            as u32,
        approximate_first_receive_timestamp: number(
            MessageSystemAttributeName::ApproximateFirstReceiveTimestamp,
        ),
        sequence_number: text(MessageSystemAttributeName::SequenceNumber),
        group_id: text(MessageSystemAttributeName::MessageGroupId),
        deduplication_id: text(MessageSystemAttributeName::MessageDeduplicationId),
        dead_letter_queue_source_arn: text(MessageSystemAttributeName::DeadLetterQueueSourceArn),
        trace_header: text(MessageSystemAttributeName::AwsTraceHeader),
        sender_id: text(MessageSystemAttributeName::SenderId).unwrap_or_default(),
    })
}

pub(crate) fn move_task(entry: &sdk::ListMessageMoveTasksResultEntry) -> MoveTask {
    MoveTask {
        task_handle: entry.task_handle.clone(),
        status: entry
            .status
            .as_deref()
            .and_then(MoveTaskStatus::parse)
            .unwrap_or(MoveTaskStatus::Failed),
        source_arn: entry.source_arn.clone().unwrap_or_default(),
        destination_arn: entry.destination_arn.clone(),
        max_messages_per_second: entry.max_number_of_messages_per_second.map(|n| n as u32),
        approximate_number_of_messages_moved: entry.approximate_number_of_messages_moved.max(0)
            as u64,
        approximate_number_of_messages_to_move: entry
            .approximate_number_of_messages_to_move
            .unwrap_or(0)
            .max(0) as u64,
        failure_reason: entry.failure_reason.clone(),
        started_timestamp: entry.started_timestamp,
    }
}

pub(crate) fn string_map<K: AsRef<str>>(
    map: Option<&HashMap<K, String>>,
) -> BTreeMap<String, String> {
    map.into_iter()
        .flatten()
        .map(|(k, v)| (k.as_ref().to_string(), v.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_arns_come_from_urls() {
        let info = queue_info(
            "https://sqs.eu-west-1.amazonaws.com/123456789012/jobs.fifo",
            "eu-west-1",
        );
        assert_eq!(info.name, "jobs.fifo");
        assert_eq!(info.arn, "arn:aws:sqs:eu-west-1:123456789012:jobs.fifo");
        let cn = queue_info("http://127.0.0.1:9324/000000000000/q", "cn-north-1");
        assert_eq!(cn.arn, "arn:aws-cn:sqs:cn-north-1:000000000000:q");
    }
}
