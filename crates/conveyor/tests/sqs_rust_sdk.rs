//! The Rust AWS SDK (`aws-sdk-sqs`) against `conveyor serve`'s SQS endpoint: the typed errors
//! the SDK derives from our answers, FIFO semantics and batches, as a Rust application sees them.

mod common;

use aws_sdk_sqs::error::SdkError;
use aws_sdk_sqs::operation::get_queue_url::GetQueueUrlError;
use aws_sdk_sqs::types::{
    DeleteMessageBatchRequestEntry, MessageAttributeValue, MessageSystemAttributeName,
    QueueAttributeName, SendMessageBatchRequestEntry,
};
use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rust_sdk_sends_receives_and_branches_on_typed_errors() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), &[], None);
    let sqs = conveyor::bench::sqs_client(&server.sqs, "us-east-1");

    let missing = sqs
        .get_queue_url()
        .queue_name("not-there")
        .send()
        .await
        .unwrap_err();
    match missing {
        SdkError::ServiceError(e) => {
            assert!(
                matches!(e.err(), GetQueueUrlError::QueueDoesNotExist(_)),
                "{e:?}"
            );
            assert_eq!(e.raw().status().as_u16(), 400);
        }
        other => panic!("expected a service error, got {other:?}"),
    }

    let url = sqs
        .create_queue()
        .queue_name("rust-sdk.fifo")
        .attributes(QueueAttributeName::FifoQueue, "true")
        .attributes(QueueAttributeName::ContentBasedDeduplication, "true")
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let sent = sqs
        .send_message()
        .queue_url(&url)
        .message_body("first")
        .message_group_id("g")
        .message_attributes(
            "kind",
            MessageAttributeValue::builder()
                .data_type("String")
                .string_value("order")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        sent.md5_of_message_body.as_deref(),
        Some("8b04d5e3775d298e78455efc5ca404d5")
    );
    assert!(sent.sequence_number.is_some());
    let batch = sqs
        .send_message_batch()
        .queue_url(&url)
        .entries(
            SendMessageBatchRequestEntry::builder()
                .id("second")
                .message_body("second")
                .message_group_id("g")
                .build()
                .unwrap(),
        )
        .entries(
            SendMessageBatchRequestEntry::builder()
                .id("delayed")
                .message_body("per-message delay is refused on FIFO")
                .message_group_id("g")
                .delay_seconds(5)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(batch.successful.len(), 1);
    assert_eq!(batch.failed[0].id, "delayed");
    assert_eq!(batch.failed[0].code, "InvalidParameterValue");

    let received = sqs
        .receive_message()
        .queue_url(&url)
        .max_number_of_messages(10)
        .message_attribute_names("All")
        .message_system_attribute_names(MessageSystemAttributeName::All)
        .send()
        .await
        .unwrap()
        .messages
        .unwrap();
    let bodies: Vec<&str> = received.iter().filter_map(|m| m.body()).collect();
    assert_eq!(bodies, ["first", "second"]);
    let first = &received[0];
    assert_eq!(
        first.message_attributes.as_ref().unwrap()["kind"].string_value(),
        Some("order")
    );
    let system = first.attributes.as_ref().unwrap();
    assert_eq!(
        system[&MessageSystemAttributeName::MessageGroupId],
        "g".to_string()
    );

    let deleted = sqs
        .delete_message_batch()
        .queue_url(&url)
        .set_entries(Some(
            received
                .iter()
                .enumerate()
                .map(|(i, m)| {
                    DeleteMessageBatchRequestEntry::builder()
                        .id(format!("d{i}"))
                        .receipt_handle(m.receipt_handle().unwrap())
                        .build()
                        .unwrap()
                })
                .collect(),
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.successful.len(), 2);
    assert!(deleted.failed.is_empty());
    let attributes = sqs
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap();
    assert_eq!(
        attributes[&QueueAttributeName::ApproximateNumberOfMessages],
        "0"
    );
}
