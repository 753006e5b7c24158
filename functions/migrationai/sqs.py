"""What every MigrationAI function shares: Lambda's SQS batch loop with partial batch
responses (`ReportBatchItemFailures`). A function is `handler_for(process)`, where
`process(message)` takes one message's JSON body and returns what it made of it, or raises
`Refused` (or any ValueError) for a message it cannot take: only those are reported as failed
and retried, and after three receives SQS (or Conveyor) moves them to the dead-letter queue.
The same module runs in the Lambda image and under Conveyor (functions/lambda_runner.py).
Standard library only."""

import json


class Refused(ValueError):
    """A message the function will not process as it is."""


def field(message, name, kind=str):
    """`message[name]` as `kind`, or Refused naming what is missing."""
    value = message.get(name) if isinstance(message, dict) else None
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        raise Refused(f"the message needs {name} ({kind.__name__})")
    return value


def handler_for(process):
    def handler(event, context):
        failures, done = [], []
        for record in event["Records"]:
            message_id = record["messageId"]
            try:
                outcome = process(json.loads(record["body"]))
            except ValueError as error:  # json.JSONDecodeError is one too
                print(f"message {message_id} refused: {error}")
                failures.append({"itemIdentifier": message_id})
                continue
            print(f"message {message_id}: {json.dumps(outcome, sort_keys=True)}")
            done.append({"messageId": message_id, "outcome": outcome})
        # Lambda reads only batchItemFailures; Conveyor keeps the rest in each result.
        return {"batchItemFailures": failures, "processed": done}

    return handler
