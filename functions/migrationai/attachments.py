"""…-attachments: a file to copy, with a safe name and a size limit."""

import re

from sqs import Refused, field, handler_for

MAX_BYTES = 100 * 1024 * 1024


def process(message):
    size = field(message, "size_bytes", int)
    if size > MAX_BYTES:
        raise Refused(f"{size} bytes is over the {MAX_BYTES}-byte limit")
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", field(message, "filename")).strip("._") or "file"
    return {"filename": name, "size_bytes": size}


handler = handler_for(process)
