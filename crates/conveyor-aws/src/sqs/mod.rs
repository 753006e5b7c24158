//! The `Queue` trait on Amazon SQS (or any endpoint speaking its protocol), through
//! `aws-sdk-sqs`. Workers, the HTTP API and `conveyor smoke` use it exactly as they use the
//! embedded engine; the conformance suite runs against it (see `tests/`).
//!
//! The trait speaks queue names, SQS speaks URLs: names are resolved once with `GetQueueUrl` and
//! cached. Batch shapes that SQS itself would refuse are refused here first, with the same error,
//! so the answer does not depend on how strictly an emulator checks.

mod convert;
mod errors;

use std::collections::{BTreeMap, HashMap};
use std::sync::RwLock;

use aws_sdk_sqs::types::{
    ChangeMessageVisibilityBatchRequestEntry, DeleteMessageBatchRequestEntry,
    MessageSystemAttributeName, QueueAttributeName, SendMessageBatchRequestEntry,
};
use aws_sdk_sqs::Client;
use conveyor_queue::validate::{batch_ids, message_size};
use conveyor_queue::{
    BatchAction, BatchEntry, BatchOutcome, MoveTask, Page, PeekPage, PeekState, PeekedMessage,
    Queue, QueueCounts, QueueError, QueueInfo, QueueResult, ReceiveRequest, ReceivedMessage,
    SendMessage, SendOutcome,
};

use errors::{from_code, from_sdk};

/// SQS's limit on a whole batch, whatever the queue's `MaximumMessageSize`.
const MAX_BATCH_BYTES: usize = 1_048_576;

/// A remote SQS as a `Queue`.
pub struct SqsQueue {
    client: Client,
    region: String,
    /// For error messages: where the queues are.
    endpoint: String,
    urls: RwLock<HashMap<String, String>>,
}

