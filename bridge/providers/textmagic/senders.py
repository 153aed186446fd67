"""The dedicated numbers of TextMagic's account, as its REST API v2 lists them.

`GET {TEXTMAGIC_API_URL}/api/v2/numbers?page=…&limit=…` with `X-TM-Username` / `X-TM-Key`, like
every v2 call (textmagic-rest-python-v2 `NumbersApi.get_user_dedicated_numbers`: "Get user's
dedicated numbers", `page` from 1, `limit` default 10; `docs/GetUserDedicatedNumbersPaginatedResponse.md`,
`docs/UsersInbound.md`) answers `{"page", "pageCount", "limit", "resources": [{"id", "phone":
"447860021130", "status": "A" | "U", "country", "purchasedAt", "expireAt", "user"}]}`. The page
names the next one by its number: the reader asks for `page + 1` while it is below `pageCount`.
`phone` is international digits without `+`, as `TextMagicAdapter.outbound_address` names the
business; an unused (`U`) number is the account's as much as an active one.

The list holds the numbers a customer can answer. TextMagic also sends from approved sender ids
(`/api/v2/senderids`, names, which cannot be answered) and from shared numbers that are not the
account's; neither is listed, so a `from` that is not a dedicated number is not found here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

import httpx

from bridge.core.settings import Settings
from bridge.model.messages import Channel
from bridge.providers.addressing import digits_number
from bridge.providers.base import BusinessAddress, refused
from bridge.providers.listing import pages
from bridge.providers.textmagic.send import PROVIDER, read_error

PATH = "/api/v2/numbers"
PAGE_SIZE = 100
SMS = frozenset({Channel.SMS})


def list_senders(settings: Settings, http: httpx.Client) -> list[BusinessAddress]:
    """Every dedicated number of `TEXTMAGIC_USERNAME`'s account, all pages."""
    headers = {
        "X-TM-Username": settings.secret("textmagic_username"),
        "X-TM-Key": settings.secret("textmagic_api_key"),
        "Accept": "application/json",
    }
    url = f"{settings.textmagic_api_url.rstrip('/')}{PATH}?{_page_query(1)}"
    found: list[BusinessAddress] = []
    for page in pages(
        http,
        url,
        provider=PROVIDER,
        next_page=_following_page,
        error=read_error,
        what="number list",
        headers=headers,
    ):
        items = page.get("resources")
        if not isinstance(items, list):
            raise refused(PROVIDER, "TextMagic's number list has no resources[]")
        found += [address for item in items if isinstance(item, dict) and (address := number_address(item))]
    return found


def number_address(item: Mapping[str, Any]) -> BusinessAddress | None:
    """One dedicated number; None without its `phone`."""
    phone = item.get("phone")
    if not isinstance(phone, str) or not phone.strip():
        return None
    return BusinessAddress(provider=PROVIDER, address=digits_number(phone), channels=SMS)


def _following_page(page: dict[str, Any]) -> str | None:
    number, count = page.get("page"), page.get("pageCount")
    if not isinstance(number, int) or not isinstance(count, int) or number >= count:
        return None
    return "?" + _page_query(number + 1)


def _page_query(page: int) -> str:
    return urlencode({"page": page, "limit": PAGE_SIZE})
