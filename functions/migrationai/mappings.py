"""…-mappings: a source field mapped to the target's snake_case name."""

import re

from sqs import field, handler_for


def process(message):
    source = field(message, "source_field")
    target = message.get("target_field") or source
    snake = re.sub(r"[^a-z0-9]+", "_", re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", target).lower()).strip("_")
    return {"source_field": source, "target_field": snake}


handler = handler_for(process)
