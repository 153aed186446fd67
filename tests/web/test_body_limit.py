"""`BRIDGE_MAX_BODY_BYTES` on every route that reads a body, over real HTTP (bridge.web.body_limit).

Each kind of route refuses a body one byte over the limit with a 413 that says why, whether the
client declared its length (Content-Length) or streamed it in chunks with no length at all, and
reads a body exactly at the limit as usual. A provider webhook's refusal is still counted as
`too_large`. The limit is set low so that a refused body fits in the sockets' buffers: the
client finishes sending before it reads the answer, as a provider's client does.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from bridge.app import create_app
from bridge.core.context import HEADER
from bridge.core.settings import get_settings, reset_settings_cache
from bridge.runtime.serving import BackgroundServer
from tests.infra.test_metrics import scrape

LIMIT = 4096
ADMIN = {"Authorization": "Bearer test-admin-token"}  # BRIDGE_ADMIN_TOKEN in tests/conftest.py

# One route of each kind that reads a body: provider webhooks (inbound and status, read by the
# bridge), Intercom's webhooks, the inbox app, and the ops API (whose JSON FastAPI reads).
ROUTES = {
    "provider webhook": ("/webhooks/twilio", {}),
    "provider status webhook": ("/webhooks/twilio/status", {}),
    "intercom webhook": ("/intercom/webhooks", {}),
    "inbox app initialize": ("/intercom/inbox-app/initialize", {}),
    "inbox app submit": ("/intercom/inbox-app/submit", {}),
    "ops api": ("/admin/jobs/replay", {**ADMIN, "Content-Type": "application/json"}),
}


@pytest.fixture
def bridge(bridge_env, monkeypatch) -> Iterator[BackgroundServer]:
    """The bridge with a 4 KiB body limit (the lowest the settings take is 1 KiB)."""
    monkeypatch.setenv("BRIDGE_MAX_BODY_BYTES", str(LIMIT))
    reset_settings_cache()
    with BackgroundServer(create_app(get_settings())) as server:
        yield server


@pytest.fixture
def http(bridge) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=bridge.url, timeout=10.0) as client:
        yield client


def chunked(size: int, chunk: int = 1000) -> Iterator[bytes]:
    """`size` bytes as a stream of unknown length: httpx sends it with Transfer-Encoding: chunked."""
    for start in range(0, size, chunk):
        yield b"x" * min(chunk, size - start)


def post(http: httpx.Client, route: str, size: int, *, streamed: bool) -> httpx.Response:
    path, headers = ROUTES[route]
    body = chunked(size) if streamed else b"x" * size
    response = http.post(path, content=body, headers=headers)
    sent = response.request.headers
    if streamed:
        assert "content-length" not in sent and sent["transfer-encoding"] == "chunked"
    else:
        assert sent["content-length"] == str(size)
    return response


def assert_refused(response: httpx.Response) -> None:
    assert response.status_code == 413, response.text
    assert response.json() == {"detail": f"the body is larger than {LIMIT} bytes"}
    assert response.headers[HEADER]  # refused inside the request id's middleware


@pytest.mark.parametrize("streamed", [False, True], ids=["content-length", "chunked"])
@pytest.mark.parametrize("route", sorted(ROUTES))
def test_a_body_one_byte_over_the_limit_gets_413(http, route, streamed):
    assert_refused(post(http, route, LIMIT + 1, streamed=streamed))


@pytest.mark.parametrize("streamed", [False, True], ids=["content-length", "chunked"])
@pytest.mark.parametrize("route", sorted(ROUTES))
def test_a_body_at_the_limit_is_read_as_usual(http, route, streamed):
    response = post(http, route, LIMIT, streamed=streamed)
    # Refused for what it says (no signature, not JSON), not for its size.
    assert 400 <= response.status_code < 500 and response.status_code != 413, response.text
    assert "larger than" not in response.text


@pytest.mark.parametrize("route", sorted(ROUTES))
def test_a_stream_far_over_the_limit_is_cut_off_with_413(http, route):
    assert_refused(post(http, route, 10 * LIMIT, streamed=True))


def test_the_next_request_on_the_connection_is_answered(http):
    """After a refusal the server is still there for the client (a new connection if need be)."""
    assert_refused(post(http, "provider webhook", 10 * LIMIT, streamed=True))
    assert http.get("/healthz").json() == {"status": "ok"}


def test_a_provider_webhook_refused_for_its_size_is_counted_too_large_both_ways(bridge, http):
    before = scrape(http, bridge)
    for streamed in (False, True):
        assert_refused(post(http, "provider webhook", LIMIT + 1, streamed=streamed))
        assert_refused(post(http, "provider status webhook", LIMIT + 1, streamed=streamed))
    after = scrape(http, bridge)
    for kind in ("inbound", "status"):
        labels = {"provider": "twilio", "kind": kind, "outcome": "too_large"}
        assert after("bridge_webhooks_total", **labels) - before("bridge_webhooks_total", **labels) == 2


def test_a_route_that_reads_no_body_answers_as_usual(http):
    """The limit is on what the bridge reads: a body nobody reads costs nothing but the socket."""
    response = http.request("GET", "/healthz", content=b"x" * (LIMIT + 1))
    assert response.status_code == 200 and response.json() == {"status": "ok"}
