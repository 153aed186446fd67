"""A cookie jar that keeps nothing, for the clients of APIs that authenticate by header.

httpx offers every response's headers to its client's cookie jar and every request to it for a
Cookie header, through the standard library's `http.cookiejar`, even when no cookie is ever set:
about a tenth of the CPU of an Intercom call in a worker (issue 18's profile). Intercom and the
providers authenticate each request by its headers; a cookie one of them set could only carry
state from one job's call into another's.
"""

from __future__ import annotations

from http.cookiejar import CookieJar
from typing import Any


class NoCookies(CookieJar):
    def extract_cookies(self, response: Any, request: Any) -> None:
        """Keep none."""

    def add_cookie_header(self, request: Any) -> None:
        """Send none."""
