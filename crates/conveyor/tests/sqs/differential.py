"""Differential test: one scripted SQS scenario run with boto3 against moto_server and against
Conveyor; the normalised outcomes of every step must be equal, except the divergences listed in
KNOWN_DIVERGENCES, each explained. A listed divergence that no longer occurs fails too, so the
list stays true.

Usage: python3 differential.py CONVEYOR_URL MOTO_URL
"""

import json
import os
import sys
import uuid

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from differential_report import report  # noqa: E402

# step -> why Conveyor and moto answer differently, and who is right.
KNOWN_DIVERGENCES = {
    "dedup_remembered_after_delete": (
        "moto is wrong: it forgets a deduplication id when the message is deleted, so a resend "
        "within the five-minute window is delivered again. SQS (and Conveyor) keep the id for the "
        "whole window: 'any messages sent with the same message deduplication ID are accepted "
        "successfully but aren't delivered during the 5-minute deduplication interval'."
    ),
    "purge_twice": (
        "moto is wrong: it allows a second PurgeQueue at once. SQS refuses purges less than 60 s "
        "apart with AWS.SimpleQueueService.PurgeQueueInProgress (HTTP 403); Conveyor does too."
    ),
    "receive_attempt_id_retry": (
        "moto is wrong: it ignores ReceiveRequestAttemptId, so a retried receive on a FIFO queue "
        "gets nothing (the group is blocked by the first attempt's message). SQS returns the same "
        "messages and receipt handles to a retry within five minutes; Conveyor does too."
    ),
    "invalid_message_contents": (
        "moto is wrong: it accepts a body with the control character U+0001, which SQS rejects "
        "with InvalidMessageContents (only #x9, #xA, #xD and #x20 upwards are allowed)."
    ),
    "dedup_same_message_id": (
        "they disagree on what a suppressed duplicate's SendMessage returns: moto invents a new "
        "MessageId for a message it never delivers; Conveyor returns the MessageId of the message "
        "that was kept, so a producer's retry correlates with the original. The SQS documentation "
        "only says the duplicate is 'acknowledged but not delivered'; we have not verified real "
        "SQS here."
    ),
}

RUN = uuid.uuid4().hex[:8]


def client(url):
    return boto3.client(
        "sqs",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"max_attempts": 1}),
    )


def outcome(call, **kwargs):
    """A call's result with volatile values removed, or its error's class and code."""
    try:
        return normalise(call(**kwargs))
    except ClientError as e:
        return {"error": type(e).__name__, "code": e.response["Error"]["Code"]}


VOLATILE = {"MessageId", "ReceiptHandle", "SequenceNumber", "RequestId", "TaskHandle"}


def normalise(value):
    if isinstance(value, dict):
        return {
            k: ("<volatile>" if k in VOLATILE else normalise(v))
            for k, v in value.items()
            if k != "ResponseMetadata"
        }
    if isinstance(value, list):
        return [normalise(v) for v in value]
    if isinstance(value, str) and "/000000000000/" in value or isinstance(value, str) and "/123456789012/" in value:
        return "<queue-url>/" + value.rsplit("/", 1)[1]
    return value


