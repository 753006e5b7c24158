"""An example Lambda function for an SQS queue: counts the words of each message's `text`.

Written against Lambda's SQS event and partial batch responses
(`ReportBatchItemFailures`), so the same file runs as a Lambda (handler `app.handler`) and
under Conveyor (`kind = "function"`, through functions/lambda_runner.py). A message whose body
is not JSON with a `text` string is reported as failed, and only it is retried. Standard
library only.
"""

import json


def count_words(body):
    message = json.loads(body)
    text = message.get("text") if isinstance(message, dict) else None
    if not isinstance(text, str):
        raise ValueError("the body has no text to count")
    return len(text.split())


def handler(event, context):
    failures = []
    for record in event["Records"]:
        try:
            words = count_words(record["body"])
        except ValueError as error:
            print(f"message {record['messageId']} failed: {error}")
            failures.append({"itemIdentifier": record["messageId"]})
            continue
        print(f"message {record['messageId']}: {words} words")
    return {"batchItemFailures": failures}
