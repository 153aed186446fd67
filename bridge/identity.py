"""Who sent a message: classifying the sender ids providers give us.

A sender is one of: a phone number, a short code, an alphanumeric sender id (`MTN`, `INFO`), a
WhatsApp user known only by a business-scoped user id (BSUID, `US.13491208655302741918`, when the
user has a username and hides their number), or something we cannot read. Only phone numbers are
matched by phone; every kind has a stable `key` that the identity map and the per-sender lock use.

The raw id is kept exactly as the provider gave it: replies go back to that string, not to the
"corrected" E.164 (Meta rejects `549…` for Argentina; research/peers.md P2).
"""

from __future__ import annotations

import re
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from bridge.phones import international_digits_to_e164, strip_formatting, to_e164

# Meta's business-scoped user id: two-letter country, optional ENT. for a parent id, then up to 128
# alphanumerics (research/providers.md §1.1, Vonage's Java SDK BsuidTest).
_BSUID = re.compile(r"^[A-Z]{2}\.(ENT\.)?[A-Za-z0-9]{1,128}$")
_ALPHANUMERIC = re.compile(r"^(?=.*[A-Za-z])[A-Za-z0-9 ._&'+-]{1,16}$")
# Short codes are 3 to 6 digits nearly everywhere; `+2020` parses but is no phone (providers.md §7.2).
_SHORT_CODE_MAX_DIGITS = 6
_NATIONAL_SHORT_CODE_MAX_DIGITS = 8


class IdentityKind(StrEnum):
    PHONE = "phone"
    SHORT_CODE = "short_code"
    ALPHANUMERIC = "alphanumeric"
    WHATSAPP_USER = "whatsapp_user"
    UNKNOWN = "unknown"


class SenderIdentity(BaseModel):
    """A sender as the provider named it (`raw`), what kind of id it is, and its E.164 if a phone."""

    model_config = ConfigDict(frozen=True)

    kind: IdentityKind
    raw: str
    e164: str | None = None

    @property
    def key(self) -> str:
        """Stable key for the identity map and the per-sender lock: `phone:+14133881111`."""
        if self.kind is IdentityKind.PHONE and self.e164:
            return f"phone:{self.e164}"
        return f"{self.kind.value}:{self.raw}"


def classify_sender(
    raw: str,
    *,
    address: str | None = None,
    country_code_included: bool,
    default_region: str,
) -> SenderIdentity:
    """Classify a provider's sender id.

    `address` is the id without channel decoration (`+316…` for Twilio's `whatsapp:+316…`), and
    defaults to `raw`. `country_code_included` says the provider sends international digits even
    without a `+`, so no default region may be applied to them.
    """
    text = (raw if address is None else address).strip()
    if not text:
        return SenderIdentity(kind=IdentityKind.UNKNOWN, raw=raw)
    if _BSUID.match(text):
        return SenderIdentity(kind=IdentityKind.WHATSAPP_USER, raw=raw)
    compact = strip_formatting(text)
    plus = compact.startswith("+")
    digits = compact[1:] if plus else compact
    if not digits.isdigit():
        kind = IdentityKind.ALPHANUMERIC if _ALPHANUMERIC.match(text) else IdentityKind.UNKNOWN
        return SenderIdentity(kind=kind, raw=raw)
    if len(digits) <= _SHORT_CODE_MAX_DIGITS:
        return SenderIdentity(kind=IdentityKind.SHORT_CODE, raw=raw)
    e164 = _phone_e164(digits, plus=plus, country_code_included=country_code_included, region=default_region)
    if e164:
        return SenderIdentity(kind=IdentityKind.PHONE, raw=raw, e164=e164)
    if not plus and len(digits) <= _NATIONAL_SHORT_CODE_MAX_DIGITS:
        return SenderIdentity(kind=IdentityKind.SHORT_CODE, raw=raw)
    return SenderIdentity(kind=IdentityKind.UNKNOWN, raw=raw)


def _phone_e164(digits: str, *, plus: bool, country_code_included: bool, region: str) -> str | None:
    if plus or country_code_included:
        return international_digits_to_e164(digits)
    if digits.startswith("00"):
        return international_digits_to_e164(digits[2:])
    return to_e164(digits, region=region)
