"""What one delivery costs in Redis: each record read once under the sender's lane and handed on,
the last writes of a message (its delivered mark, the thread's record of it, the lane's leave and
the lock's release) in one transaction, nothing written that is already there.

Real parts: Valkey over a socket (its round trips recorded by the client, `tests.helpers.RoundTrips`),
the sandbox over HTTP. What a death at any point leaves, and what the retry then does, is
tests/conversations/test_posting.py's and tests/test_chaos.py's.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from bridge.conversations import delivery as delivery_module
from bridge.conversations.delivery import Result
from bridge.conversations.threads import ThreadStore
from bridge.infra import keys
from bridge.intake.ledger import InboundLedger, RawPayload, Status, inbound_id
from bridge.intercom.client import IntercomClient
from bridge.intercom.models import ContactRef
from tests.conversations.support import CUSTOMER, deliverer, known_conversation
from tests.helpers import RoundTrips, inbound_sms

IDENTITY = f"phone:{CUSTOMER}"


@pytest.fixture
def conversation(sandbox, redis_client) -> dict[str, Any]:
    return known_conversation(sandbox, redis_client)


def accept(redis_client, settings, message_id: str, text: str) -> str:
    message = inbound_sms(
        text=text, provider_message_id=message_id, received_at=datetime.now(UTC) - timedelta(seconds=5)
    )
    raw = RawPayload(content_type="application/x-www-form-urlencoded", body="", path="/webhooks/twilio")
    InboundLedger(redis_client, settings).accept(message, raw)
    return inbound_id("twilio", message_id)


@pytest.fixture
def recorded(redis_url, settings) -> Iterator[tuple[RoundTrips, Any]]:
    """A deliverer whose Redis round trips are recorded."""
    trips = RoundTrips(redis_url)
    client = trips.client()
    with IntercomClient.from_settings(settings) as intercom, httpx.Client() as media:
        yield trips, deliverer(client, settings, intercom, media)
    client.close()


def test_a_known_contacts_message_into_its_open_conversation_reads_each_record_once(
    conversation, recorded, redis_client, settings
):
    trips, delivering = recorded
    # The customer's first message warms the client (its connection, the scripts Redis loads once).
    assert delivering.deliver(accept(redis_client, settings, "SM1", "first")).result is Result.CONTINUED
    second = accept(redis_client, settings, "SM2", "second")
    trips.sent.clear()

    delivery = delivering.deliver(second)

    assert (delivery.result, delivery.conversation_id) == (Result.CONTINUED, conversation["id"])
    assert delivery.message is not None and delivery.message.text == "second"  # the job needs no re-read
    thread_key = f"twilio:sms:+14155550100:{IDENTITY}"
    # The entry once to find the sender's lane, once under it (another job may have got further);
    # the identity and the thread once each; the identity, already this contact's, not rewritten.
    assert len(trips.commands("HGETALL", keys.inbound(second))) == 2
    assert len(trips.commands("HGETALL", keys.identity(IDENTITY))) == 1
    assert len(trips.commands("HGETALL", keys.thread(thread_key))) == 1
    assert trips.commands("HSET", keys.identity(IDENTITY)) == []
    # The thread with the lane's queue and the entry under the lock, in one round trip.
    [under_lock] = [trip for trip in trips.sent if ("HGETALL", keys.thread(thread_key)) in trip]
    assert ("HGETALL", keys.inbound(second)) in under_lock
    # The identity map's match goes with the reply's intent: one write to the entry before the post.
    [intent] = trips.commands("EVALSHA")
    assert intent[3] == keys.inbound(second) and "contact_id" in intent and "posting" in intent
    # The delivered mark, the thread's record, the lane's leave and the lock's release: one transaction.
    last = [command[0] for command in trips.sent[-1]]
    assert last[0] == "MULTI" and last[-1] == "EXEC"
    assert ("LREM", keys.mailbox(IDENTITY)) in {command[:2] for command in trips.sent[-1]}
    assert len(trips.sent) <= 7

    entry = InboundLedger(redis_client, settings).get(second)
    assert entry is not None and (entry.status, entry.conversation_id) == (
        Status.DELIVERED,
        conversation["id"],
    )
    assert redis_client.lrange(keys.mailbox(IDENTITY), 0, -1) == []
    assert redis_client.exists(keys.sender_lock(IDENTITY)) == 0
    thread = ThreadStore(redis_client).get(thread_key)
    assert thread is not None and thread.last_inbound_id == "SM2"


def test_the_earlier_messages_of_the_lane_are_delivered_first_each_recorded_as_it_leaves(
    conversation, recorded, redis_client, settings, sandbox
):
    trips, delivering = recorded
    first = accept(redis_client, settings, "SM1", "first")
    second = accept(redis_client, settings, "SM2", "second")

    assert delivering.deliver(second).result is Result.CONTINUED

    ledger = InboundLedger(redis_client, settings)
    for entry_id in (first, second):
        entry = ledger.get(entry_id)
        assert entry is not None and entry.status is Status.DELIVERED
    found = sandbox.api("GET", f"/conversations/{conversation['id']}").json()
    parts = found["conversation_parts"]["conversation_parts"]
    assert [p["body"] for p in parts if p["author"]["type"] == "lead"] == ["first", "second"]
    # The earlier one left the lane with its delivered mark, before ours was posted.
    leave = ("LREM", keys.mailbox(IDENTITY), "0")
    leaves = [i for i, trip in enumerate(trips.sent) for command in trip if command[:3] == leave]
    assert len(leaves) == 2 and trips.sent[leaves[0]][0][0] == "MULTI"
    assert redis_client.exists(keys.sender_lock(IDENTITY)) == 0


def test_a_contact_deleted_since_it_was_recorded_is_matched_afresh_in_the_same_attempt(
    conversation, recorded, redis_client, settings, sandbox
):
    _, delivering = recorded
    entry_id = accept(redis_client, settings, "SM2", "second")
    ledger = InboundLedger(redis_client, settings)
    # An earlier attempt matched the contact and stopped; the contact was deleted in Intercom since.
    ledger.record_contact(entry_id, ContactRef(conversation["contact_id"], "lead"), {"rule": "identity_map"})
    sandbox.api("DELETE", f"/contacts/{conversation['contact_id']}")

    assert delivering.deliver(entry_id).result is Result.CREATED

    entry = ledger.get(entry_id)
    assert entry is not None and entry.status is Status.DELIVERED
    assert entry.contact is not None and entry.contact.id != conversation["contact_id"]


def test_a_job_delivers_the_messages_that_came_after_its_own_and_lets_the_lane_go_once_empty(
    conversation, recorded, redis_client, settings, sandbox
):
    trips, delivering = recorded
    first, second, third = (accept(redis_client, settings, f"SM{n}", f"burst {n}") for n in (1, 2, 3))

    delivery = delivering.deliver(first)

    assert (delivery.result, delivery.drained, delivery.handoffs) == (Result.CONTINUED, 2, ())
    ledger = InboundLedger(redis_client, settings)
    assert all(ledger.get(each).status is Status.DELIVERED for each in (first, second, third))
    found = sandbox.api("GET", f"/conversations/{conversation['id']}").json()
    parts = found["conversation_parts"]["conversation_parts"]
    assert [p["body"] for p in parts if p["author"]["type"] == "lead"] == ["burst 1", "burst 2", "burst 3"]
    assert redis_client.lrange(keys.mailbox(IDENTITY), 0, -1) == []
    assert redis_client.exists(keys.sender_lock(IDENTITY)) == 0
    # The lock went in the step that found the lane empty (no round trip of its own), and the
    # later messages cost no look at the lane but the one each leave makes.
    assert trips.commands("DEL", keys.sender_lock(IDENTITY)) == []
    assert len(trips.commands("LRANGE", keys.mailbox(IDENTITY))) == 1


def test_a_later_message_that_cannot_be_delivered_is_handed_off_and_the_rest_go_on(
    conversation, recorded, redis_client, settings, sandbox
):
    _, delivering = recorded
    first = accept(redis_client, settings, "SM1", "first")
    broken = inbound_sms(provider_message_id="SM2", problem="the sender's number is unreadable")
    raw = RawPayload(content_type="application/x-www-form-urlencoded", body="", path="/webhooks/twilio")
    InboundLedger(redis_client, settings).accept(broken, raw)
    third = accept(redis_client, settings, "SM3", "third")

    delivery = delivering.deliver(first)

    [handoff] = delivery.handoffs
    assert handoff.inbound_id == inbound_id("twilio", "SM2") and "UnprocessableMessage" in handoff.reason
    assert delivery.drained == 1
    ledger = InboundLedger(redis_client, settings)
    assert ledger.get(third).status is Status.DELIVERED
    # The broken one stays in the lane for its own job (which fails it with the reason), unlocked.
    assert redis_client.lrange(keys.mailbox(IDENTITY), 0, -1) == [handoff.inbound_id.encode()]
    assert redis_client.exists(keys.sender_lock(IDENTITY)) == 0


def test_a_drain_that_runs_long_hands_the_rest_of_the_lane_to_a_job_of_its_own(
    conversation, recorded, redis_client, settings, monkeypatch
):
    _, delivering = recorded
    first, second, third = (accept(redis_client, settings, f"SM{n}", f"burst {n}") for n in (1, 2, 3))
    monkeypatch.setattr(delivery_module, "DRAIN_SECONDS", -1.0)  # any drain has run long

    delivery = delivering.deliver(first)

    assert delivery.drained == 0
    assert [handoff.inbound_id for handoff in delivery.handoffs] == [second]
    assert redis_client.lrange(keys.mailbox(IDENTITY), 0, -1) == [second.encode(), third.encode()]
    assert redis_client.exists(keys.sender_lock(IDENTITY)) == 0


def test_an_earlier_message_handed_off_is_not_tried_again_by_the_same_job(
    conversation, recorded, redis_client, settings, sandbox
):
    _, delivering = recorded
    broken = inbound_sms(provider_message_id="SM1", problem="the sender's number is unreadable")
    raw = RawPayload(content_type="application/x-www-form-urlencoded", body="", path="/webhooks/twilio")
    InboundLedger(redis_client, settings).accept(broken, raw)
    second, third = (accept(redis_client, settings, f"SM{n}", f"later {n}") for n in (2, 3))

    delivery = delivering.deliver(second)  # the broken one is earlier in the lane

    assert [handoff.inbound_id for handoff in delivery.handoffs] == [inbound_id("twilio", "SM1")]
    assert (
        delivery.drained == 1 and InboundLedger(redis_client, settings).get(third).status is Status.DELIVERED
    )
    assert redis_client.exists(keys.sender_lock(IDENTITY)) == 0
