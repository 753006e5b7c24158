//! The 23 SQS actions, each a translation between the JSON protocol's members and one call of
//! the `Queue` trait. Semantics (limits, FIFO rules, redrive) live in the queue; this layer only
//! adds what exists on the wire: queue URLs, digests and attribute selection.

use std::collections::BTreeMap;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use conveyor_queue::{
    validate, BatchAction, BatchEntry, BatchOutcome, Location, MessageAttributeValue,
    MessageAttributes, Queue, QueueError, ReceiveRequest, ReceivedMessage, SendMessage,
};
use serde_json::{json, Map, Value};

use crate::digest;
use crate::error::ApiError;
use crate::input::Input;

/// The queue attribute names `GetQueueAttributes` accepts.
const QUEUE_ATTRIBUTE_NAMES: &[&str] = &[
    "All",
    "Policy",
    "VisibilityTimeout",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "CreatedTimestamp",
    "LastModifiedTimestamp",
    "QueueArn",
    "ApproximateNumberOfMessagesDelayed",
    "DelaySeconds",
    "ReceiveMessageWaitTimeSeconds",
    "RedrivePolicy",
    "FifoQueue",
    "ContentBasedDeduplication",
    "KmsMasterKeyId",
    "KmsDataKeyReusePeriodSeconds",
    "DeduplicationScope",
    "FifoThroughputLimit",
    "RedriveAllowPolicy",
    "SqsManagedSseEnabled",
];

/// What one request needs besides its parameters.
pub struct Context<'a> {
    pub queue: &'a dyn Queue,
    pub location: &'a Location,
    /// `http://host:port`, the prefix of every queue URL in answers.
    pub base_url: &'a str,
}

impl Context<'_> {
    fn url(&self, name: &str) -> String {
        format!("{}/{}/{}", self.base_url, self.location.account_id, name)
    }

    /// The queue a `QueueUrl` names: the last two path segments are account and name, as in
    /// every SQS URL (`https://sqs.us-east-1.amazonaws.com/123456789012/jobs`). A bare name is
    /// taken as it is, as real SQS does (moto's AWS-verified
    /// `test_send_message_delay_seconds_validation` passes `QueueUrl=name`, which boto3's
    /// `sqs.Queue("name")` also sends); anything else names no queue, and real SQS answers it
    /// with `NonExistentQueue` (moto's AWS-verified `test_get_queue_url_error_not_exists` loads
    /// `http://whatever-incorrect-queue-address`).
    fn queue_name<'i>(&self, input: &Input<'i>) -> Result<&'i str, ApiError> {
        let url = input.required("QueueUrl")?;
        let missing = |name: &str| -> ApiError {
            QueueError::QueueDoesNotExist {
                name: name.to_string(),
            }
            .into()
        };
        let Some(scheme_end) = url.find("://") else {
            return match url.split('/').filter(|s| !s.is_empty()).collect::<Vec<_>>()[..] {
                [name] => Ok(name),
                [account, name] if account == self.location.account_id => Ok(name),
                _ => Err(missing(url)),
            };
        };
        let rest = &url[scheme_end + 3..];
        let path = rest.find('/').map_or("", |p| &rest[p..]);
        let path = path.split(['?', '#']).next().unwrap_or("");
        let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        match segments.as_slice() {
            [.., account, name] if *account == self.location.account_id => Ok(name),
            [.., name] => Err(missing(name)),
            [] => Err(missing(url)),
        }
    }
}

