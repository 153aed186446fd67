"""Where a phone number shows in text the bridge stored: the digits it is written with, and a test.

Forgetting a customer (`bridge.ops.forget`) finds most of their records by their identity key,
but a few hold the number only inside text: a provider's raw payload (form-encoded
`From=%2B14155550123`, Meta's `"wa_id": "14155550123"`, a national `0412 345 678`), a delivery
report's recipient, a merge's contact snapshot, a failed job's traceback. A number is looked
for there as whole runs of digits, never as a substring: `14155550123` inside a longer id is
some other number, and a customer's number must not take another customer's records with it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import unquote_plus

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat

from bridge.model.variants import phone_variants

# A run of digits, possibly split the way people write numbers: `+52 (55) 8714-3926`.
_WRITTEN = re.compile(r"\d(?:[ ().-]{0,2}\d)*")
_DIGITS = re.compile(r"\d+")
# Shorter runs are too common to mean one number (a year, a count, a short code).
_SHORTEST = 7


def number_forms(e164: str) -> frozenset[str]:
    """The digit strings `e164` and its country variants are written with: international
    (`14155550123`), after the `00` exit code, national with its trunk prefix (`030…`) and
    without (the national significant number)."""
    forms: set[str] = set()
    for number in (e164, *phone_variants(e164)):
        digits = number.lstrip("+")
        forms.update((digits, f"00{digits}"))
        try:
            parsed = phonenumbers.parse(number, None)
        except NumberParseException:
            continue
        national = "".join(_DIGITS.findall(phonenumbers.format_number(parsed, PhoneNumberFormat.NATIONAL)))
        forms.update((national, phonenumbers.national_significant_number(parsed)))
    return frozenset(form for form in forms if len(form) >= _SHORTEST)


def mentions(text: str, forms: Iterable[str]) -> bool:
    """Whether `text` (or its URL-decoded reading) writes one of `forms` as a whole number."""
    wanted = frozenset(forms)
    if not wanted or not text:
        return False
    readings = {text}
    if "%" in text or "+" in text:
        readings.add(unquote_plus(text))
    for reading in readings:
        for run in _WRITTEN.findall(reading):
            if run in wanted or "".join(_DIGITS.findall(run)) in wanted:
                return True
            if any(part in wanted for part in _DIGITS.findall(run)):
                return True
    return False
