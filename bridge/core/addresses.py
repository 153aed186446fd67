"""A business address as one key, however a provider writes it: what consent and routes are kept by.

Providers write a business number `+12025550100` (Twilio), `12025550100` (Vonage, TextMagic) or
`whatsapp:+12025550100` (Twilio's WhatsApp); Meta names it by its phone number id, all digits.
SMS numbers always carry their country code, so any 7+ digits on SMS are `+digits`; on WhatsApp
only a `+` says a number. Short codes and sender ids stay as written, case-folded.
"""

from __future__ import annotations


def business_key(channel: str, business: str) -> str:
    """`sms:+12025550100`, `whatsapp:106540352242922`, `sms:12345`, `sms:acme`."""
    address = business.strip().removeprefix("whatsapp:")
    compact = "".join(ch for ch in address if ch.isalnum() or ch == "+")
    digits = compact.removeprefix("+")
    is_number = digits.isdigit() and len(digits) >= 7 and (channel == "sms" or compact.startswith("+"))
    return f"{channel}:{'+' + digits if is_number else address.casefold()}"
