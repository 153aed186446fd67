"""The numbers Twilio's account sends SMS from: its phone numbers and its short codes.

Phone numbers: `GET {TWILIO_API_URL}/2010-04-01/Accounts/{AccountSid}/IncomingPhoneNumbers.json`,
short codes: `GET …/Accounts/{AccountSid}/SMS/ShortCodes.json`, both with HTTP Basic
`AccountSid:AuthToken` and `PageSize` (twilio-python `IncomingPhoneNumberList` and
`ShortCodeList`: their `_uri` and `page(page_size=…)`; twilio.com/docs/phone-numbers/api/
incomingphonenumber-resource, …/docs/sms/api/short-code-resource). Each answers
`{"incoming_phone_numbers" | "short_codes": [...], "next_page_uri", "page", "page_size", …}`
(twilio-python's `Page`: the records under the one key that is not paging metadata, the next
page at `next_page_uri`, a path on api.twilio.com with its query, null on the last page). A number
has `phone_number` in E.164, `friendly_name`, and `capabilities`
`{"voice", "sms", "mms", "fax"}` (twilio-oai `…incoming_phone_number_capabilities`): only one
whose `sms` is true sends SMS. A short code has `short_code` and `friendly_name`, and sends SMS.

WhatsApp: the senders Twilio sends WhatsApp from are not in these lists (a number registered for
WhatsApp may be one of them or not; the sandbox's `+14155238886` never is). Twilio lists them in
its Senders API, `GET https://messaging.twilio.com/v2/Channels/Senders`, a host the bridge has no
setting for (so no stand-in could answer for it either). The list is therefore complete for SMS
only (`TwilioAdapter.sender_channels`): a WhatsApp `from` on Twilio cannot be checked.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import httpx

from bridge.core.settings import Settings
from bridge.model.messages import Channel
from bridge.providers.addressing import e164_number
from bridge.providers.base import BusinessAddress, refused
from bridge.providers.listing import pages
from bridge.providers.twilio.check import PROVIDER, read_error

NUMBERS_PATH = "/2010-04-01/Accounts/{sid}/IncomingPhoneNumbers.json"
SHORT_CODES_PATH = "/2010-04-01/Accounts/{sid}/SMS/ShortCodes.json"
# Twilio's default is 50 a page, its maximum 1000 (the OpenAPI's `PageSize`).
PAGE_SIZE = 100
SMS = frozenset({Channel.SMS})


def list_senders(settings: Settings, http: httpx.Client) -> list[BusinessAddress]:
    """Every phone number and short code of `TWILIO_ACCOUNT_SID`, all pages; SMS-capable ones
    with the SMS channel, as `TwilioAdapter.outbound_address` names them (`+1415…`)."""
    settings.require("twilio_account_sid")
    sid = str(settings.twilio_account_sid)
    token = settings.secret("twilio_auth_token")
    base = settings.twilio_api_url.rstrip("/")
    found: list[BusinessAddress] = []
    for path, key, read in (
        (NUMBERS_PATH, "incoming_phone_numbers", number_address),
        (SHORT_CODES_PATH, "short_codes", short_code_address),
    ):
        url = f"{base}{path.format(sid=quote(sid, safe=''))}?PageSize={PAGE_SIZE}"
        for page in pages(
            http,
            url,
            provider=PROVIDER,
            next_page=lambda page: page.get("next_page_uri"),
            error=read_error,
            what="number list",
            auth=(sid, token),
        ):
            items = page.get(key)
            if not isinstance(items, list):
                raise refused(PROVIDER, f"Twilio's answer lists no {key}")
            found += [address for item in items if isinstance(item, dict) and (address := read(item))]
    return found


def number_address(item: Mapping[str, Any]) -> BusinessAddress | None:
    """One IncomingPhoneNumber; None without a `phone_number` (nothing could send from it)."""
    number = item.get("phone_number")
    if not isinstance(number, str) or not number.strip():
        return None
    capabilities = item.get("capabilities")
    sends_sms = isinstance(capabilities, dict) and capabilities.get("sms") is True
    return BusinessAddress(
        provider=PROVIDER,
        address=e164_number(number),
        channels=SMS if sends_sms else frozenset(),
        label=_text(item.get("friendly_name")),
    )


def short_code_address(item: Mapping[str, Any]) -> BusinessAddress | None:
    """One ShortCode; None without its `short_code`."""
    code = item.get("short_code")
    if not isinstance(code, str) or not code.strip():
        return None
    return BusinessAddress(
        provider=PROVIDER, address=e164_number(code), channels=SMS, label=_text(item.get("friendly_name"))
    )


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""
