"""…-companies: an account, keyed by its bare domain."""

from sqs import Refused, field, handler_for


def process(message):
    name = field(message, "name").strip()
    if not name:
        raise Refused("a company needs a name")
    domain = str(message.get("website") or "").lower().split("://")[-1].split("/")[0]
    return {"name": name, "domain": domain.removeprefix("www.") or None}


handler = handler_for(process)