pub async fn dispatch(cx: &Context<'_>, action: &str, input: Input<'_>) -> Result<Value, ApiError> {
    match action {
        "CreateQueue" => create_queue(cx, input).await,
        "GetQueueUrl" => get_queue_url(cx, input).await,
        "ListQueues" => list_queues(cx, input).await,
        "DeleteQueue" => {
            cx.queue.delete_queue(cx.queue_name(&input)?).await?;
            Ok(json!({}))
        }
        "GetQueueAttributes" => get_queue_attributes(cx, input).await,
        "SetQueueAttributes" => {
            let name = cx.queue_name(&input)?;
            let attributes = input.string_map("Attributes")?;
            if attributes.is_empty() {
                return Err(ApiError::missing_parameter("Attributes"));
            }
            cx.queue.set_attributes(name, &attributes).await?;
            Ok(json!({}))
        }
        "PurgeQueue" => {
            cx.queue.purge(cx.queue_name(&input)?).await?;
            Ok(json!({}))
        }
        "SendMessage" => send_message(cx, input).await,
        "SendMessageBatch" => send_message_batch(cx, input).await,
        "ReceiveMessage" => receive_message(cx, input).await,
        "DeleteMessage" => {
            let name = cx.queue_name(&input)?;
            cx.queue
                .delete(name, input.required("ReceiptHandle")?)
                .await?;
            Ok(json!({}))
        }
        "DeleteMessageBatch" => {
            let name = cx.queue_name(&input)?;
            let (entries, failed) = batch_entries(&input, BatchAction::DeleteMessage, |e| {
                Ok(e.required("ReceiptHandle")?.to_string())
            })?;
            let outcome = cx.queue.delete_batch(name, entries).await?;
            Ok(batch_result(outcome, failed, |_| Map::new()))
        }
        "ChangeMessageVisibility" => {
            let name = cx.queue_name(&input)?;
            let handle = input.required("ReceiptHandle")?;
            let timeout = input
                .integer("VisibilityTimeout")?
                .ok_or_else(|| ApiError::missing_parameter("VisibilityTimeout"))?;
            cx.queue.change_visibility(name, handle, timeout).await?;
            Ok(json!({}))
        }
        "ChangeMessageVisibilityBatch" => {
            let name = cx.queue_name(&input)?;
            let (entries, failed) =
                batch_entries(&input, BatchAction::ChangeMessageVisibility, |e| {
                    let handle = e.required("ReceiptHandle")?.to_string();
                    Ok((handle, e.integer("VisibilityTimeout")?.unwrap_or(0)))
                })?;
            let outcome = cx.queue.change_visibility_batch(name, entries).await?;
            Ok(batch_result(outcome, failed, |_| Map::new()))
        }
        "TagQueue" => {
            let name = cx.queue_name(&input)?;
            let tags = input.string_map("Tags")?;
            // Decided by moto's SQS model (no AWS-verified recording exists): TagQueue without
            // tags is MissingParameter.
            if tags.is_empty() {
                return Err(ApiError::missing_parameter("Tags"));
            }
            cx.queue.tag(name, &tags).await?;
            Ok(json!({}))
        }
        "UntagQueue" => {
            let name = cx.queue_name(&input)?;
            let keys = input.strings("TagKeys")?;
            // UntagQueue without keys: moto's wording, which is SQS's documented key length rule.
            if keys.is_empty() {
                return Err(ApiError::invalid_parameter(
                    "Tag keys must be between 1 and 128 characters in length.",
                ));
            }
            cx.queue.untag(name, &keys).await?;
            Ok(json!({}))
        }
        "ListQueueTags" => {
            let tags = cx.queue.list_tags(cx.queue_name(&input)?).await?;
            Ok(if tags.is_empty() {
                json!({})
            } else {
                json!({ "Tags": tags })
            })
        }
        "ListDeadLetterSourceQueues" => {
            let name = cx.queue_name(&input)?;
            let page = cx
                .queue
                .list_dead_letter_source_queues(
                    name,
                    input.integer("MaxResults")?,
                    input.string("NextToken")?,
                )
                .await?;
            let urls: Vec<String> = page.items.iter().map(|q| cx.url(&q.name)).collect();
            let mut out = json!({ "queueUrls": urls });
            if let Some(token) = page.next_token {
                out["NextToken"] = token.into();
            }
            Ok(out)
        }
        "StartMessageMoveTask" => {
            let handle = cx
                .queue
                .start_message_move_task(
                    input.required("SourceArn")?,
                    input.string("DestinationArn")?,
                    input.integer("MaxNumberOfMessagesPerSecond")?,
                )
                .await?;
            Ok(json!({ "TaskHandle": handle }))
        }
        "CancelMessageMoveTask" => {
            let moved = cx
                .queue
                .cancel_message_move_task(input.required("TaskHandle")?)
                .await?;
            Ok(json!({ "ApproximateNumberOfMessagesMoved": moved }))
        }
        "ListMessageMoveTasks" => list_message_move_tasks(cx, input).await,
        "AddPermission" => {
            let name = cx.queue_name(&input)?;
            let label = input.required("Label")?;
            let accounts = input.strings("AWSAccountIds")?;
            let actions = input.strings("Actions")?;
            if accounts.is_empty() {
                return Err(ApiError::missing_parameter("AWSAccountIds"));
            }
            if actions.is_empty() {
                return Err(ApiError::missing_parameter("Actions"));
            }
            cx.queue
                .add_permission(name, label, &accounts, &actions)
                .await?;
            Ok(json!({}))
        }
        "RemovePermission" => {
            let name = cx.queue_name(&input)?;
            cx.queue
                .remove_permission(name, input.required("Label")?)
                .await?;
            Ok(json!({}))
        }
        other => Err(ApiError::invalid_action(other)),
    }
}

