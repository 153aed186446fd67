"""What the provider stand-ins hold, and the checks every provider's endpoints share."""

from __future__ import annotations

import base64
import binascii
import hmac
import itertools
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request

from bridge.dev.standins import numbers
from bridge.dev.standins.templates import meta_templates, twilio_contents


@dataclass
class StoredMedia:
    content: bytes
    content_type: str
    status: int = 200  # to make a media URL fail on purpose (404 expired, 503 flaky)


@dataclass
class Sent:
    """A message the bridge sent through a stand-in, normalized so tests read every provider alike."""

    provider: str
    message_id: str
    to: str
    sender: str
    text: str = ""
    media: list[str] = field(default_factory=list)
    template: str | None = None
    variables: list[str] = field(default_factory=list)  # a template's values, in order
    header: str | None = None  # a template's header: its media URL or its text
    request: dict[str, Any] = field(default_factory=dict)  # what the provider's API received


@dataclass
class Read:
    """A read receipt the bridge sent through a stand-in: the customer's message it marked read."""

    provider: str
    message_id: str  # the customer's message, by the provider's id for it
    business_number: str = ""  # where the call went through, when its path says (Meta's phone-number id)
    request: dict[str, Any] = field(default_factory=dict)  # what the provider's API received


#: The suffix of a provider's fault queue for its read receipts (`/_standin/faults/whatsapp:read`):
#: they fail on their own, leaving its sends alone.
READ_FAULTS = ":read"


@dataclass
class StandInState:
    """Credentials the bridge must present, media to serve, sends received, faults to inject."""

    twilio_account_sid: str = ""
    twilio_auth_token: str = ""
    whatsapp_access_token: str = ""
    messagebird_access_key: str = ""
    vonage_api_key: str = ""
    vonage_api_secret: str = ""
    textmagic_username: str = ""
    textmagic_api_key: str = ""
    africastalking_username: str = ""
    africastalking_api_key: str = ""
    # The WhatsApp Business Account whose templates Meta's stand-in lists; "" lists them for any.
    whatsapp_business_account_id: str = ""
    require_auth: bool = True
    media: dict[str, StoredMedia] = field(default_factory=dict)
    requests: list[dict[str, Any]] = field(default_factory=list)
    sends: list[Sent] = field(default_factory=list)
    reads: list[Read] = field(default_factory=list)
    # provider -> statuses its send endpoint answers next, instead of sending (429, 500, 400…)
    faults: dict[str, deque[int]] = field(default_factory=dict)
    # provider -> the error codes those faults carry, where a test chose one (Twilio 21408)
    fault_codes: dict[str, deque[int | None]] = field(default_factory=dict)
    # The accounts' WhatsApp templates (`templates`), and how many a list answers a page: few, so
    # every listing crosses pages, as a real account's does.
    whatsapp_templates: list[dict[str, Any]] = field(default_factory=meta_templates)
    twilio_contents: list[dict[str, Any]] = field(default_factory=twilio_contents)
    # The numbers each account sends from, as its API lists them (`numbers`): remove one to make
    # a `from` the account does not own.
    twilio_numbers: list[dict[str, Any]] = field(default_factory=numbers.twilio_numbers)
    twilio_short_codes: list[dict[str, Any]] = field(default_factory=numbers.twilio_short_codes)
    whatsapp_phone_numbers: list[dict[str, Any]] = field(default_factory=numbers.meta_phone_numbers)
    vonage_numbers: list[dict[str, Any]] = field(default_factory=numbers.vonage_numbers)
    textmagic_numbers: list[dict[str, Any]] = field(default_factory=numbers.textmagic_numbers)
    page_size: int = 3
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1), repr=False)

    @staticmethod
    def credential_fields() -> tuple[str, ...]:
        """The credentials (and the account whose templates are listed), named like the bridge's
        settings fields, so they can be filled from them."""
        return (
            "twilio_account_sid",
            "twilio_auth_token",
            "whatsapp_access_token",
            "messagebird_access_key",
            "vonage_api_key",
            "vonage_api_secret",
            "textmagic_username",
            "textmagic_api_key",
            "africastalking_username",
            "africastalking_api_key",
            "whatsapp_business_account_id",
        )

    def reset(self) -> None:
        self.media.clear()
        self.requests.clear()
        self.sends.clear()
        self.reads.clear()
        self.faults.clear()
        self.fault_codes.clear()
        self.whatsapp_templates = meta_templates()
        self.twilio_contents = twilio_contents()
        self.twilio_numbers = numbers.twilio_numbers()
        self.twilio_short_codes = numbers.twilio_short_codes()
        self.whatsapp_phone_numbers = numbers.meta_phone_numbers()
        self.vonage_numbers = numbers.vonage_numbers()
        self.textmagic_numbers = numbers.textmagic_numbers()

    def next_id(self) -> int:
        return next(self._ids)

    def take_fault(self, provider: str) -> int | None:
        """The status the next send answers instead of sending, or None."""
        return self.take_refusal(provider)[0]

    def take_refusal(self, provider: str) -> tuple[int | None, int | None]:
        """The next fault's status and the error code a test chose for it (None: the usual one)."""
        pending, codes = self.faults.get(provider), self.fault_codes.get(provider)
        if not pending:
            return None, None
        return pending.popleft(), codes.popleft() if codes else None

    def record(self, sent: Sent) -> Sent:
        self.sends.append(sent)
        return sent

    def record_read(self, read: Read) -> Read:
        self.reads.append(read)
        return read


def basic_ok(request: Request, user: str, password: str) -> bool:
    """Whether the request carries HTTP Basic `user:password` (RFC 7617), the one check every
    stand-in whose API takes Basic shares. The scheme's name is case-insensitive (RFC 9110
    §11.1); no user configured refuses everything."""
    scheme, _, encoded = request.headers.get("authorization", "").strip().partition(" ")
    if scheme.lower() != "basic" or not user:
        return False
    try:
        given = base64.b64decode(encoded.strip(), validate=True)
    except binascii.Error:
        return False
    return hmac.compare_digest(given, f"{user}:{password}".encode())


def bearer_ok(request: Request, token: str) -> bool:
    return bool(token) and request.headers.get("authorization", "") == f"Bearer {token}"
