"""SQS scenarios driven with boto3 (the JSON protocol) against a Conveyor SQS endpoint.

Usage: python3 boto3_scenarios.py ENDPOINT_URL [SCENARIO ...]

Each scenario asserts what SQS documents; the script prints one line per scenario and exits
non-zero if any failed. Run by crates/conveyor/tests/sqs_clients.rs against `conveyor serve`.
"""

import base64
import hashlib
import struct
import sys
import threading
import time
import traceback
import uuid

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

ENDPOINT = sys.argv[1]
sqs = boto3.client(
    "sqs",
    endpoint_url=ENDPOINT,
    region_name="us-east-1",
    aws_access_key_id="local",
    aws_secret_access_key="local",
    config=Config(retries={"max_attempts": 1}, read_timeout=30),
)


def unique(base):
    return f"{base}-{uuid.uuid4().hex[:8]}"


def error_code(call, *args, **kwargs):
    """The (exception class name, Error.Code, HTTP status) a call fails with."""
    try:
        call(*args, **kwargs)
    except ClientError as e:
        return (
            type(e).__name__,
            e.response["Error"]["Code"],
            e.response["ResponseMetadata"]["HTTPStatusCode"],
        )
    raise AssertionError(f"{call.__name__} succeeded, expected an error")


def attributes_md5(attributes):
    """SQS's documented message-attribute digest, computed independently of the server."""
    digest = hashlib.md5()
    for name in sorted(attributes):
        value = attributes[name]

        def put(data):
            digest.update(struct.pack(">I", len(data)) + data)

        put(name.encode())
        put(value["DataType"].encode())
        if "BinaryValue" in value:
            digest.update(b"\x02")
            put(value["BinaryValue"])
        else:
            digest.update(b"\x01")
            put(value["StringValue"].encode())
    return digest.hexdigest()


def receive_all(url, **kwargs):
    kwargs.setdefault("MaxNumberOfMessages", 10)
    return sqs.receive_message(QueueUrl=url, **kwargs).get("Messages", [])


# ---- scenarios ----------------------------------------------------------------------------


def basics_and_digests():
    url = sqs.create_queue(QueueName=unique("basics"))["QueueUrl"]
    attrs = {
        "text": {"DataType": "String", "StringValue": "héllo"},
        "count": {"DataType": "Number", "StringValue": "42"},
        "blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01\xff"},
        "custom": {"DataType": "String.custom", "StringValue": "x"},
    }
    body = "body with <xml> & ünïcode ✓"
    sent = sqs.send_message(
        QueueUrl=url,
        MessageBody=body,
        MessageAttributes=attrs,
        MessageSystemAttributes={
            "AWSTraceHeader": {"DataType": "String", "StringValue": "Root=1-abc"}
        },
    )
    assert sent["MD5OfMessageBody"] == hashlib.md5(body.encode()).hexdigest(), sent
    assert sent["MD5OfMessageAttributes"] == attributes_md5(attrs), sent
    assert "MD5OfMessageSystemAttributes" in sent, sent
    [m] = receive_all(url, MessageAttributeNames=["All"], MessageSystemAttributeNames=["All"])
    assert m["Body"] == body and m["MessageId"] == sent["MessageId"], m
    assert m["MD5OfBody"] == sent["MD5OfMessageBody"], m
    assert m["MessageAttributes"]["blob"]["BinaryValue"] == b"\x00\x01\xff", m
    assert m["MD5OfMessageAttributes"] == attributes_md5(attrs), m
    a = m["Attributes"]
    assert a["ApproximateReceiveCount"] == "1" and a["AWSTraceHeader"] == "Root=1-abc", a
    assert {"SenderId", "SentTimestamp", "ApproximateFirstReceiveTimestamp"} <= set(a), a
    sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])

    # Selection: only the named attributes come back, and the digest covers only them.
    sqs.send_message(QueueUrl=url, MessageBody="b", MessageAttributes=attrs)
    [m] = receive_all(url, MessageAttributeNames=["count", "text"], AttributeNames=["SentTimestamp"])
    assert set(m["MessageAttributes"]) == {"count", "text"}, m
    subset = {k: attrs[k] for k in ("count", "text")}
    assert m["MD5OfMessageAttributes"] == attributes_md5(subset), m
    assert set(m["Attributes"]) == {"SentTimestamp"}, m
    sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    assert receive_all(url) == []