impl SqsQueue {
    /// `endpoint` only names the service in error messages; the client already knows its address.
    pub fn new(client: Client, region: impl Into<String>, endpoint: impl Into<String>) -> Self {
        SqsQueue {
            client,
            region: region.into(),
            endpoint: endpoint.into(),
            urls: RwLock::new(HashMap::new()),
        }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    fn error<E, R>(&self, queue: &str, err: aws_sdk_sqs::error::SdkError<E, R>) -> QueueError
    where
        E: aws_sdk_sqs::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug + 'static,
    {
        let e = from_sdk(err, queue, &self.endpoint);
        if matches!(e, QueueError::QueueDoesNotExist { .. }) {
            self.forget(queue);
        }
        e
    }

    fn forget(&self, name: &str) {
        if let Ok(mut urls) = self.urls.write() {
            urls.remove(name);
        }
    }

    fn remember(&self, name: &str, url: &str) {
        if let Ok(mut urls) = self.urls.write() {
            urls.insert(name.to_string(), url.to_string());
        }
    }

    /// The queue's URL, from the cache or `GetQueueUrl`.
    pub async fn url(&self, name: &str) -> QueueResult<String> {
        if let Some(url) = self.urls.read().ok().and_then(|u| u.get(name).cloned()) {
            return Ok(url);
        }
        let out = self
            .client
            .get_queue_url()
            .queue_name(name)
            .send()
            .await
            .map_err(|e| self.error(name, e))?;
        let url = out.queue_url.ok_or_else(|| {
            QueueError::Internal(format!("GetQueueUrl returned no URL for {name}"))
        })?;
        self.remember(name, &url);
        Ok(url)
    }

    fn info(&self, url: &str) -> QueueInfo {
        convert::queue_info(url, &self.region)
    }

    fn batch_outcome<T>(
        &self,
        queue: &str,
        successful: Vec<(String, T)>,
        failed: &[aws_sdk_sqs::types::BatchResultErrorEntry],
    ) -> BatchOutcome<T> {
        BatchOutcome {
            successful,
            failed: failed
                .iter()
                .map(|f| {
                    (
                        f.id.clone(),
                        from_code(&f.code, f.message.as_deref().unwrap_or_default(), queue),
                    )
                })
                .collect(),
        }
    }

    fn page(&self, urls: Vec<String>, next_token: Option<String>) -> Page<QueueInfo> {
        Page {
            items: urls.iter().map(|u| self.info(u)).collect(),
            next_token,
        }
    }
}

fn count(attributes: &BTreeMap<String, String>, name: &str) -> u64 {
    attributes
        .get(name)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn attribute_names(
    attributes: &BTreeMap<String, String>,
) -> Option<HashMap<QueueAttributeName, String>> {
    if attributes.is_empty() {
        return None;
    }
    Some(
        attributes
            .iter()
            .map(|(k, v)| (QueueAttributeName::from(k.as_str()), v.clone()))
            .collect(),
    )
}

fn non_empty<K: std::hash::Hash + Eq, V>(map: HashMap<K, V>) -> Option<HashMap<K, V>> {
    (!map.is_empty()).then_some(map)
}

#[async_trait::async_trait]
impl Queue for SqsQueue {
    async fn create_queue(
        &self,
        name: &str,
        attributes: &BTreeMap<String, String>,
        tags: &BTreeMap<String, String>,
    ) -> QueueResult<QueueInfo> {
        let out = self
            .client
            .create_queue()
            .queue_name(name)
            .set_attributes(attribute_names(attributes))
            .set_tags(non_empty(tags.clone().into_iter().collect()))
            .send()
            .await
            .map_err(|e| self.error(name, e))?;
        let url = out.queue_url.ok_or_else(|| {
            QueueError::Internal(format!("CreateQueue returned no URL for {name}"))
        })?;
        self.remember(name, &url);
        Ok(self.info(&url))
    }

    async fn get_queue(&self, name: &str) -> QueueResult<QueueInfo> {
        self.forget(name);
        let url = self.url(name).await?;
        Ok(self.info(&url))
    }

    async fn list_queues(
        &self,
        prefix: Option<&str>,
        max_results: Option<u32>,
        next_token: Option<&str>,
    ) -> QueueResult<Page<QueueInfo>> {
        let out = self
            .client
            .list_queues()
            .set_queue_name_prefix(prefix.map(str::to_string))
            .set_max_results(max_results.map(|n| n as i32))
            .set_next_token(next_token.map(str::to_string))
            .send()
            .await
            .map_err(|e| self.error(prefix.unwrap_or(""), e))?;
        Ok(self.page(out.queue_urls.unwrap_or_default(), out.next_token))
    }

    async fn delete_queue(&self, name: &str) -> QueueResult<()> {
        let url = self.url(name).await?;
        self.client
            .delete_queue()
            .queue_url(url)
            .send()
            .await
            .map_err(|e| self.error(name, e))?;
        self.forget(name);
        Ok(())
    }

    async fn get_attributes(&self, name: &str) -> QueueResult<BTreeMap<String, String>> {
        let url = self.url(name).await?;
        let out = self
            .client
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(QueueAttributeName::All)
            .send()
            .await
            .map_err(|e| self.error(name, e))?;
        Ok(convert::string_map(out.attributes()))
    }

    async fn set_attributes(
        &self,
        name: &str,
        attributes: &BTreeMap<String, String>,
    ) -> QueueResult<()> {
        let url = self.url(name).await?;
        self.client
            .set_queue_attributes()
            .queue_url(url)
            .set_attributes(attribute_names(attributes).or_else(|| Some(HashMap::new())))
            .send()
            .await
            .map_err(|e| self.error(name, e))?;
        Ok(())
    }

    async fn counts(&self, name: &str) -> QueueResult<QueueCounts> {
        let url = self.url(name).await?;
        let out = self
            .client
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesDelayed)
            .send()
            .await
            .map_err(|e| self.error(name, e))?;
        let a = convert::string_map(out.attributes());
        Ok(QueueCounts {
            visible: count(&a, "ApproximateNumberOfMessages"),
            in_flight: count(&a, "ApproximateNumberOfMessagesNotVisible"),
            delayed: count(&a, "ApproximateNumberOfMessagesDelayed"),
            oldest_age_seconds: None,
        })
    }

    /// SQS cannot look without receiving: a peek receives with a visibility timeout of 0, so
    /// the messages stay available but their receive counts go up. On a queue with a redrive
    /// policy that could push a message to its dead-letter queue, so it is refused there; a
    /// dead-letter queue (the peek's use) has none. SQS picks which messages to return, so
    /// there is no next page.
    async fn peek(&self, queue: &str, max: u32, _after: Option<&str>) -> QueueResult<PeekPage> {
        if !(1..=100).contains(&max) {
            return Err(QueueError::InvalidParameterValue(format!(
                "a peek shows 1 to 100 messages, not {max}"
            )));
        }
        let attributes = self.get_attributes(queue).await?;
        if attributes.contains_key("RedrivePolicy") {
            return Err(QueueError::UnsupportedOperation(format!(
                "{queue} has a redrive policy, and on SQS a peek is a receive that counts toward its maxReceiveCount; peek its dead-letter queue, or use `conveyor queue receive`"
            )));
        }
        let out = self
            .receive(
                queue,
                ReceiveRequest {
                    max_messages: max.min(10),
                    visibility_timeout: Some(0),
                    wait_time_seconds: Some(0),
                    ..Default::default()
                },
            )
            .await?;
        Ok(PeekPage {
            messages: out
                .into_iter()
                .map(|m| PeekedMessage {
                    message_id: m.message_id,
                    body: m.body,
                    attributes: m.attributes,
                    group_id: m.group_id,
                    sent_timestamp: m.sent_timestamp,
                    receive_count: m.approximate_receive_count,
                    state: PeekState::Visible,
                    dead_letter_source_arn: m.dead_letter_queue_source_arn,
                })
                .collect(),
            next: None,
            counted_as_receive: true,
        })
    }

    async fn send(&self, queue: &str, message: SendMessage) -> QueueResult<SendOutcome> {
        let url = self.url(queue).await?;
        let out = self
            .client
            .send_message()
            .queue_url(url)
            .message_body(message.body)
            .set_delay_seconds(message.delay_seconds.map(|d| d as i32))
            .set_message_attributes(convert::to_sdk_attributes(&message.attributes)?)
            .set_message_system_attributes(convert::trace_header(&message.trace_header)?)
            .set_message_group_id(message.group_id)
            .set_message_deduplication_id(message.deduplication_id)
            .send()
            .await
            .map_err(|e| self.error(queue, e))?;
        Ok(SendOutcome {
            message_id: out.message_id.unwrap_or_default(),
            sequence_number: out.sequence_number,
        })
    }

    async fn send_batch(
        &self,
        queue: &str,
        entries: Vec<BatchEntry<SendMessage>>,
    ) -> QueueResult<BatchOutcome<SendOutcome>> {
        batch_ids(BatchAction::SendMessage, &entries)?;
        let total: usize = entries.iter().map(|e| message_size(&e.entry)).sum();
        if total > MAX_BATCH_BYTES {
            return Err(QueueError::BatchRequestTooLong {
                total,
                limit: MAX_BATCH_BYTES,
            });
        }
        let url = self.url(queue).await?;
        let mut sdk_entries = Vec::with_capacity(entries.len());
        for e in entries {
            let m = e.entry;
            sdk_entries.push(
                SendMessageBatchRequestEntry::builder()
                    .id(e.id)
                    .message_body(m.body)
                    .set_delay_seconds(m.delay_seconds.map(|d| d as i32))
                    .set_message_attributes(convert::to_sdk_attributes(&m.attributes)?)
                    .set_message_system_attributes(convert::trace_header(&m.trace_header)?)
                    .set_message_group_id(m.group_id)
                    .set_message_deduplication_id(m.deduplication_id)
                    .build()
                    .map_err(|e| QueueError::MissingParameter(e.to_string()))?,
            );
        }
        let out = self
            .client
            .send_message_batch()
            .queue_url(url)
            .set_entries(Some(sdk_entries))
            .send()
            .await
            .map_err(|e| self.error(queue, e))?;
        let successful = out
            .successful
            .iter()
            .map(|s| {
                (
                    s.id.clone(),
                    SendOutcome {
                        message_id: s.message_id.clone(),
                        sequence_number: s.sequence_number.clone(),
                    },
                )
            })
            .collect();
        Ok(self.batch_outcome(queue, successful, &out.failed))
    }

    async fn receive(
        &self,
        queue: &str,
        request: ReceiveRequest,
    ) -> QueueResult<Vec<ReceivedMessage>> {
        let url = self.url(queue).await?;
        let out = self
            .client
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(request.max_messages as i32)
            .set_visibility_timeout(request.visibility_timeout.map(|v| v as i32))
            .set_wait_time_seconds(request.wait_time_seconds.map(|w| w as i32))
            .set_receive_request_attempt_id(request.attempt_id)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .message_attribute_names("All")
            .send()
            .await
            .map_err(|e| self.error(queue, e))?;
        out.messages().iter().map(convert::received).collect()
    }

    async fn delete(&self, queue: &str, receipt_handle: &str) -> QueueResult<()> {
        let url = self.url(queue).await?;
        self.client
            .delete_message()
            .queue_url(url)
            .receipt_handle(receipt_handle)
            .send()
            .await
            .map_err(|e| self.error(queue, e))?;
        Ok(())
    }

    async fn delete_batch(
        &self,
        queue: &str,
        entries: Vec<BatchEntry<String>>,
    ) -> QueueResult<BatchOutcome<()>> {
        batch_ids(BatchAction::DeleteMessage, &entries)?;
        let url = self.url(queue).await?;
        let sdk_entries = entries
            .into_iter()
            .map(|e| {
                DeleteMessageBatchRequestEntry::builder()
                    .id(e.id)
                    .receipt_handle(e.entry)
                    .build()
                    .map_err(|e| QueueError::MissingParameter(e.to_string()))
            })
            .collect::<QueueResult<Vec<_>>>()?;
        let out = self
            .client
            .delete_message_batch()
            .queue_url(url)
            .set_entries(Some(sdk_entries))
            .send()
            .await
            .map_err(|e| self.error(queue, e))?;
        let successful = out.successful.iter().map(|s| (s.id.clone(), ())).collect();
        Ok(self.batch_outcome(queue, successful, &out.failed))
    }

    async fn change_visibility(
        &self,
        queue: &str,
        receipt_handle: &str,
        timeout_seconds: u32,
    ) -> QueueResult<()> {
        let url = self.url(queue).await?;
        self.client
            .change_message_visibility()
            .queue_url(url)
            .receipt_handle(receipt_handle)
            .visibility_timeout(timeout_seconds as i32)
            .send()
            .await
            .map_err(|e| self.error(queue, e))?;
        Ok(())
    }

    async fn change_visibility_batch(
        &self,
        queue: &str,
        entries: Vec<BatchEntry<(String, u32)>>,
    ) -> QueueResult<BatchOutcome<()>> {
        batch_ids(BatchAction::ChangeMessageVisibility, &entries)?;
        let url = self.url(queue).await?;
        let sdk_entries = entries
            .into_iter()
            .map(|e| {
                ChangeMessageVisibilityBatchRequestEntry::builder()
                    .id(e.id)
                    .receipt_handle(e.entry.0)
                    .visibility_timeout(e.entry.1 as i32)
                    .build()
                    .map_err(|e| QueueError::MissingParameter(e.to_string()))
            })
            .collect::<QueueResult<Vec<_>>>()?;
        let out = self
            .client
            .change_message_visibility_batch()
            .queue_url(url)
            .set_entries(Some(sdk_entries))
            .send()
            .await
            .map_err(|e| self.error(queue, e))?;
        let successful = out.successful.iter().map(|s| (s.id.clone(), ())).collect();
        Ok(self.batch_outcome(queue, successful, &out.failed))
    }

    async fn purge(&self, queue: &str) -> QueueResult<()> {
        let url = self.url(queue).await?;
        self.client
            .purge_queue()
            .queue_url(url)
            .send()
            .await
            .map_err(|e| self.error(queue, e))?;
        Ok(())
    }

    async fn tag(&self, queue: &str, tags: &BTreeMap<String, String>) -> QueueResult<()> {
        let url = self.url(queue).await?;
        self.client
            .tag_queue()
            .queue_url(url)
            .set_tags(Some(tags.clone().into_iter().collect()))
            .send()
            .await
            .map_err(|e| self.error(queue, e))?;
        Ok(())
    }

    async fn untag(&self, queue: &str, keys: &[String]) -> QueueResult<()> {
        let url = self.url(queue).await?;
        self.client
            .untag_queue()
            .queue_url(url)
            .set_tag_keys(Some(keys.to_vec()))
            .send()
            .await
            .map_err(|e| self.error(queue, e))?;
        Ok(())
    }

    async fn list_tags(&self, queue: &str) -> QueueResult<BTreeMap<String, String>> {
        let url = self.url(queue).await?;
        let out = self
            .client
            .list_queue_tags()
            .queue_url(url)
            .send()
            .await
            .map_err(|e| self.error(queue, e))?;
        Ok(convert::string_map(out.tags()))
    }

    async fn list_dead_letter_source_queues(
        &self,
        queue: &str,
        max_results: Option<u32>,
        next_token: Option<&str>,
    ) -> QueueResult<Page<QueueInfo>> {
        let url = self.url(queue).await?;
        let out = self
            .client
            .list_dead_letter_source_queues()
            .queue_url(url)
            .set_max_results(max_results.map(|n| n as i32))
            .set_next_token(next_token.map(str::to_string))
            .send()
            .await
            .map_err(|e| self.error(queue, e))?;
        Ok(self.page(out.queue_urls, out.next_token))
    }

    async fn start_message_move_task(
        &self,
        source_arn: &str,
        destination_arn: Option<&str>,
        max_messages_per_second: Option<u32>,
    ) -> QueueResult<String> {
        let out = self
            .client
            .start_message_move_task()
            .source_arn(source_arn)
            .set_destination_arn(destination_arn.map(str::to_string))
            .set_max_number_of_messages_per_second(max_messages_per_second.map(|n| n as i32))
            .send()
            .await
            .map_err(|e| self.error(source_arn, e))?;
        out.task_handle
            .ok_or_else(|| QueueError::Internal("StartMessageMoveTask returned no handle".into()))
    }

    async fn list_message_move_tasks(
        &self,
        source_arn: &str,
        max_results: Option<u32>,
    ) -> QueueResult<Vec<MoveTask>> {
        let out = self
            .client
            .list_message_move_tasks()
            .source_arn(source_arn)
            .set_max_results(max_results.map(|n| n as i32))
            .send()
            .await
            .map_err(|e| self.error(source_arn, e))?;
        Ok(out.results().iter().map(convert::move_task).collect())
    }

    async fn cancel_message_move_task(&self, task_handle: &str) -> QueueResult<u64> {
        let out = self
            .client
            .cancel_message_move_task()
            .task_handle(task_handle)
            .send()
            .await
            .map_err(|e| self.error(task_handle, e))?;
        Ok(out.approximate_number_of_messages_moved.max(0) as u64)
    }

    async fn add_permission(
        &self,
        queue: &str,
        label: &str,
        accounts: &[String],
        actions: &[String],
    ) -> QueueResult<()> {
        let url = self.url(queue).await?;
        self.client
            .add_permission()
            .queue_url(url)
            .label(label)
            .set_aws_account_ids(Some(accounts.to_vec()))
            .set_actions(Some(actions.to_vec()))
            .send()
            .await
            .map_err(|e| self.error(queue, e))?;
        Ok(())
    }

    async fn remove_permission(&self, queue: &str, label: &str) -> QueueResult<()> {
        let url = self.url(queue).await?;
        self.client
            .remove_permission()
            .queue_url(url)
            .label(label)
            .send()
            .await
            .map_err(|e| self.error(queue, e))?;
        Ok(())
    }
}
