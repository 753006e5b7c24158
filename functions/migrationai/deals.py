"""…-deals: an opportunity, its amount in minor units."""

from sqs import Refused, field, handler_for


def process(message):
    amount = message.get("amount")
    if isinstance(amount, bool) or not isinstance(amount, (int, float)) or amount < 0:
        raise Refused("a deal needs a non-negative amount")
    currency = field(message, "currency").upper()
    if len(currency) != 3 or not currency.isalpha():
        raise Refused(f"{currency!r} is not an ISO 4217 currency code")
    return {"title": field(message, "title"), "amount_minor": round(amount * 100), "currency": currency}


handler = handler_for(process)