def fifo_order_and_group_blocking():
    url = sqs.create_queue(
        QueueName=unique("order") + ".fifo",
        Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true"},
    )["QueueUrl"]
    for body in ["a1", "a2", "a3"]:
        sqs.send_message(QueueUrl=url, MessageBody=body, MessageGroupId="a")
    sqs.send_message(QueueUrl=url, MessageBody="b1", MessageGroupId="b")
    [first] = receive_all(url, MaxNumberOfMessages=1, AttributeNames=["All"])
    assert first["Body"] == "a1", first
    assert first["Attributes"]["MessageGroupId"] == "a", first
    assert int(first["Attributes"]["SequenceNumber"]) > 0, first
    # Group a is blocked while a1 is in flight: only group b can be delivered.
    blocked = receive_all(url)
    assert [m["Body"] for m in blocked] == ["b1"], blocked
    sqs.delete_message(QueueUrl=url, ReceiptHandle=first["ReceiptHandle"])
    sqs.delete_message(QueueUrl=url, ReceiptHandle=blocked[0]["ReceiptHandle"])
    rest = receive_all(url)
    assert [m["Body"] for m in rest] == ["a2", "a3"], rest


def deduplication_including_after_delete():
    url = sqs.create_queue(QueueName=unique("dedup") + ".fifo", Attributes={"FifoQueue": "true"})[
        "QueueUrl"
    ]
    one = sqs.send_message(QueueUrl=url, MessageBody="x", MessageGroupId="g", MessageDeduplicationId="d1")
    two = sqs.send_message(QueueUrl=url, MessageBody="x", MessageGroupId="g", MessageDeduplicationId="d1")
    assert one["MessageId"] == two["MessageId"], (one, two)
    [m] = receive_all(url)
    sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    # Within the five-minute window the id is still remembered after the delete.
    sqs.send_message(QueueUrl=url, MessageBody="x", MessageGroupId="g", MessageDeduplicationId="d1")
    assert receive_all(url) == []
    code = error_code(sqs.send_message, QueueUrl=url, MessageBody="x", MessageGroupId="g")
    assert code[1] == "InvalidParameterValue", code


def visibility_changes():
    url = sqs.create_queue(QueueName=unique("vis"), Attributes={"VisibilityTimeout": "60"})["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="v")
    [m] = receive_all(url)
    assert receive_all(url) == []
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0)
    [again] = receive_all(url, AttributeNames=["ApproximateReceiveCount"])
    assert again["Attributes"]["ApproximateReceiveCount"] == "2", again
    # The old handle is stale now: it cannot extend the message.
    result = sqs.change_message_visibility_batch(
        QueueUrl=url,
        Entries=[
            {"Id": "good", "ReceiptHandle": again["ReceiptHandle"], "VisibilityTimeout": 120},
            {"Id": "bad", "ReceiptHandle": "not-a-handle", "VisibilityTimeout": 120},
        ],
    )
    assert [e["Id"] for e in result["Successful"]] == ["good"], result
    [failed] = result["Failed"]
    assert failed["Id"] == "bad" and failed["SenderFault"] is True, failed
    assert failed["Code"] == "ReceiptHandleIsInvalid", failed
    code = error_code(
        sqs.change_message_visibility, QueueUrl=url, ReceiptHandle=again["ReceiptHandle"], VisibilityTimeout=43201
    )
    assert code[1] == "InvalidParameterValue", code


