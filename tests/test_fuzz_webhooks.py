"""Fuzzing every webhook route: whatever arrives, the answer is never a 5xx.

Unsigned garbage would stop at the signature check, so bodies are signed the way each provider
signs them: the parsers behind the check get the garbage too. Bodies are random bytes, random
JSON, random forms, and the providers' real sample payloads with random parts replaced.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bridge.providers.registry import ADAPTERS
from tests.fuzz_strategies import bodies, signed


@pytest.fixture
def client(bridge: Any) -> Any:
    """Requests to the bridge served on a real port; URLs are signed for BASE, its address."""
    with httpx.Client(base_url=bridge.url, timeout=10.0) as http:
        yield http


# The same examples on every run, so CI's verdict never depends on the draw (and no example
# database is written into the checkout).
DETERMINISTIC: dict[str, Any] = {
    "deadline": None,
    "derandomize": True,
    "database": None,
    "suppress_health_check": [HealthCheck.function_scoped_fixture],
}


@pytest.mark.parametrize("route", ["", "/status"])
@pytest.mark.parametrize("provider", sorted(ADAPTERS))
@settings(max_examples=60, **DETERMINISTIC)
@given(payload=bodies(), method=st.sampled_from(["POST", "POST", "GET"]))
def test_no_body_makes_a_webhook_route_fail_with_a_5xx(
    provider, route, payload, method, client, bridge, settings
):
    body, content_type = payload
    url, body, headers = signed(
        provider, bridge.url, f"/webhooks/{provider}{route}", body, content_type, settings
    )
    response = client.request(method, url, content=body if method == "POST" else None, headers=headers)
    assert response.status_code < 500, (response.status_code, response.text[:300])


@settings(max_examples=200, **DETERMINISTIC)
@given(path=st.text(max_size=40), query=st.text(max_size=60), method=st.sampled_from(["GET", "POST", "HEAD"]))
def test_no_url_makes_the_webhook_routes_fail_with_a_5xx(path, query, method, client):
    # Percent-encoded, as any HTTP client sends them: the bridge must answer every URL it can receive.
    response = client.request(method, f"/webhooks/{quote(path, safe='/')}?{quote(query, safe='=&')}")
    assert response.status_code < 500
