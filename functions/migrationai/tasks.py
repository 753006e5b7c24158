"""…-tasks: a to-do with its due date checked."""

import datetime

from sqs import Refused, field, handler_for


def process(message):
    due = field(message, "due")
    try:
        day = datetime.date.fromisoformat(due)
    except ValueError:
        raise Refused(f"due {due!r} is not a date like 2026-12-31") from None
    return {"title": field(message, "title"), "due": day.isoformat(), "weekday": day.strftime("%A")}


handler = handler_for(process)
