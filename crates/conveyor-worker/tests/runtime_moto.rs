//! The outcome scenarios on Amazon SQS's API: the `SqsQueue` adapter against a real
//! moto_server, so Retry, backoff and Reject hold on the distributed backend too.

use std::sync::Arc;

use conveyor_aws::testing::start_moto;
use conveyor_aws::{static_sqs_client, SqsQueue};
use conveyor_queue::Queue;
use conveyor_store::Store;

mod outcomes;

fn on_moto(moto: &conveyor_aws::testing::Moto) -> Arc<dyn Queue> {
    let client = static_sqs_client(&moto.url, "us-east-1", "testing", "testing");
    Arc::new(SqsQueue::new(client, "us-east-1", moto.url.clone()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_sqs_a_retry_with_after_comes_back_after_that_time() {
    let moto = start_moto();
    let dir = tempfile::tempdir().unwrap();
    outcomes::retry_after_comes_back_after_that_time(
        on_moto(&moto),
        Store::local(dir.path()).unwrap(),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_sqs_retries_back_off_more_each_time() {
    let moto = start_moto();
    let dir = tempfile::tempdir().unwrap();
    outcomes::retries_back_off_more_each_time(on_moto(&moto), Store::local(dir.path()).unwrap())
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_sqs_a_rejected_message_reaches_its_dead_letter_queue_after_one_receive() {
    let moto = start_moto();
    let dir = tempfile::tempdir().unwrap();
    outcomes::reject_reaches_the_dead_letter_queue_after_one_receive(
        on_moto(&moto),
        Store::local(dir.path()).unwrap(),
        &|name| format!("arn:aws:sqs:us-east-1:123456789012:{name}"),
    )
    .await;
}
