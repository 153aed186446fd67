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

import httpx

from bridge.core.settings import Settings
from bridge.model.messages import Channel
from bridge.providers.base import BusinessAddress
from bridge.providers.whatsapp.send import PROVIDER
from bridge.providers.whatsapp.templates import edge_items

PATH = "/{waba}/phone_numbers"
FIELDS = "id,display_phone_number,verified_name"
WHATSAPP = frozenset({Channel.WHATSAPP})


def list_senders(settings: Settings, http: httpx.Client) -> list[BusinessAddress]:
    """Every phone number of `WHATSAPP_BUSINESS_ACCOUNT_ID`, all pages, by its phone-number id."""
    items = edge_items(settings, http, path=PATH, fields=FIELDS, what="phone number list")
    return [address for item in items if (address := phone_number(item))]


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
