"""…-exports: records rendered in the format asked for."""

import csv
import io
import json

from sqs import Refused, field, handler_for


def process(message):
    records = field(message, "records", list)
    fmt = field(message, "format")
    if fmt == "json":
        text = json.dumps(records)
    elif fmt == "csv":
        out = io.StringIO()
        columns = sorted({k for r in records for k in r})
        writer = csv.DictWriter(out, fieldnames=columns)
        writer.writeheader()
        writer.writerows(records)
        text = out.getvalue()
    else:
        raise Refused(f"format {fmt!r} is not csv or json")
    return {"format": fmt, "rows": len(records), "bytes": len(text.encode())}


handler = handler_for(process)
