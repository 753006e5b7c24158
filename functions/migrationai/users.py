"""…-users: a seat in the target system, with a known role."""

from sqs import Refused, field, handler_for

ROLES = {"admin", "member", "viewer"}


def process(message):
    role = field(message, "role").lower()
    if role not in ROLES:
        raise Refused(f"role {role!r} is not one of {sorted(ROLES)}")
    return {"email": field(message, "email").lower(), "role": role}


handler = handler_for(process)
