"""…-notifications: a message rendered from its template."""

import string

from sqs import Refused, field, handler_for

TEMPLATES = {
    "migration_done": "Your migration from $source finished: $records records.",
    "migration_failed": "Your migration from $source stopped: $reason.",
}


def process(message):
    name = field(message, "template")
    if name not in TEMPLATES:
        raise Refused(f"no template {name!r}")
    try:
        text = string.Template(TEMPLATES[name]).substitute(field(message, "values", dict))
    except KeyError as missing:
        raise Refused(f"template {name} needs {missing}") from None
    return {"to": field(message, "to"), "text": text}


handler = handler_for(process)