def redrive_to_dlq_and_move_back():
    dlq_url = sqs.create_queue(QueueName=unique("dlq"))["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    src_url = sqs.create_queue(
        QueueName=unique("src"),
        Attributes={"RedrivePolicy": f'{{"deadLetterTargetArn":"{dlq_arn}","maxReceiveCount":"1"}}'},
    )["QueueUrl"]
    sqs.send_message(QueueUrl=src_url, MessageBody="poison")
    [m] = receive_all(src_url, VisibilityTimeout=0)
    assert receive_all(src_url) == []  # the second receive moved it to the dead-letter queue
    [dead] = receive_all(dlq_url, AttributeNames=["All"], VisibilityTimeout=0)
    assert dead["Body"] == "poison" and dead["MessageId"] == m["MessageId"], dead
    assert dead["Attributes"]["DeadLetterQueueSourceArn"].endswith(src_url.rsplit("/", 1)[1]), dead
    sources = sqs.list_dead_letter_source_queues(QueueUrl=dlq_url)["queueUrls"]
    assert sources == [src_url], sources

    handle = sqs.start_message_move_task(SourceArn=dlq_arn)["TaskHandle"]
    deadline = time.time() + 15
    while True:
        [task] = sqs.list_message_move_tasks(SourceArn=dlq_arn)["Results"]
        if task["Status"] == "COMPLETED":
            break
        assert task["Status"] == "RUNNING" and task["TaskHandle"] == handle, task
        assert time.time() < deadline, f"move task still {task}"
        time.sleep(0.2)
    assert task["ApproximateNumberOfMessagesMoved"] == 1, task
    [back] = receive_all(src_url)
    assert back["Body"] == "poison", back
    # A finished task cannot be cancelled; an unknown handle is not found.
    code = error_code(sqs.cancel_message_move_task, TaskHandle=handle)
    assert code[0] == "UnsupportedOperation", code
    code = error_code(sqs.cancel_message_move_task, TaskHandle="no-such-task")
    assert code[:2] == ("ResourceNotFoundException", "ResourceNotFoundException"), code


def batch_partial_failures():
    url = sqs.create_queue(QueueName=unique("batch"))["QueueUrl"]
    result = sqs.send_message_batch(
        QueueUrl=url,
        Entries=[
            {"Id": "ok", "MessageBody": "fine", "MessageAttributes": {"k": {"DataType": "String", "StringValue": "v"}}},
            {"Id": "late", "MessageBody": "too late", "DelaySeconds": 901},
        ],
    )
    [ok] = result["Successful"]
    assert ok["Id"] == "ok" and ok["MD5OfMessageBody"] == hashlib.md5(b"fine").hexdigest(), ok
    assert ok["MD5OfMessageAttributes"] == attributes_md5({"k": {"DataType": "String", "StringValue": "v"}}), ok
    [late] = result["Failed"]
    assert late["Id"] == "late" and late["Code"] == "InvalidParameterValue" and late["SenderFault"], late
    [m] = receive_all(url)
    deleted = sqs.delete_message_batch(
        QueueUrl=url,
        Entries=[{"Id": "a", "ReceiptHandle": m["ReceiptHandle"]}, {"Id": "b", "ReceiptHandle": "garbage"}],
    )
    assert [e["Id"] for e in deleted["Successful"]] == ["a"], deleted
    assert [(e["Id"], e["Code"]) for e in deleted["Failed"]] == [("b", "ReceiptHandleIsInvalid")], deleted


def long_poll_returns_when_a_message_arrives():
    url = sqs.create_queue(QueueName=unique("poll"))["QueueUrl"]
    received = {}

    def poll():
        started = time.time()
        received["messages"] = receive_all(url, WaitTimeSeconds=15)
        received["seconds"] = time.time() - started

    t = threading.Thread(target=poll)
    t.start()
    time.sleep(1.0)
    sqs.send_message(QueueUrl=url, MessageBody="wake up")
    t.join(20)
    assert [m["Body"] for m in received["messages"]] == ["wake up"], received
    assert received["seconds"] < 10, received
    started = time.time()
    assert receive_all(url, WaitTimeSeconds=1) == []
    assert time.time() - started >= 0.9


