"""…-notes: a note attached to a record, trimmed to the target's limit."""

from sqs import Refused, field, handler_for

LIMIT = 65_000


def process(message):
    body = field(message, "body").strip()
    if not body:
        raise Refused("an empty note")
    return {"parent_id": field(message, "parent_id"), "body": body[:LIMIT], "truncated": len(body) > LIMIT}


handler = handler_for(process)