async fn create_queue(cx: &Context<'_>, input: Input<'_>) -> Result<Value, ApiError> {
    let name = input.required("QueueName")?;
    let info = cx
        .queue
        .create_queue(
            name,
            &input.string_map("Attributes")?,
            &input.string_map("tags")?,
        )
        .await?;
    Ok(json!({ "QueueUrl": cx.url(&info.name) }))
}

async fn get_queue_url(cx: &Context<'_>, input: Input<'_>) -> Result<Value, ApiError> {
    let name = input.required("QueueName")?;
    if let Some(owner) = input.string("QueueOwnerAWSAccountId")? {
        if owner != cx.location.account_id {
            return Err(QueueError::QueueDoesNotExist { name: name.into() }.into());
        }
    }
    let info = cx.queue.get_queue(name).await?;
    Ok(json!({ "QueueUrl": cx.url(&info.name) }))
}

async fn list_queues(cx: &Context<'_>, input: Input<'_>) -> Result<Value, ApiError> {
    let max_results = input.integer("MaxResults")?;
    // Without MaxResults, SQS answers up to 1,000 queues and no continuation token.
    let page = cx
        .queue
        .list_queues(
            input.string("QueueNamePrefix")?,
            Some(max_results.unwrap_or(1000)),
            input.string("NextToken")?,
        )
        .await?;
    let mut out = Map::new();
    if !page.items.is_empty() {
        let urls: Vec<Value> = page.items.iter().map(|q| cx.url(&q.name).into()).collect();
        out.insert("QueueUrls".into(), Value::Array(urls));
    }
    if let (Some(_), Some(token)) = (max_results, page.next_token) {
        out.insert("NextToken".into(), token.into());
    }
    Ok(Value::Object(out))
}

async fn get_queue_attributes(cx: &Context<'_>, input: Input<'_>) -> Result<Value, ApiError> {
    let name = cx.queue_name(&input)?;
    let wanted = input.strings("AttributeNames")?;
    if let Some(unknown) = wanted
        .iter()
        .find(|n| !QUEUE_ATTRIBUTE_NAMES.contains(&n.as_str()))
    {
        return Err(QueueError::InvalidAttributeName(format!(
            "Unknown Attribute {unknown}: use All or the names of the SQS documentation"
        ))
        .into());
    }
    let all = cx.queue.get_attributes(name).await?;
    if wanted.is_empty() {
        return Ok(json!({}));
    }
    let every = wanted.iter().any(|n| n == "All");
    let selected: BTreeMap<&String, &String> = all
        .iter()
        .filter(|(k, _)| every || wanted.contains(k))
        .collect();
    // Real SQS leaves the key out when nothing is selected (a `Policy` asked for after
    // RemovePermission: LocalStack's AWS-recorded `test_sqs_permission_lifecycle`); the same
    // holds for `Attributes` and `MessageAttributes` of received messages.
    if selected.is_empty() {
        return Ok(json!({}));
    }
    Ok(json!({ "Attributes": selected }))
}