def error_codes():
    missing = f"{ENDPOINT}/000000000000/{unique('missing')}"
    e = error_code(sqs.get_queue_url, QueueName=unique("missing"))
    assert e == ("QueueDoesNotExist", "AWS.SimpleQueueService.NonExistentQueue", 400), e
    e = error_code(sqs.send_message, QueueUrl=missing, MessageBody="x")
    assert e[0] == "QueueDoesNotExist", e
    name = unique("exists")
    url = sqs.create_queue(QueueName=name, Attributes={"DelaySeconds": "1"})["QueueUrl"]
    assert sqs.create_queue(QueueName=name, Attributes={"DelaySeconds": "1"})["QueueUrl"] == url
    e = error_code(sqs.create_queue, QueueName=name, Attributes={"DelaySeconds": "2"})
    assert e == ("QueueNameExists", "QueueAlreadyExists", 400), e
    e = error_code(sqs.delete_message, QueueUrl=url, ReceiptHandle="bogus")
    assert e[1] == "ReceiptHandleIsInvalid", e
    e = error_code(
        sqs.send_message_batch,
        QueueUrl=url,
        Entries=[{"Id": "same", "MessageBody": "1"}, {"Id": "same", "MessageBody": "2"}],
    )
    assert e == ("BatchEntryIdsNotDistinct", "AWS.SimpleQueueService.BatchEntryIdsNotDistinct", 400), e
    e = error_code(
        sqs.send_message_batch, QueueUrl=url, Entries=[{"Id": f"e{i}", "MessageBody": "x"} for i in range(11)]
    )
    assert e == ("TooManyEntriesInBatchRequest", "AWS.SimpleQueueService.TooManyEntriesInBatchRequest", 400), e
    e = error_code(sqs.send_message_batch, QueueUrl=url, Entries=[])
    assert e[0] == "EmptyBatchRequest", e
    e = error_code(sqs.send_message, QueueUrl=url, MessageBody="x", DelaySeconds=1000)
    assert e == ("ClientError", "InvalidParameterValue", 400), e
    e = error_code(sqs.get_queue_attributes, QueueUrl=url, AttributeNames=["NoSuchThing"])
    assert e[0] == "InvalidAttributeName", e
    e = error_code(sqs.create_queue, QueueName="bad name!")
    assert e[1] == "InvalidParameterValue", e
    e = error_code(sqs.send_message, QueueUrl=url, MessageBody="\x01")
    assert e[0] == "InvalidMessageContents", e
    sqs.purge_queue(QueueUrl=url)
    e = error_code(sqs.purge_queue, QueueUrl=url)
    assert e == ("PurgeQueueInProgress", "AWS.SimpleQueueService.PurgeQueueInProgress", 403), e


def list_queues_prefix_and_pagination():
    prefix = unique("page")
    names = sorted(f"{prefix}-{i}" for i in range(5))
    for n in names:
        sqs.create_queue(QueueName=n)
    everything = sqs.list_queues(QueueNamePrefix=prefix)
    assert [u.rsplit("/", 1)[1] for u in everything["QueueUrls"]] == names, everything
    assert "NextToken" not in everything
    seen, token = [], None
    while True:
        kwargs = {"QueueNamePrefix": prefix, "MaxResults": 2}
        if token:
            kwargs["NextToken"] = token
        page = sqs.list_queues(**kwargs)
        seen += [u.rsplit("/", 1)[1] for u in page.get("QueueUrls", [])]
        token = page.get("NextToken")
        if not token:
            break
    assert seen == names, seen
    assert "QueueUrls" not in sqs.list_queues(QueueNamePrefix=unique("none"))


