"""Whether a new inbound message continues the thread's conversation."""

from __future__ import annotations

import pytest

from bridge.conversations.threads import Thread, continues
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