// ---- sending ------------------------------------------------------------------------------

/// A `SendMessage` request (or batch entry) as the queue's message, with its digests.
fn message(input: &Input<'_>) -> Result<(SendMessage, Map<String, Value>), ApiError> {
    let mut attributes = MessageAttributes::new();
    for (name, value) in input.object_map("MessageAttributes")? {
        attributes.insert(name.clone(), attribute_value(name, &value)?);
    }
    let mut trace_header = None;
    for (name, value) in input.object_map("MessageSystemAttributes")? {
        if name != "AWSTraceHeader" {
            return Err(ApiError::invalid_parameter(format!(
                "the message system attribute {name:?} cannot be set; only AWSTraceHeader can"
            )));
        }
        if value.string("DataType")? != Some("String") {
            return Err(ApiError::invalid_parameter(
                "the AWSTraceHeader message system attribute must have DataType String",
            ));
        }
        trace_header = Some(value.required("StringValue")?.to_string());
    }
    let message = SendMessage {
        body: input.required("MessageBody")?.to_string(),
        delay_seconds: input.integer("DelaySeconds")?,
        attributes,
        trace_header,
        group_id: input.string("MessageGroupId")?.map(str::to_string),
        deduplication_id: input.string("MessageDeduplicationId")?.map(str::to_string),
    };
    let mut digests = Map::new();
    digests.insert(
        "MD5OfMessageBody".into(),
        digest::body(&message.body).into(),
    );
    if let Some(md5) = digest::attributes(&message.attributes) {
        digests.insert("MD5OfMessageAttributes".into(), md5.into());
    }
    if let Some(md5) = digest::trace_header(message.trace_header.as_deref()) {
        digests.insert("MD5OfMessageSystemAttributes".into(), md5.into());
    }
    Ok((message, digests))
}

fn attribute_value(name: &str, value: &Input<'_>) -> Result<MessageAttributeValue, ApiError> {
    let binary_value = match value.string("BinaryValue")? {
        Some(text) => Some(BASE64.decode(text).map_err(|_| {
            ApiError::invalid_parameter(format!(
                "the BinaryValue of message attribute {name:?} is not valid base64"
            ))
        })?),
        None => None,
    };
    Ok(MessageAttributeValue {
        data_type: value.string("DataType")?.unwrap_or("").to_string(),
        string_value: value.string("StringValue")?.map(str::to_string),
        binary_value,
    })
}

async fn send_message(cx: &Context<'_>, input: Input<'_>) -> Result<Value, ApiError> {
    let name = cx.queue_name(&input)?;
    let (message, mut out) = message(&input)?;
    let sent = cx.queue.send(name, message).await?;
    out.insert("MessageId".into(), sent.message_id.into());
    if let Some(seq) = sent.sequence_number {
        out.insert("SequenceNumber".into(), seq.into());
    }
    Ok(Value::Object(out))
}

async fn send_message_batch(cx: &Context<'_>, input: Input<'_>) -> Result<Value, ApiError> {
    let name = cx.queue_name(&input)?;
    let mut digests: BTreeMap<String, Map<String, Value>> = BTreeMap::new();
    let (entries, failed) = batch_entries(&input, BatchAction::SendMessage, |e| {
        let (message, d) = message(&e)?;
        digests.insert(e.required("Id")?.to_string(), d);
        Ok(message)
    })?;
    let outcome = cx.queue.send_batch(name, entries).await?;
    Ok(batch_result(outcome, failed, |(id, sent)| {
        let mut out = digests.remove(id).unwrap_or_default();
        out.insert("MessageId".into(), sent.message_id.clone().into());
        if let Some(seq) = &sent.sequence_number {
            out.insert("SequenceNumber".into(), seq.clone().into());
        }
        out
    }))
}