def tags_and_permissions():
    url = sqs.create_queue(QueueName=unique("tags"), tags={"team": "core"})["QueueUrl"]
    sqs.tag_queue(QueueUrl=url, Tags={"env": "local"})
    assert sqs.list_queue_tags(QueueUrl=url)["Tags"] == {"team": "core", "env": "local"}
    sqs.untag_queue(QueueUrl=url, TagKeys=["team"])
    assert sqs.list_queue_tags(QueueUrl=url)["Tags"] == {"env": "local"}
    sqs.add_permission(QueueUrl=url, Label="partner", AWSAccountIds=["111122223333"], Actions=["SendMessage"])
    policy = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"])["Attributes"]["Policy"]
    assert '"Sid":"partner"' in policy and "111122223333" in policy, policy
    e = error_code(sqs.add_permission, QueueUrl=url, Label="partner", AWSAccountIds=["111122223333"], Actions=["*"])
    assert e[1] == "InvalidParameterValue", e
    sqs.remove_permission(QueueUrl=url, Label="partner")
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert "Policy" not in attributes, attributes
    e = error_code(sqs.remove_permission, QueueUrl=url, Label="partner")
    assert e[1] == "InvalidParameterValue", e


def receive_request_attempt_id():
    url = sqs.create_queue(QueueName=unique("attempt") + ".fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    for i in range(2):
        sqs.send_message(QueueUrl=url, MessageBody=f"m{i}", MessageGroupId="g", MessageDeduplicationId=f"d{i}")
    [first] = receive_all(url, MaxNumberOfMessages=1, ReceiveRequestAttemptId="try-1")
    [retry] = receive_all(url, MaxNumberOfMessages=1, ReceiveRequestAttemptId="try-1")
    assert (retry["MessageId"], retry["ReceiptHandle"]) == (first["MessageId"], first["ReceiptHandle"])
    assert receive_all(url, ReceiveRequestAttemptId="try-2") == []  # the group is still blocked
    sqs.delete_message(QueueUrl=url, ReceiptHandle=retry["ReceiptHandle"])
    [second] = receive_all(url, ReceiveRequestAttemptId="try-3")
    assert second["Body"] == "m1", second


def queue_attributes_round_trip():
    url = sqs.create_queue(QueueName=unique("attrs"))["QueueUrl"]
    sqs.set_queue_attributes(
        QueueUrl=url, Attributes={"VisibilityTimeout": "45", "MessageRetentionPeriod": "3600"}
    )
    a = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert a["VisibilityTimeout"] == "45" and a["MessageRetentionPeriod"] == "3600", a
    assert a["QueueArn"] == f"arn:aws:sqs:us-east-1:000000000000:{url.rsplit('/', 1)[1]}", a
    sqs.send_message(QueueUrl=url, MessageBody="count me")
    a = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])["Attributes"]
    assert a == {"ApproximateNumberOfMessages": "1"}, a
    sqs.delete_queue(QueueUrl=url)
    e = error_code(sqs.get_queue_attributes, QueueUrl=url, AttributeNames=["All"])
    assert e[0] == "QueueDoesNotExist", e


def message(e):
    """The Error.Message a ClientError carries."""
    return e.response["Error"]["Message"]


def failure(call, **kwargs):
    try:
        call(**kwargs)
    except ClientError as e:
        return e
    raise AssertionError(f"{call.__name__} succeeded, expected an error")


