"""Whether a new inbound message continues the thread's conversation, and what the thread
remembers of the customer's messages."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bridge.conversations.threads import Thread, ThreadStore, continues
from bridge.infra import keys
from bridge.intercom.models import ConversationState

HOUR = 3600.0


def thread(state: ConversationState, closed_at: float = 0.0) -> Thread:
    return Thread(
        key="k",
        conversation_id="1",
        contact_id="c",
        provider="twilio",
        channel="sms",
        business_number="+1",
        customer_address="+2",
        state=state,
        closed_at=closed_at,
    )


@pytest.mark.parametrize("state", [ConversationState.OPEN, ConversationState.SNOOZED])
def test_open_and_snoozed_conversations_continue_however_old(state):
    assert continues(thread(state), now=1e9, new_conversation_after=HOUR)


def test_a_conversation_closed_within_the_buffer_continues():
    assert continues(
        thread(ConversationState.CLOSED, closed_at=1000.0), now=1000.0 + HOUR / 2, new_conversation_after=HOUR
    )


def test_a_conversation_closed_longer_than_the_buffer_starts_a_new_one():
    assert not continues(
        thread(ConversationState.CLOSED, closed_at=1000.0), now=1000.0 + 2 * HOUR, new_conversation_after=HOUR
    )


def test_the_thread_remembers_the_customers_latest_message_and_a_late_older_one_does_not_replace_it(
    redis_client,
):
    store = ThreadStore(redis_client)
    store.save(replace(thread(ConversationState.OPEN), last_inbound_at=100.0, last_inbound_id="wamid.first"))
    saved = store.get("k")
    assert saved is not None and saved.last_inbound_id == "wamid.first"

    store.record_inbound(saved, at=200.0, message_id="wamid.latest")
    latest = store.get("k")
    assert latest is not None and (latest.last_inbound_id, latest.last_inbound_at) == ("wamid.latest", 200.0)

    store.record_inbound(latest, at=150.0, message_id="wamid.late")  # sent before, arrived after
    kept = store.get("k")
    assert kept is not None and (kept.last_inbound_id, kept.last_inbound_at) == ("wamid.latest", 200.0)


def test_recording_a_message_compares_with_the_thread_as_it_is_when_written_not_as_read_before(
    redis_client,
):
    # The delivery read the thread before its Intercom call and records the message after it: an
    # agent closed the conversation in between, and that newer event must stay the latest known.
    store = ThreadStore(redis_client)
    store.save(replace(thread(ConversationState.OPEN), last_inbound_at=100.0, state_at=100.0))
    read_before = store.get("k")
    assert read_before is not None
    store.set_state("1", ConversationState.CLOSED, at=300.0)

    store.record_inbound(read_before, at=200.0, message_id="wamid.second")

    now = store.get("k")
    assert now is not None
    # Open (the customer's message reopens it in Intercom), but the close at 300 stays the latest
    # state change, so an event older than it (a late snooze at 250) still does not apply.
    assert (now.state, now.state_at, now.last_inbound_at) == (ConversationState.OPEN, 300.0, 200.0)
    assert not store.set_state("1", ConversationState.SNOOZED, at=250.0)


def test_recording_a_message_in_a_forgotten_thread_does_not_bring_part_of_it_back(redis_client):
    store = ThreadStore(redis_client)
    store.save(thread(ConversationState.OPEN))
    read_before = store.get("k")
    assert read_before is not None
    store.forget("k")

    store.record_inbound(read_before, at=200.0, message_id="wamid.second")

    assert store.get("k") is None
    assert redis_client.exists(keys.thread("k")) == 0
