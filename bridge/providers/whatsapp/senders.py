"""The phone numbers of the WhatsApp Business Account, as Meta's Graph API lists them.

`GET {WHATSAPP_API_URL}/{WHATSAPP_BUSINESS_ACCOUNT_ID}/phone_numbers?fields=…` with the access
token as Bearer (developers.facebook.com/docs/whatsapp/business-management-api/manage-phone-numbers,
"Get All Phone Numbers"; the Graph reference's `whats-app-business-account/phone_numbers` edge):
`{"data": [{"id", "display_phone_number", "verified_name", "quality_rating", …}], "paging":
{"cursors": {"before", "after"}, "next"}}`, paged like every Graph edge (`next` absent on the last
page). A number's `id` is its phone-number id: what a message leaves from (`send` posts to
`/{id}/messages`) and what Meta's webhooks name the business by (`metadata.phone_number_id`), so
it is the address compared; `display_phone_number` ("+1 631-555-5555") is for people only.
The list is the account's, so it is complete for WhatsApp, the one channel Meta sends on.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

import httpx

from bridge.core.settings import Settings
from bridge.model.messages import Channel
from bridge.providers.base import BusinessAddress, refused
from bridge.providers.listing import nested, pages
from bridge.providers.whatsapp.send import PROVIDER, read_error
from bridge.providers.whatsapp.templates import business_account

PATH = "/{waba}/phone_numbers"
FIELDS = "id,display_phone_number,verified_name"
WHATSAPP = frozenset({Channel.WHATSAPP})


def list_senders(settings: Settings, http: httpx.Client) -> list[BusinessAddress]:
    """Every phone number of `WHATSAPP_BUSINESS_ACCOUNT_ID`, all pages, by its phone-number id."""
    waba, token = business_account(settings)
    url = f"{settings.whatsapp_api_url.rstrip('/')}{PATH.format(waba=waba)}?{urlencode({'fields': FIELDS})}"
    found: list[BusinessAddress] = []
    for page in pages(
        http,
        url,
        provider=PROVIDER,
        next_page=lambda page: nested(page, "paging", "next"),
        error=read_error,
        what="phone number list",
        headers={"Authorization": f"Bearer {token}"},
    ):
        items = page.get("data")
        if not isinstance(items, list):
            raise refused(PROVIDER, "Meta's phone number list has no data[]")
        found += [address for item in items if isinstance(item, dict) and (address := phone_number(item))]
    return found


def phone_number(item: Mapping[str, Any]) -> BusinessAddress | None:
    """One `data[]` entry; None without a numeric id (nothing could be sent from it). Its label
    is the business name WhatsApp shows, else the number as Meta displays it."""
    number_id = item.get("id")
    if not isinstance(number_id, str) or not number_id.strip().isdigit():
        return None
    label = item.get("verified_name") or item.get("display_phone_number")
    return BusinessAddress(
        provider=PROVIDER,
        address=number_id.strip(),
        channels=WHATSAPP,
        label=label if isinstance(label, str) else "",
    )