def aws_verified_answers():
    """What moto's tests marked aws_verified record real SQS answering, and LocalStack's
    AWS-recorded snapshots where moto has none (the source is named at each step)."""
    # _verify_unknown_queue_error: code, status, headers and wording.
    for e in [
        failure(sqs.get_queue_url, QueueName=unique("not-exists")),
        failure(sqs.get_queue_attributes, QueueUrl="http://whatever-incorrect-queue-address"),
        failure(sqs.delete_queue, QueueUrl=f"https://queue.amazonaws.com/000000000000/{unique('unknown')}"),
    ]:
        assert e.response["Error"]["Code"] == "AWS.SimpleQueueService.NonExistentQueue", e.response
        assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 400, e.response
        assert message(e) == "The specified queue does not exist.", message(e)
    # boto3's sqs.Queue("name") sends the bare name as QueueUrl; real SQS takes it.
    name = unique("bare")
    sqs.create_queue(QueueName=name)
    sqs.send_message(QueueUrl=name, MessageBody="by name")
    # test_send_message_delay_seconds_validation: FIFO takes DelaySeconds=0 only.
    fifo = unique("delay") + ".fifo"
    sqs.create_queue(QueueName=fifo, Attributes={"FifoQueue": "true"})
    e = failure(sqs.send_message, QueueUrl=fifo, MessageBody="t", DelaySeconds=5,
                MessageGroupId="g", MessageDeduplicationId=unique("d"))
    assert e.response["Error"]["Code"] == "InvalidParameterValue", e.response
    assert message(e) == ("Value 5 for parameter DelaySeconds is invalid. Reason: "
                          "The request include parameter that is not valid for this queue type."), message(e)
    sqs.send_message(QueueUrl=fifo, MessageBody="t", DelaySeconds=0, MessageGroupId="g",
                     MessageDeduplicationId=unique("d"))
    out = sqs.send_message_batch(QueueUrl=fifo, Entries=[
        {"Id": "z", "MessageBody": "t", "DelaySeconds": 0, "MessageGroupId": "g",
         "MessageDeduplicationId": unique("d")}])
    assert len(out["Successful"]) == 1 and not out.get("Failed"), out
    # A FIFO batch with an entry lacking its group fails as a whole (LocalStack, AWS-validated).
    e = failure(sqs.send_message_batch, QueueUrl=fifo, Entries=[
        {"Id": "a", "MessageBody": "t", "MessageGroupId": "g", "MessageDeduplicationId": unique("d")},
        {"Id": "b", "MessageBody": "t", "MessageDeduplicationId": unique("d")}])
    assert e.response["Error"]["Code"] == "MissingParameter", e.response
    # test_delete_message_batch_with_zero_entries and test_send_message_batch_errors.
    url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
    expected = {
        "delete": "There should be at least one DeleteMessageBatchRequestEntry in the request.",
        "send": "There should be at least one SendMessageBatchRequestEntry in the request.",
        "id": "A batch entry id can only contain alphanumeric characters, hyphens and underscores. "
              "It can be at most 80 letters long.",
        "long": "Batch requests cannot be longer than 1048576 bytes. You have sent 1048577 bytes.",
        "repeated": "Id id_2 repeated.",
        "many": "Maximum number of entries per request are 10. You have sent 11.",
    }
    e = failure(sqs.delete_message_batch, QueueUrl=url, Entries=[])
    assert e.response["Error"]["Code"] == "AWS.SimpleQueueService.EmptyBatchRequest", e.response
    assert message(e) == expected["delete"], message(e)
    assert message(failure(sqs.send_message_batch, QueueUrl=url, Entries=[])) == expected["send"]
    for bad in ["", ".!@#$%^&*()+=", "i" * 81]:
        e = failure(sqs.send_message_batch, QueueUrl=url, Entries=[{"Id": bad, "MessageBody": "b"}])
        assert message(e) == expected["id"], message(e)
    e = failure(sqs.send_message_batch, QueueUrl=url, Entries=[{"Id": "id_1", "MessageBody": "b" * 1048577}])
    assert message(e) == expected["long"], message(e)
    e = failure(sqs.send_message_batch, QueueUrl=url, Entries=[
        {"Id": "id_1", "MessageBody": "1"}, {"Id": "id_2", "MessageBody": "2"},
        {"Id": "id_2", "MessageBody": "2"}, {"Id": "id_1", "MessageBody": "1"}])
    assert message(e) == expected["repeated"], message(e)
    e = failure(sqs.send_message_batch, QueueUrl=url,
                Entries=[{"Id": f"id_{i}", "MessageBody": "b"} for i in range(11)])
    assert message(e) == expected["many"], message(e)
    # Attribute name prefixes: "Hel.*" selects Hello and Help.Me (LocalStack's AWS recording).
    sqs.purge_queue(QueueUrl=url)
    attrs = {n: {"DataType": "String", "StringValue": n} for n in ["Custom1", "Custom2", "Help.Me", "Other"]}
    sqs.send_message(QueueUrl=url, MessageBody="attrs", MessageAttributes=attrs)
    got = sqs.receive_message(QueueUrl=url, MessageAttributeNames=["Custom.*", "Hel.*"], VisibilityTimeout=0)
    assert sorted(got["Messages"][0]["MessageAttributes"]) == ["Custom1", "Custom2", "Help.Me"], got
    # A stale receipt handle has expired (InvalidParameterValue), as real SQS words it.
    first = sqs.receive_message(QueueUrl=url, VisibilityTimeout=0)["Messages"][0]["ReceiptHandle"]
    sqs.receive_message(QueueUrl=url, VisibilityTimeout=30)
    e = failure(sqs.change_message_visibility, QueueUrl=url, ReceiptHandle=first, VisibilityTimeout=5)
    assert e.response["Error"]["Code"] == "InvalidParameterValue", e.response
    assert message(e).endswith("Reason: The receipt handle has expired."), message(e)
    # Nothing selected: no Attributes key at all.
    assert "Attributes" not in sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"])
    # Empty Tags / TagKeys, and a deduplication id on a standard queue.
    assert failure(sqs.tag_queue, QueueUrl=url, Tags={}).response["Error"]["Code"] == "MissingParameter"
    e = failure(sqs.untag_queue, QueueUrl=url, TagKeys=[])
    assert message(e) == "Tag keys must be between 1 and 128 characters in length.", message(e)
    e = failure(sqs.send_message, QueueUrl=url, MessageBody="x", MessageDeduplicationId="d")
    assert e.response["Error"]["Code"] == "InvalidParameterValue", e.response


