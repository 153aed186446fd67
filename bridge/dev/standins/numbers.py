"""The numbers the stand-ins' accounts send from, and each provider's list of them, a page at a time.

Every business number the sandbox and the tests send from is its account's: the sandbox's
`SANDBOX_BUSINESS_NUMBER` (Twilio, and Vonage and TextMagic in their digits) and
`SANDBOX_PHONE_NUMBER_ID` (Meta), the numbers the tests write first or reply from (`+12025550100`,
`+14155550111`, `+14155550199`, Vonage's `447700900000`, TextMagic's `447624800500`). Each list also
has what a real account has beside them: a voice-only number (Twilio, Vonage), a short code
(Twilio). The state copies them (`StandInState.reset` restores them), so a test may remove one.

The pages are each API's own (`bridge.providers.<provider>.senders` cites the documentation):
- Twilio's v2010 lists (`IncomingPhoneNumbers.json`, `SMS/ShortCodes.json`): the records under
  their key, `PageSize`/`Page`/`PageToken` paging, `next_page_uri` a path with its query, null on
  the last page.
- Vonage's `/account/numbers`: `{"count", "numbers"}`, `index` (from 1) and `size` paging, no link.
- TextMagic's `/api/v2/numbers`: `{"page", "pageCount", "limit", "resources"}`, `page`/`limit`.
- Meta's `phone_numbers` edge is paged like every Graph edge (`meta_templates.edge_page`).
Each answers at most `StandInState.page_size` items a page, whatever was asked, so listings cross
pages as a real account's do.
"""

from __future__ import annotations

import base64
import copy
import math
import zlib
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from bridge.dev.sandbox.credentials import SANDBOX_BUSINESS_NUMBER, SANDBOX_PHONE_NUMBER_ID

TWILIO_API_VERSION = "2010-04-01"


def _twilio_number(
    number: str, friendly_name: str, *, sms: bool = True, voice: bool = True
) -> dict[str, Any]:
    """An IncomingPhoneNumber resource (what the bridge reads of it, and what identifies it)."""
    return {
        "sid": f"PN{zlib.crc32(number.encode()):032x}",  # stable per number
        "account_sid": "",  # the stand-in's account, filled in when listed
        "phone_number": number,
        "friendly_name": friendly_name,
        "capabilities": {"voice": voice, "sms": sms, "mms": sms, "fax": False},
        "status": "in-use",
        "origin": "twilio",
    }


TWILIO_NUMBERS: tuple[dict[str, Any], ...] = (
    _twilio_number(SANDBOX_BUSINESS_NUMBER, "Support"),
    _twilio_number("+12025550100", "Sales"),
    _twilio_number("+14155550111", "Operations"),
    _twilio_number("+14155550199", "Replies"),
    _twilio_number("+14155550190", "Front desk (calls only)", sms=False),
)
TWILIO_SHORT_CODES: tuple[dict[str, Any], ...] = (
    {"sid": "SC" + "5" * 32, "account_sid": "", "short_code": "894546", "friendly_name": "Alerts"},
)
META_PHONE_NUMBERS: tuple[dict[str, Any], ...] = (
    {
        "id": SANDBOX_PHONE_NUMBER_ID,
        "display_phone_number": "+1 555-078-3881",
        "verified_name": "Stand-in Support",
        "code_verification_status": "VERIFIED",
        "quality_rating": "GREEN",
        "platform_type": "CLOUD_API",
    },
)
VONAGE_NUMBERS: tuple[dict[str, Any], ...] = (
    {"country": "GB", "msisdn": "447700900000", "type": "mobile-lvn", "features": ["VOICE", "SMS"]},
    {
        "country": "US",
        "msisdn": SANDBOX_BUSINESS_NUMBER.lstrip("+"),
        "type": "mobile-lvn",
        "features": ["SMS"],
    },
    {"country": "US", "msisdn": "14155550111", "type": "mobile-lvn", "features": ["SMS", "VOICE"]},
    {"country": "GB", "msisdn": "442079460000", "type": "landline", "features": ["VOICE"]},
)
TEXTMAGIC_NUMBERS: tuple[dict[str, Any], ...] = (
    {"id": 501, "phone": "447624800500", "status": "A", "country": {"id": "GB", "name": "United Kingdom"}},
    {
        "id": 502,
        "phone": SANDBOX_BUSINESS_NUMBER.lstrip("+"),
        "status": "U",
        "country": {"id": "US", "name": "United States"},
    },
)


def twilio_numbers() -> list[dict[str, Any]]:
    """A fresh copy of Twilio's phone numbers, for one state."""
    return copy.deepcopy(list(TWILIO_NUMBERS))


def twilio_short_codes() -> list[dict[str, Any]]:
    return copy.deepcopy(list(TWILIO_SHORT_CODES))


def meta_phone_numbers() -> list[dict[str, Any]]:
    return copy.deepcopy(list(META_PHONE_NUMBERS))


def vonage_numbers() -> list[dict[str, Any]]:
    return copy.deepcopy(list(VONAGE_NUMBERS))


def textmagic_numbers() -> list[dict[str, Any]]:
    return copy.deepcopy(list(TEXTMAGIC_NUMBERS))


def twilio_page(
    items: list[dict[str, Any]], *, key: str, account: str, path: str, size: int, start: int
) -> dict[str, Any]:
    """One page of a v2010 list: `items` from `start`, at most `size`, under `key`; `path` is the
    list's (`/2010-04-01/Accounts/AC…/IncomingPhoneNumbers.json`)."""
    chosen = [item | {"account_sid": account} for item in items[start : start + size]]
    page = start // size

    def page_uri(number: int, offset: int | None = None) -> str:
        query: dict[str, object] = {"PageSize": size, "Page": number}
        if offset is not None:
            query["PageToken"] = base64.b64encode(str(offset).encode()).decode()
        return f"{path}?{urlencode(query)}"

    following = start + len(chosen)
    return {
        key: chosen,
        "start": start,
        "end": max(start, following - 1),
        "page": page,
        "page_size": size,
        "uri": page_uri(page, start or None),
        "first_page_uri": page_uri(0),
        "previous_page_uri": page_uri(page - 1, max(0, start - size)) if start else None,
        "next_page_uri": page_uri(page + 1, following) if following < len(items) else None,
    }


def vonage_page(items: list[dict[str, Any]], *, index: int, size: int) -> dict[str, Any]:
    """Page `index` (from 1) of `size` numbers; `numbers` left out when there are none (the
    reader must not count on the key)."""
    chosen = items[(index - 1) * size : index * size]
    return {"count": len(items)} | ({"numbers": chosen} if chosen else {})


def textmagic_page(items: list[dict[str, Any]], *, page: int, limit: int) -> dict[str, Any]:
    """Page `page` (from 1) of `limit` dedicated numbers."""
    return {
        "page": page,
        "pageCount": max(1, math.ceil(len(items) / limit)),
        "limit": limit,
        "resources": items[(page - 1) * limit : page * limit],
    }


def positive(query: Mapping[str, str], name: str, default: int) -> int | None:
    """The positive integer `query[name]` (`default` when absent), or None when it is not one."""
    try:
        value = int(query.get(name) or default)
    except ValueError:
        return None
    return value if value >= 1 else None
