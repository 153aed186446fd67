"""Phone numbers: E.164 normalization and the written forms a number is stored under.

Pure functions over `phonenumbers`. Two rules from the field (research/providers.md §7):
- Digits a provider sends in international form without `+` (Meta, Vonage, MessageBird, TextMagic,
  Twilio's `WaId`) get a `+` and are never parsed with a default region: `972987654321` parsed
  with region IL becomes `+972972987654321`.
- Validity is not a filter. Real WhatsApp ids (a Brazilian mobile without its 9th digit, Mexico's
  `521…`) are "invalid" to libphonenumber; a number that parses is kept as it is.
"""

from __future__ import annotations

import re

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat

_FORMATTING = re.compile(r"[\s\-().\u00a0]")


def strip_formatting(text: str) -> str:
    """`+1 (413) 388-1111` -> `+14133881111`: what people and CRMs add around digits."""
    return _FORMATTING.sub("", text.strip())


def to_e164(number: str, *, region: str | None = None) -> str | None:
    """E.164 of `number` (which starts with `+`, or is national to `region`), or None."""
    try:
        parsed = phonenumbers.parse(number, region)
    except NumberParseException:
        return None
    return phonenumbers.format_number(parsed, PhoneNumberFormat.E164)


def national_to_e164(number: str, *, region: str) -> str | None:
    """E.164 of a number written nationally in `region`, or None when it cannot be a number
    there (a UK `07700 900123` read as American): better an unreadable sender ops can see, and
    replay once `BRIDGE_DEFAULT_REGION` is right, than a contact under a number nobody has."""
    try:
        parsed = phonenumbers.parse(number, region)
    except NumberParseException:
        return None
    if not phonenumbers.is_possible_number(parsed):
        return None
    return phonenumbers.format_number(parsed, PhoneNumberFormat.E164)


def international_digits_to_e164(digits: str) -> str | None:
    """`16505551234` (country code included, no `+`) -> `+16505551234`, never a default region."""
    return to_e164("+" + digits.lstrip("+"))


def written_forms(e164: str) -> list[str]:
    """The strings a contact's `phone` may hold for this number, most likely first.

    Intercom matches `phone` as an exact string, and people store numbers however they typed them:
    `+14133881111`, `+1 413-388-1111`, `(413) 388-1111`, `4133881111`, `0014133881111`.
    """
    forms = [e164, e164.lstrip("+"), "00" + e164.lstrip("+")]
    try:
        parsed = phonenumbers.parse(e164, None)
    except NumberParseException:
        return forms
    international = phonenumbers.format_number(parsed, PhoneNumberFormat.INTERNATIONAL)
    national = phonenumbers.format_number(parsed, PhoneNumberFormat.NATIONAL)
    for form in (international, national, strip_formatting(national), strip_formatting(international)):
        if form and form not in forms:
            forms.append(form)
    return forms