def queues_are_per_region():
    """A client signing for one region does not see another region's queues."""
    def client(region):
        return boto3.client("sqs", endpoint_url=ENDPOINT, region_name=region, aws_access_key_id="local",
                            aws_secret_access_key="local", config=Config(retries={"max_attempts": 1}))
    west1, west2 = client("us-west-1"), client("us-west-2")
    name = unique("regional")
    url = west2.create_queue(QueueName=name)["QueueUrl"]
    west2.send_message(QueueUrl=url, MessageBody="in us-west-2")
    arn = west2.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    assert arn == f"arn:aws:sqs:us-west-2:000000000000:{name}", arn
    for other in [west1, sqs]:
        assert name not in " ".join(other.list_queues(QueueNamePrefix=name).get("QueueUrls", [])), name
        e = error_code(other.get_queue_url, QueueName=name)
        assert e[0] == "QueueDoesNotExist", e
    # The same name in us-west-1 is a different queue.
    url1 = west1.create_queue(QueueName=name)["QueueUrl"]
    assert "Messages" not in west1.receive_message(QueueUrl=url1, WaitTimeSeconds=0)
    got = west2.receive_message(QueueUrl=url, WaitTimeSeconds=1)["Messages"]
    assert got[0]["Body"] == "in us-west-2", got


SCENARIOS = [
    basics_and_digests,
    fifo_order_and_group_blocking,
    deduplication_including_after_delete,
    visibility_changes,
    redrive_to_dlq_and_move_back,
    batch_partial_failures,
    long_poll_returns_when_a_message_arrives,
    error_codes,
    list_queues_prefix_and_pagination,
    tags_and_permissions,
    receive_request_attempt_id,
    queue_attributes_round_trip,
    aws_verified_answers,
    queues_are_per_region,
]


def main():
    chosen = set(sys.argv[2:])
    failures = 0
    for scenario in SCENARIOS:
        if chosen and scenario.__name__ not in chosen:
            continue
        try:
            scenario()
            print(f"ok   {scenario.__name__}")
        except Exception:  # report every scenario, then fail
            failures += 1
            print(f"FAIL {scenario.__name__}")
            traceback.print_exc(file=sys.stdout)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
