"""…-reports: a migration's figures summed up."""

from sqs import Refused, field, handler_for


def process(message):
    counts = field(message, "counts", dict)
    if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in counts.values()):
        raise Refused("counts are whole numbers of records")
    total = sum(counts.values())
    return {"migration_id": field(message, "migration_id"), "total": total, "largest": max(counts, key=counts.get) if counts else None}


handler = handler_for(process)