/// A batch's entries converted by `convert`; entries that cannot be converted become failures
/// (as SQS reports them per entry) after the batch as a whole is checked.
fn batch_entries<T>(
    input: &Input<'_>,
    action: BatchAction,
    mut convert: impl FnMut(Input<'_>) -> Result<T, ApiError>,
) -> Result<(Vec<BatchEntry<T>>, Vec<Value>), ApiError> {
    let raw = input.objects("Entries")?;
    let ids = raw
        .iter()
        .map(|e| {
            Ok(BatchEntry {
                id: e.required("Id")?.to_string(),
                entry: (),
            })
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    validate::batch_ids(action, &ids)?;
    let mut entries = Vec::with_capacity(raw.len());
    let mut failed = Vec::new();
    for (e, BatchEntry { id, .. }) in raw.into_iter().zip(ids) {
        match convert(e) {
            Ok(entry) => entries.push(BatchEntry { id, entry }),
            Err(error) => failed.push(failure(&id, &error)),
        }
    }
    Ok((entries, failed))
}

fn failure(id: &str, error: &ApiError) -> Value {
    json!({
        "Id": id,
        "SenderFault": error.sender_fault,
        "Code": error.query_code,
        "Message": error.message,
    })
}

fn batch_result<T>(
    outcome: BatchOutcome<T>,
    mut failed: Vec<Value>,
    mut success: impl FnMut(&(String, T)) -> Map<String, Value>,
) -> Value {
    let successful: Vec<Value> = outcome
        .successful
        .iter()
        .map(|entry| {
            let mut out = success(entry);
            out.insert("Id".into(), entry.0.clone().into());
            Value::Object(out)
        })
        .collect();
    failed.extend(
        outcome
            .failed
            .into_iter()
            .map(|(id, e)| failure(&id, &e.into())),
    );
    json!({ "Successful": successful, "Failed": failed })
}

// ---- receiving ----------------------------------------------------------------------------

async fn receive_message(cx: &Context<'_>, input: Input<'_>) -> Result<Value, ApiError> {
    let name = cx.queue_name(&input)?;
    let request = ReceiveRequest {
        max_messages: input.integer("MaxNumberOfMessages")?.unwrap_or(1),
        visibility_timeout: input.integer("VisibilityTimeout")?,
        wait_time_seconds: input.integer("WaitTimeSeconds")?,
        attempt_id: input.string("ReceiveRequestAttemptId")?.map(str::to_string),
    };
    let mut system_names = input.strings("AttributeNames")?;
    system_names.extend(input.strings("MessageSystemAttributeNames")?);
    let attribute_names = input.strings("MessageAttributeNames")?;
    let messages = cx.queue.receive(name, request).await?;
    if messages.is_empty() {
        return Ok(json!({}));
    }
    let messages: Vec<Value> = messages
        .into_iter()
        .map(|m| received(m, &system_names, &attribute_names))
        .collect();
    Ok(json!({ "Messages": messages }))
}

fn received(m: ReceivedMessage, system_names: &[String], attribute_names: &[String]) -> Value {
    let mut out = Map::new();
    out.insert("MD5OfBody".into(), digest::body(&m.body).into());
    let system = system_attributes(&m, system_names);
    if !system.is_empty() {
        out.insert("Attributes".into(), Value::Object(system));
    }
    let selected: Vec<(&String, &MessageAttributeValue)> = m
        .attributes
        .iter()
        .filter(|(name, _)| attribute_selected(name, attribute_names))
        .collect();
    if let Some(md5) = digest::attributes(selected.iter().copied()) {
        out.insert("MD5OfMessageAttributes".into(), md5.into());
        let map: Map<String, Value> = selected
            .into_iter()
            .map(|(name, v)| {
                let mut value = Map::new();
                value.insert("DataType".into(), v.data_type.clone().into());
                if let Some(s) = &v.string_value {
                    value.insert("StringValue".into(), s.clone().into());
                }
                if let Some(b) = &v.binary_value {
                    value.insert("BinaryValue".into(), BASE64.encode(b).into());
                }
                (name.clone(), Value::Object(value))
            })
            .collect();
        out.insert("MessageAttributes".into(), Value::Object(map));
    }
    out.insert("MessageId".into(), m.message_id.into());
    out.insert("ReceiptHandle".into(), m.receipt_handle.into());
    out.insert("Body".into(), m.body.into());
    Value::Object(out)
}

/// Message attribute selection: `All`, `*`, `.*`, `prefix.*` or an exact name. `prefix.*` is
/// every name starting with `prefix`, dot or not: real SQS answers `Hel.*` with both `Hello` and
/// `Help.Me` (LocalStack's AWS-recorded snapshot of
/// `test_receive_message_message_attribute_names_filters`); names SQS would refuse (`AWS.`,
/// `..foo`) select nothing rather than fail, as recorded there too.
fn attribute_selected(name: &str, wanted: &[String]) -> bool {
    wanted.iter().any(|w| {
        w == "All"
            || w == "*"
            || w == name
            || w.strip_suffix(".*")
                .is_some_and(|prefix| name.starts_with(prefix))
    })
}

fn system_attributes(m: &ReceivedMessage, wanted: &[String]) -> Map<String, Value> {
    let all = wanted.iter().any(|w| w == "All");
    let candidates: [(&str, Option<String>); 9] = [
        ("SenderId", Some(m.sender_id.clone())),
        ("SentTimestamp", Some(m.sent_timestamp.to_string())),
        (
            "ApproximateReceiveCount",
            Some(m.approximate_receive_count.to_string()),
        ),
        (
            "ApproximateFirstReceiveTimestamp",
            Some(m.approximate_first_receive_timestamp.to_string()),
        ),
        ("SequenceNumber", m.sequence_number.clone()),
        ("MessageDeduplicationId", m.deduplication_id.clone()),
        ("MessageGroupId", m.group_id.clone()),
        ("AWSTraceHeader", m.trace_header.clone()),
        (
            "DeadLetterQueueSourceArn",
            m.dead_letter_queue_source_arn.clone(),
        ),
    ];
    candidates
        .into_iter()
        .filter(|(name, _)| all || wanted.iter().any(|w| w == name))
        .filter_map(|(name, value)| Some((name.to_string(), Value::String(value?))))
        .collect()
}

async fn list_message_move_tasks(cx: &Context<'_>, input: Input<'_>) -> Result<Value, ApiError> {
    let tasks = cx
        .queue
        .list_message_move_tasks(input.required("SourceArn")?, input.integer("MaxResults")?)
        .await?;
    let results: Vec<Value> = tasks
        .into_iter()
        .map(|t| {
            let mut out = Map::new();
            if let Some(handle) = t.task_handle {
                out.insert("TaskHandle".into(), handle.into());
            }
            out.insert("Status".into(), t.status.as_str().into());
            out.insert("SourceArn".into(), t.source_arn.into());
            if let Some(d) = t.destination_arn {
                out.insert("DestinationArn".into(), d.into());
            }
            if let Some(rate) = t.max_messages_per_second {
                out.insert("MaxNumberOfMessagesPerSecond".into(), rate.into());
            }
            out.insert(
                "ApproximateNumberOfMessagesMoved".into(),
                t.approximate_number_of_messages_moved.into(),
            );
            out.insert(
                "ApproximateNumberOfMessagesToMove".into(),
                t.approximate_number_of_messages_to_move.into(),
            );
            if let Some(reason) = t.failure_reason {
                out.insert("FailureReason".into(), reason.into());
            }
            out.insert("StartedTimestamp".into(), t.started_timestamp.into());
            Value::Object(out)
        })
        .collect();
    Ok(json!({ "Results": results }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_attribute_selection_follows_sqs_patterns() {
        let w = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(attribute_selected("a", &w(&["All"])));
        assert!(attribute_selected("a", &w(&[".*"])));
        assert!(attribute_selected("a", &w(&["*"])));
        assert!(attribute_selected("bar.baz", &w(&["bar.*"])));
        assert!(attribute_selected("bar", &w(&["bar.*"])));
        assert!(attribute_selected("Custom1", &w(&["Custom.*"])));
        assert!(attribute_selected("Help.Me", &w(&["Hel.*"])));
        assert!(!attribute_selected("Other", &w(&["Custom.*"])));
        assert!(!attribute_selected("Hello", &w(&["AWS."])));
        assert!(!attribute_selected("a", &w(&["b"])));
        assert!(!attribute_selected("a", &[]));
    }
}
