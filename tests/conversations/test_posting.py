"""A customer's message posted into a conversation that exists, at most once: the attempt records
what it is about to post, and the next attempt looks in the conversation before posting again.

Real parts: the sandbox over HTTP, Valkey over a socket. A worker's death (kill -9) is staged in
the Intercom client's transport: the attempt stops there, before or after the sandbox applied
the reply, and nothing of it runs on; a fresh deliverer then retries, as RQ's would.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from bridge.conversations.delivery import Result
from bridge.intake.ledger import InboundLedger, RawPayload, Status, inbound_id
from bridge.intercom.client import IntercomClient
from tests.conversations.support import deliverer, known_conversation
from tests.helpers import inbound_sms
from tests.intercom_openapi import conformance_problems


class Killed(BaseException):
    """The worker's end: not an error anything catches, so nothing after it runs."""


class DiesAtTheReply(httpx.BaseTransport):
    """Real HTTP to the sandbox, until the customer's reply: the process dies before sending it,
    or once the sandbox applied it, before the answer is read."""

    def __init__(self, *, applied: bool) -> None:
        self._http = httpx.HTTPTransport()
        self._applied = applied

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST" and request.url.path.endswith("/reply"):
            if self._applied:
                self._http.handle_request(request).read()
            raise Killed
        return self._http.handle_request(request)

    def close(self) -> None:
        self._http.close()


@pytest.fixture
def conversation(sandbox, redis_client) -> dict[str, Any]:
    """The customer's open conversation, which the bridge opened and remembers."""
    return known_conversation(sandbox, redis_client)


@pytest.fixture
def accepted(redis_client, settings) -> str:
    """The customer's second message, accepted into the ledger; its id."""
    message = inbound_sms(
        text="second", provider_message_id="SM2", received_at=datetime.now(UTC) - timedelta(seconds=30)
    )
    raw = RawPayload(content_type="application/x-www-form-urlencoded", body="", path="/webhooks/twilio")
    InboundLedger(redis_client, settings).accept(message, raw)
    return inbound_id("twilio", "SM2")


@pytest.fixture
def deliver(redis_client, settings, tmp_path) -> Iterator[Any]:
    """Deliver a message with an Intercom client on `transport` (the sandbox's by default)."""
    clients: list[httpx.Client] = []

    def run(entry_id: str, transport: httpx.BaseTransport | None = None) -> Result:
        intercom = IntercomClient.from_settings(settings, transport=transport)
        media = httpx.Client()
        clients.append(media)
        with intercom:
            return deliverer(redis_client, settings, intercom, media).deliver(entry_id).result

    yield run
    for client in clients:
        client.close()


def customer_parts(sandbox, conversation_id: str) -> list[dict[str, Any]]:
    found = sandbox.api("GET", f"/conversations/{conversation_id}").json()
    return [p for p in found["conversation_parts"]["conversation_parts"] if p["author"]["type"] == "lead"]


def test_a_retry_after_a_death_once_intercom_applied_the_reply_posts_nothing_and_records_it(
    conversation, accepted, deliver, sandbox, redis_client, settings
):
    with pytest.raises(Killed):
        deliver(accepted, DiesAtTheReply(applied=True))
    [part] = customer_parts(sandbox, conversation["id"])
    assert part["body"] == "second"
    sandbox.api("DELETE", "/_sandbox/requests")

    assert deliver(accepted) is Result.CONTINUED

    assert [p["id"] for p in customer_parts(sandbox, conversation["id"])] == [part["id"]]
    calls = [(e["method"], e["path"]) for e in sandbox.requests()]
    assert ("POST", f"/conversations/{conversation['id']}/reply") not in calls
    assert ("GET", f"/conversations/{conversation['id']}") in calls
    entry = InboundLedger(redis_client, settings).get(accepted)
    assert entry is not None
    assert (entry.status, entry.conversation_id) == (Status.DELIVERED, conversation["id"])
    assert conformance_problems(sandbox.requests()) == []


def test_a_retry_after_a_death_before_the_reply_reached_intercom_looks_then_posts_it_once(
    conversation, accepted, deliver, sandbox, redis_client, settings
):
    with pytest.raises(Killed):
        deliver(accepted, DiesAtTheReply(applied=False))
    assert customer_parts(sandbox, conversation["id"]) == []
    sandbox.api("DELETE", "/_sandbox/requests")

    assert deliver(accepted) is Result.CONTINUED

    [part] = customer_parts(sandbox, conversation["id"])
    assert part["body"] == "second"
    calls = [(e["method"], e["path"]) for e in sandbox.requests() if e["path"].startswith("/conversations/")]
    # Looked first, then posted: once.
    assert calls[:2] == [
        ("GET", f"/conversations/{conversation['id']}"),
        ("POST", f"/conversations/{conversation['id']}/reply"),
    ]
    assert calls.count(("POST", f"/conversations/{conversation['id']}/reply")) == 1
    entry = InboundLedger(redis_client, settings).get(accepted)
    assert entry is not None and entry.status is Status.DELIVERED
    assert conformance_problems(sandbox.requests()) == []


def test_a_reply_intercom_applied_and_answered_500_is_found_not_posted_again(
    conversation, accepted, deliver, sandbox, redis_client, settings
):
    sandbox.fault(500, path_prefix=f"/conversations/{conversation['id']}/reply", after=True)

    assert deliver(accepted) is Result.CONTINUED

    [part] = customer_parts(sandbox, conversation["id"])
    assert part["body"] == "second"
    replies = [e for e in sandbox.requests() if e["path"] == f"/conversations/{conversation['id']}/reply"]
    assert [e["status"] for e in replies] == [500]
    assert conformance_problems(sandbox.requests()) == []
