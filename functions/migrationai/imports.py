"""…-imports: a batch of records from a known source system."""

from sqs import Refused, field, handler_for

SOURCES = {"hubspot", "salesforce", "pipedrive", "csv"}


def process(message):
    source = field(message, "source").lower()
    if source not in SOURCES:
        raise Refused(f"source {source!r} is not one of {sorted(SOURCES)}")
    records = field(message, "records", list)
    return {"source": source, "records": len(records), "kinds": sorted({r.get("type", "unknown") for r in records if isinstance(r, dict)})}


handler = handler_for(process)
