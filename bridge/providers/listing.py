"""Reading a provider's paginated list (its WhatsApp templates, its numbers) safely.

Meta and Twilio answer a page of items and the address of the next one (Graph's `paging.next`,
Twilio's `meta.next_page_url` or `next_page_uri`), URLs on their own hosts. Only that URL's query
is followed, on the API URL the operator configured: the credentials go to that server and
nowhere else (a stand-in or a proxy stays in the path), as they do for every other call. APIs
paged by number (Vonage's `index`, TextMagic's `page`) give no address: their readers name the
next page by its query alone, and it goes the same way. And never more than `MAX_PAGES` pages: a
`next` that loops, or an account far larger than any real one, must not hold a worker or a web
request for ever.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx

from bridge.providers.base import read_account, refused

# 50 pages of Twilio's 100 contents, or of Meta's 25 templates (its default page): past any real
# account (a WhatsApp Business Account holds at most a few thousand templates). The same bound
# holds for number lists: 50 pages of 100 numbers, or of Meta's 25 phone numbers (a WhatsApp
# Business Account has a few).
MAX_PAGES = 50

#: Reads a page's JSON object: the next page's URL (absolute, or only its `?query`), or None on
#: the last page.
NextPage = Callable[[dict[str, Any]], object]


def pages(
    http: httpx.Client,
    url: str,
    *,
    provider: str,
    next_page: NextPage,
    error: Callable[[httpx.Response], tuple[str | None, str]],
    what: str = "template list",
    **kwargs: Any,
) -> Iterator[dict[str, Any]]:
    """Each page's JSON object: `url` first, then `url`'s path with the query of the URL
    `next_page` reads from the page, until it reads none. Raises `ProviderRejected` past
    `MAX_PAGES` (naming `what` was being read), or for an answer that is not a JSON object
    (`read_account`)."""
    path = url.split("?", 1)[0]
    target = url
    for _ in range(MAX_PAGES):
        page = read_account(http, target, provider=provider, error=error, **kwargs)
        yield page
        following = next_page(page)
        if not isinstance(following, str) or not following.strip():
            return
        query = urlsplit(following.strip()).query
        if not query:
            raise refused(provider, "the next page's address carries no query to follow")
        target = f"{path}?{query}"
    raise refused(provider, f"the {what} goes on past {MAX_PAGES} pages: stopped reading it")


def nested(data: dict[str, Any], *names: str) -> object:
    """`data[a][b]…`, or None where a level is missing or not an object."""
    value: object = data
    for name in names:
        if not isinstance(value, dict):
            return None
        value = value.get(name)
    return value
