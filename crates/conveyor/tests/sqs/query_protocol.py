"""The older SQS query protocol (form parameters in, XML out), as old SDKs and tools send it.

Usage: python3 query_protocol.py ENDPOINT_URL

Requests are built by hand with urllib and answers parsed with ElementTree, so this checks the
wire format itself rather than one SDK's tolerance of it.
"""

import base64
import hashlib
import struct
import sys
import urllib.error
import urllib.parse
import urllib.request
import uuid
import xml.etree.ElementTree as ET

ENDPOINT = sys.argv[1]
NS = {"sqs": "http://queue.amazonaws.com/doc/2012-11-05/"}


def call(params, url=ENDPOINT):
    """POST the form; returns (HTTP status, parsed XML root)."""
    data = urllib.parse.urlencode({"Version": "2012-11-05", **params}).encode()
    request = urllib.request.Request(
        url, data=data, headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, ET.fromstring(response.read())
    except urllib.error.HTTPError as e:
        return e.code, ET.fromstring(e.read())


def text(root, path):
    node = root.find(path, NS)
    assert node is not None, f"{path} missing in {ET.tostring(root).decode()}"
    return node.text or ""


def attributes_md5(attributes):
    digest = hashlib.md5()
    for name in sorted(attributes):
        data_type, value = attributes[name]
        for part in (name.encode(), data_type.encode()):
            digest.update(struct.pack(">I", len(part)) + part)
        raw = value if isinstance(value, bytes) else value.encode()
        digest.update(b"\x02" if isinstance(value, bytes) else b"\x01")
        digest.update(struct.pack(">I", len(raw)) + raw)
    return digest.hexdigest()


def main():
    name = f"query-{uuid.uuid4().hex[:8]}"
    status, root = call({"Action": "CreateQueue", "QueueName": name, "Attribute.1.Name": "VisibilityTimeout", "Attribute.1.Value": "40"})
    assert status == 200, ET.tostring(root)
    url = text(root, "sqs:CreateQueueResult/sqs:QueueUrl")
    assert url.endswith(f"/000000000000/{name}"), url
    assert text(root, "sqs:ResponseMetadata/sqs:RequestId")

    body = "tab\there & <there> ✓"
    status, root = call(
        {
            "Action": "SendMessage",
            "QueueUrl": url,
            "MessageBody": body,
            "MessageAttribute.1.Name": "s",
            "MessageAttribute.1.Value.DataType": "String",
            "MessageAttribute.1.Value.StringValue": "v",
            "MessageAttribute.2.Name": "b",
            "MessageAttribute.2.Value.DataType": "Binary",
            "MessageAttribute.2.Value.BinaryValue": base64.b64encode(b"\x00\x07").decode(),
        }
    )
    assert status == 200, ET.tostring(root)
    expected_md5 = attributes_md5({"s": ("String", "v"), "b": ("Binary", b"\x00\x07")})
    assert text(root, "sqs:SendMessageResult/sqs:MD5OfMessageBody") == hashlib.md5(body.encode()).hexdigest()
    assert text(root, "sqs:SendMessageResult/sqs:MD5OfMessageAttributes") == expected_md5

    # The query protocol may also address the queue by POSTing to its URL.
    status, root = call(
        {"Action": "ReceiveMessage", "AttributeName.1": "All", "MessageAttributeName.1": "All", "MaxNumberOfMessages": "5"},
        url=url,
    )
    assert status == 200, ET.tostring(root)
    message = root.find("sqs:ReceiveMessageResult/sqs:Message", NS)
    assert text(message, "sqs:Body") == body
    assert text(message, "sqs:MD5OfMessageAttributes") == expected_md5
    system = {text(a, "sqs:Name"): text(a, "sqs:Value") for a in message.findall("sqs:Attribute", NS)}
    assert system["ApproximateReceiveCount"] == "1", system
    attrs = {
        text(a, "sqs:Name"): (text(a, "sqs:Value/sqs:DataType"), a.find("sqs:Value", NS))
        for a in message.findall("sqs:MessageAttribute", NS)
    }
    assert base64.b64decode(text(attrs["b"][1], "sqs:BinaryValue")) == b"\x00\x07"
    handle = text(message, "sqs:ReceiptHandle")

    status, root = call(
        {
            "Action": "DeleteMessageBatch",
            "QueueUrl": url,
            "DeleteMessageBatchRequestEntry.1.Id": "good",
            "DeleteMessageBatchRequestEntry.1.ReceiptHandle": handle,
            "DeleteMessageBatchRequestEntry.2.Id": "bad",
            "DeleteMessageBatchRequestEntry.2.ReceiptHandle": "nonsense",
        }
    )
    assert status == 200, ET.tostring(root)
    assert text(root, "sqs:DeleteMessageBatchResult/sqs:DeleteMessageBatchResultEntry/sqs:Id") == "good"
    failed = root.find("sqs:DeleteMessageBatchResult/sqs:BatchResultErrorEntry", NS)
    assert text(failed, "sqs:Id") == "bad" and text(failed, "sqs:Code") == "ReceiptHandleIsInvalid"
    assert text(failed, "sqs:SenderFault") == "true"

    status, root = call({"Action": "GetQueueAttributes", "QueueUrl": url, "AttributeName.1": "VisibilityTimeout"})
    attributes = {text(a, "sqs:Name"): text(a, "sqs:Value") for a in root.findall("sqs:GetQueueAttributesResult/sqs:Attribute", NS)}
    assert attributes == {"VisibilityTimeout": "40"}, attributes

    status, root = call({"Action": "ListQueues", "QueueNamePrefix": name})
    assert [u.text for u in root.findall("sqs:ListQueuesResult/sqs:QueueUrl", NS)] == [url]

    # Errors: the query code, the fault type, the HTTP status.
    status, root = call({"Action": "GetQueueUrl", "QueueName": f"{name}-missing"})
    assert status == 400
    assert text(root, "sqs:Error/sqs:Code") == "AWS.SimpleQueueService.NonExistentQueue"
    assert text(root, "sqs:Error/sqs:Type") == "Sender"
    status, root = call({"Action": "NoSuchAction"})
    assert status == 400 and text(root, "sqs:Error/sqs:Code") == "InvalidAction", ET.tostring(root)
    status, root = call({"Action": "SendMessage", "QueueUrl": url})
    assert status == 400 and text(root, "sqs:Error/sqs:Code") == "MissingParameter", ET.tostring(root)

    status, root = call({"Action": "DeleteQueue", "QueueUrl": url})
    assert status == 200 and root.tag.endswith("DeleteQueueResponse"), ET.tostring(root)
    print("ok   query protocol")


if __name__ == "__main__":
    main()
