"""The numbers Vonage's account owns, as its Numbers API lists them.

`GET {VONAGE_API_URL}/account/numbers?api_key=…&api_secret=…&index=…&size=…` (Nexmo/api-specification
`definitions/numbers.yml`, `getOwnedNumbers`: the key and secret as query parameters, like the
balance `bridge doctor` reads; `index` the page, from 1; `size` at most 100) answers
`{"count": <numbers owned>, "numbers": [{"country", "msisdn": "447700900000", "type", "features":
["VOICE", "SMS"], …}]}`. No page says where the next one is: the reader asks for the next index
while it has read fewer numbers than `count` and the last page was not empty. A number sends SMS
when `SMS` is among its features; its `msisdn` is international digits without `+`, as
`VonageAdapter.outbound_address` names the business.

WhatsApp: a number Vonage sends WhatsApp from belongs to a WhatsApp Business Account linked to a
Messages application, and need not be one of these; no list of them is documented that the API
key and secret can read (the WhatsApp Manager API, `whatsapp-provisioning.yml`, deploys and
verifies a number, and takes an application's JWT). So the list is complete for SMS only
(`VonageAdapter.sender_channels`).
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
from bridge.providers.vonage.check import read_error
from bridge.providers.vonage.send import NAME

PATH = "/account/numbers"
PAGE_SIZE = 100  # numbers.yml: `size` at most 100 (default 10)
SMS_FEATURE = "SMS"


def list_senders(settings: Settings, http: httpx.Client) -> list[BusinessAddress]:
    """Every number the account owns, all pages; those with the SMS feature with the SMS channel."""
    settings.require("vonage_api_key")
    # In every page's query, as the API documents them: a page is read by its query alone
    # (`pages`), and httpx's `params` would replace that query rather than add to it. Only the
    # path of a request is ever logged or reported (`api_call`).
    credentials = {
        "api_key": str(settings.vonage_api_key),
        "api_secret": settings.secret("vonage_api_secret"),
    }
    following = _FollowingPage(credentials)
    url = f"{settings.vonage_api_url.rstrip('/')}{PATH}{following.query()}"
    found: list[BusinessAddress] = []
    for page in pages(
        http,
        url,
        provider=NAME,
        next_page=following,
        error=read_error,
        what="number list",
        headers={"Accept": "application/json"},
    ):
        found += [address for item in _numbers(page) if (address := number_address(item))]
    return found


def number_address(item: Mapping[str, Any]) -> BusinessAddress | None:
    """One owned number; None without its `msisdn`."""
    msisdn = item.get("msisdn")
    if not isinstance(msisdn, str) or not msisdn.strip():
        return None
    features = item.get("features")
    sends_sms = isinstance(features, list) and any(
        isinstance(feature, str) and feature.upper() == SMS_FEATURE for feature in features
    )
    return BusinessAddress(
        provider=NAME,
        address=digits_number(msisdn),
        channels=frozenset({Channel.SMS}) if sends_sms else frozenset(),
    )


class _FollowingPage:
    """The next page's query, counted by this reader: Vonage answers how many numbers there are,
    not which page it gave."""

    def __init__(self, credentials: Mapping[str, str]) -> None:
        self.credentials = credentials
        self.index = 1
        self.read = 0

    def query(self) -> str:
        return "?" + urlencode({**self.credentials, "index": self.index, "size": PAGE_SIZE})

    def __call__(self, page: dict[str, Any]) -> str | None:
        numbers = _numbers(page)
        self.read += len(numbers)
        count = page.get("count")
        if not numbers or not isinstance(count, int) or self.read >= count:
            return None
        self.index += 1
        return self.query()


def _numbers(page: dict[str, Any]) -> list[dict[str, Any]]:
    """A page's numbers; none when the key is absent (the answer for an account without
    numbers may carry only its `count`), and refused when it is not a list."""
    numbers = page.get("numbers", [])
    if not isinstance(numbers, list):
        raise refused(NAME, "Vonage's number list is not a list")
    return [item for item in numbers if isinstance(item, dict)]