def scenario(sqs):
    """The steps, in order; each yields (step name, normalised outcome)."""
    name = f"diff-{RUN}"
    url = sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "30"})["QueueUrl"]
    yield "create_again_same_attributes", outcome(sqs.create_queue, QueueName=name, Attributes={"VisibilityTimeout": "30"})
    yield "create_again_other_attributes", outcome(sqs.create_queue, QueueName=name, Attributes={"VisibilityTimeout": "31"})
    yield "get_url_of_missing_queue", outcome(sqs.get_queue_url, QueueName=f"{name}-missing")
    attrs = {
        "s": {"DataType": "String", "StringValue": "value"},
        "n": {"DataType": "Number", "StringValue": "1.5"},
        "b": {"DataType": "Binary", "BinaryValue": b"\x01\x02"},
    }
    yield "send_with_attributes", outcome(sqs.send_message, QueueUrl=url, MessageBody="hello ✓", MessageAttributes=attrs)
    received = sqs.receive_message(QueueUrl=url, MessageAttributeNames=["All"], AttributeNames=["All"])
    message = received["Messages"][0]
    yield "received_message", {
        "Body": message["Body"],
        "MD5OfBody": message["MD5OfBody"],
        "MD5OfMessageAttributes": message["MD5OfMessageAttributes"],
        "MessageAttributes": message["MessageAttributes"],
        "system_attribute_names": sorted(message["Attributes"]),
        "ApproximateReceiveCount": message["Attributes"]["ApproximateReceiveCount"],
    }
    yield "receive_while_in_flight", outcome(sqs.receive_message, QueueUrl=url)
    yield "delete_bogus_handle", outcome(sqs.delete_message, QueueUrl=url, ReceiptHandle="bogus")
    yield "visibility_over_12_hours", outcome(
        sqs.change_message_visibility, QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=43201
    )
    yield "delete_received", outcome(sqs.delete_message, QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    yield "batch_duplicate_ids", outcome(
        sqs.send_message_batch, QueueUrl=url, Entries=[{"Id": "a", "MessageBody": "1"}, {"Id": "a", "MessageBody": "2"}]
    )
    yield "batch_too_many", outcome(
        sqs.send_message_batch, QueueUrl=url, Entries=[{"Id": f"e{i}", "MessageBody": "x"} for i in range(11)]
    )
    batch = outcome(
        sqs.send_message_batch,
        QueueUrl=url,
        Entries=[{"Id": "ok", "MessageBody": "fine"}, {"Id": "late", "MessageBody": "x", "DelaySeconds": 901}],
    )
    yield "batch_too_large_delay", {
        "successful": sorted(e["Id"] for e in batch.get("Successful", [])),
        "failed": sorted((e["Id"], e["Code"]) for e in batch.get("Failed", [])),
    }
    yield "receive_eleven", outcome(sqs.receive_message, QueueUrl=url, MaxNumberOfMessages=11)
    yield "invalid_message_contents", outcome(sqs.send_message, QueueUrl=url, MessageBody="bad \x01")
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    yield "queue_attribute_names", sorted(attributes)
    yield "queue_attribute_values", {
        k: attributes.get(k)
        for k in ["VisibilityTimeout", "MaximumMessageSize", "MessageRetentionPeriod", "DelaySeconds", "ReceiveMessageWaitTimeSeconds"]
    }
    yield "unknown_attribute_name", outcome(sqs.get_queue_attributes, QueueUrl=url, AttributeNames=["Bogus"])
    sqs.tag_queue(QueueUrl=url, Tags={"a": "1", "b": "2"})
    sqs.untag_queue(QueueUrl=url, TagKeys=["a"])
    yield "tags", outcome(sqs.list_queue_tags, QueueUrl=url)
    yield "list_by_prefix", outcome(sqs.list_queues, QueueNamePrefix=name)
    sqs.purge_queue(QueueUrl=url)
    yield "purge_twice", outcome(sqs.purge_queue, QueueUrl=url)

    fifo = sqs.create_queue(
        QueueName=f"{name}.fifo", Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true"}
    )["QueueUrl"]
    yield "fifo_needs_group_id", outcome(sqs.send_message, QueueUrl=fifo, MessageBody="x")
    yield "fifo_refuses_message_delay", outcome(
        sqs.send_message, QueueUrl=fifo, MessageBody="x", MessageGroupId="g", DelaySeconds=5
    )
    for body, group in [("a1", "a"), ("a2", "a"), ("b1", "b"), ("a3", "a")]:
        sqs.send_message(QueueUrl=fifo, MessageBody=body, MessageGroupId=group)
    first = sqs.receive_message(QueueUrl=fifo, MaxNumberOfMessages=10)["Messages"]
    yield "fifo_first_receive", sorted(m["Body"] for m in first)
    yield "fifo_group_blocked", outcome(sqs.receive_message, QueueUrl=fifo, MaxNumberOfMessages=10)
    for m in first:
        sqs.delete_message(QueueUrl=fifo, ReceiptHandle=m["ReceiptHandle"])
    duplicate = sqs.send_message(QueueUrl=fifo, MessageBody="same", MessageGroupId="g")
    again = sqs.send_message(QueueUrl=fifo, MessageBody="same", MessageGroupId="g")
    yield "dedup_same_message_id", duplicate["MessageId"] == again["MessageId"]
    [m] = sqs.receive_message(QueueUrl=fifo)["Messages"]
    sqs.delete_message(QueueUrl=fifo, ReceiptHandle=m["ReceiptHandle"])
    sqs.send_message(QueueUrl=fifo, MessageBody="same", MessageGroupId="g")
    yield "dedup_remembered_after_delete", outcome(sqs.receive_message, QueueUrl=fifo)

    attempt_queue = sqs.create_queue(QueueName=f"{name}-attempt.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    sqs.send_message(QueueUrl=attempt_queue, MessageBody="m", MessageGroupId="g", MessageDeduplicationId="m")
    sqs.receive_message(QueueUrl=attempt_queue, ReceiveRequestAttemptId="try")
    retry = sqs.receive_message(QueueUrl=attempt_queue, ReceiveRequestAttemptId="try")
    yield "receive_attempt_id_retry", [m["Body"] for m in retry.get("Messages", [])]

    dlq = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    source = sqs.create_queue(
        QueueName=f"{name}-source",
        Attributes={"RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 1})},
    )["QueueUrl"]
    sqs.send_message(QueueUrl=source, MessageBody="poison")
    sqs.receive_message(QueueUrl=source, VisibilityTimeout=0)
    yield "redrive_source_after_limit", outcome(sqs.receive_message, QueueUrl=source)
    dead = sqs.receive_message(QueueUrl=dlq).get("Messages", [])
    yield "redrive_dead_letter", [m["Body"] for m in dead]
    yield "dead_letter_sources", outcome(sqs.list_dead_letter_source_queues, QueueUrl=dlq)
    yield "remove_unknown_permission", outcome(sqs.remove_permission, QueueUrl=url, Label="nope")
    sqs.delete_queue(QueueUrl=url)
    yield "use_deleted_queue", outcome(sqs.send_message, QueueUrl=url, MessageBody="x")


def main():
    report(dict(scenario(client(sys.argv[1]))), dict(scenario(client(sys.argv[2]))), KNOWN_DIVERGENCES)


if __name__ == "__main__":
    main()
