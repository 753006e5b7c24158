"""…-validations: which required fields a record lacks (an invalid record is a result, not a
failure)."""

from sqs import field, handler_for


def process(message):
    record = field(message, "record", dict)
    missing = [name for name in field(message, "required", list) if record.get(name) in (None, "")]
    return {"valid": not missing, "missing": missing}


handler = handler_for(process)
