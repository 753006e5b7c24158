//! The conformance suite against the SQS adapter pointed at moto_server, an independent SQS
//! implementation (started per case on a free loopback port). Time is real here: `advance`
//! sleeps. Where moto differs from Amazon SQS, or a case would need minutes of real waiting,
//! `skip_reason` says so per case; every other case must pass unchanged.

use std::sync::Arc;
use std::time::Duration;

use conveyor_aws::testing::{start_moto, Moto};
use conveyor_aws::{static_sqs_client, SqsQueue};
use conveyor_queue::conformance::Harness;
use conveyor_queue::Queue;

struct OnMoto {
    adapter: Arc<SqsQueue>,
    _moto: Moto,
}

async fn on_moto() -> OnMoto {
    let moto = start_moto();
    let client = static_sqs_client(&moto.url, "us-east-1", "testing", "testing");
    OnMoto {
        adapter: Arc::new(SqsQueue::new(client, "us-east-1", moto.url.clone())),
        _moto: moto,
    }
}

#[async_trait::async_trait]
impl Harness for OnMoto {
    fn queue(&self) -> Arc<dyn Queue> {
        self.adapter.clone()
    }

    async fn advance(&self, seconds: u64) {
        tokio::time::sleep(Duration::from_secs(seconds)).await;
    }

    async fn settle(&self) {}

    fn name(&self, base: &str) -> String {
        base.to_string()
    }

    fn arn(&self, name: &str) -> String {
        format!("arn:aws:sqs:us-east-1:123456789012:{name}")
    }

    fn skip_reason(&self, case: &str) -> Option<&'static str> {
        Some(match case {
            "oldest_message_age" => "the SQS API does not report the oldest message's age (only CloudWatch's ApproximateAgeOfOldestMessage does), so the adapter cannot",
            "fifo_deduplication_window" => "needs five minutes of real time here (it runs on a manual clock against the embedded engine and Conveyor's endpoint); moto also answers a suppressed duplicate with a new MessageId",
            "retention_expires_messages" => "needs over two minutes of real time here (it runs on a manual clock against the embedded engine and Conveyor's endpoint)",
            "fifo_send_rules" => "moto 5.2.1 draws FIFO sequence numbers at random (SQS's increase), so the case fails on moto only sometimes and cannot be asserted either way",
            _ => return None,
        })
    }

    fn known_deviation(&self, case: &str) -> Option<&'static str> {
        Some(match case {
            "attributes_round_trip_and_refuse_bad_values" => "moto 5.2.1 accepts out-of-range attribute values that SQS refuses",
            "batches_report_each_entry" => "moto 5.2.1 accepts a batch entry with an empty body (SQS refuses that entry)",
            "change_visibility_rules" => "moto 5.2.1 accepts a visibility timeout beyond 12 hours from the receive",
            "fifo_deduplication_scope_message_group" => "moto 5.2.1 ignores DeduplicationScope=messageGroup",
            "fifo_orders_within_a_group_and_blocks_it_while_in_flight" => "moto 5.2.1 redelivers only the last message of each FIFO group after their visibility timeouts expire",
            "fair_queue_serves_quiet_groups_before_a_noisy_one" => "moto 5.2.1 does not implement fair queues: a standard queue serves a noisy message group's older backlog first",
            "list_queues_by_prefix_with_pages" => "moto 5.2.1 ignores MaxResults on ListQueues (no pages)",
            "message_limits" => "moto 5.2.1 does not enforce a queue's MaximumMessageSize and accepts U+0001 in a body",
            "message_move_task_redrives_back" | "message_move_task_to_named_queue_and_cancel" => "moto 5.2.1 does not implement StartMessageMoveTask",
            "purge_empties_and_is_rate_limited" => "moto 5.2.1 allows a second purge within 60 seconds",
            "send_parameters_as_real_sqs_judges_them" => "moto 5.2.1 accepts a MessageDeduplicationId on a standard queue",
            "queue_name_rules" => "moto 5.2.1 creates a queue named .fifo without FifoQueue=true",
            "redrive_policy_rules" => "moto 5.2.1 does not enforce a dead-letter queue's RedriveAllowPolicy",
            "redrive_moves_to_dead_letter_queue" => "moto 5.2.1 does not set DeadLetterQueueSourceArn on dead-lettered messages",
            "stale_receipt_handle_cannot_touch_a_newer_receive" => "moto 5.2.1 accepts an older receipt handle after the message was received again",
            _ => return None,
        })
    }
}

conveyor_queue::conformance_suite!(on_moto());
