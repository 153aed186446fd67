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

from bridge.model.phones import international_digits_to_e164, national_to_e164, strip_formatting
from bridge.model.variants import family_key, phone_variants

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
    """A sender as the provider named it (`raw`), what kind of id it is, and its E.164 if a phone.

    `address` is the id without channel decoration (`US.1349…` for Twilio's `whatsapp:US.1349…`),
    so the same WhatsApp user reached through Meta or through Twilio is one identity.
    """

    model_config = ConfigDict(frozen=True)

    kind: IdentityKind
    raw: str
    e164: str | None = None
    address: str = ""

    @property
    def bare(self) -> str:
        return self.address or self.raw

    @property
    def key(self) -> str:
        """Stable key for the identity map: `phone:+14133881111`, `whatsapp_user:US.1349…`."""
        if self.kind is IdentityKind.PHONE and self.e164:
            return f"phone:{self.e164}"
        return f"{self.kind.value}:{self.bare}"

    @property
    def variant_keys(self) -> tuple[str, ...]:
        """Identity-map keys of the number's other forms (Brazil's 9th digit, Mexico's 521…)."""
        if self.kind is not IdentityKind.PHONE or not self.e164:
            return ()
        return tuple(f"phone:{variant}" for variant in phone_variants(self.e164))

    @property
    def lane_key(self) -> str:
        """The sender lane (lock and FIFO): shared by a number and its variants, so two forms
        of one new number cannot both create a lead."""
        if self.kind is IdentityKind.PHONE and self.e164:
            return f"phone:{family_key(self.e164)}"
        return self.key


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

    def identity(kind: IdentityKind, e164: str | None = None) -> SenderIdentity:
        return SenderIdentity(kind=kind, raw=raw, e164=e164, address=text)

    if not text:
        return identity(IdentityKind.UNKNOWN)
    if _BSUID.match(text):
        return identity(IdentityKind.WHATSAPP_USER)
    compact = strip_formatting(text)
    plus = compact.startswith("+")
    digits = compact[1:] if plus else compact
    if not digits.isdigit():
        return identity(IdentityKind.ALPHANUMERIC if _ALPHANUMERIC.match(text) else IdentityKind.UNKNOWN)
    if len(digits) <= _SHORT_CODE_MAX_DIGITS:
        return identity(IdentityKind.SHORT_CODE)
    e164 = _phone_e164(digits, plus=plus, country_code_included=country_code_included, region=default_region)
    if e164:
        return identity(IdentityKind.PHONE, e164)
    if not plus and len(digits) <= _NATIONAL_SHORT_CODE_MAX_DIGITS:
        return identity(IdentityKind.SHORT_CODE)
    return identity(IdentityKind.UNKNOWN)


def _phone_e164(digits: str, *, plus: bool, country_code_included: bool, region: str) -> str | None:
    if plus or country_code_included:
        return international_digits_to_e164(digits)
    if digits.startswith("00"):
        return international_digits_to_e164(digits[2:])
    return national_to_e164(digits, region=region)


def sender_problem(sender: SenderIdentity) -> str | None:
    """Why a message cannot be delivered as it is: only an unreadable sender stops it (an
    alphanumeric sender or a short code is a contact like any other)."""
    if sender.kind is IdentityKind.UNKNOWN:
        return (
            "the sender id is neither a phone number, a short code, an alphanumeric id nor a WhatsApp user id"
        )
    return None
