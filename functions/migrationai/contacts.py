"""prod-migrationai-contacts: a CRM contact, normalised for the target system."""

from sqs import Refused, field, handler_for


def process(message):
    email = field(message, "email").strip().lower()
    if email.count("@") != 1 or "." not in email.split("@")[1]:
        raise Refused(f"{email!r} is not an e-mail address")
    first, _, last = field(message, "name").strip().partition(" ")
    return {"email": email, "first_name": first, "last_name": last.strip()}


handler = handler_for(process)
