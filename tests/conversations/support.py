"""A conversation the bridge opened for the tests' customer, for tests of whatever reads threads
(replies, merges, the inbox app, replay plans) to start from without delivering a message first."""

from __future__ import annotations

from typing import Any

import redis

from bridge.conversations.threads import Thread, ThreadStore

# The numbers `tests.helpers.inbound_sms` writes from and to: its message goes on in this thread.
CUSTOMER, BUSINESS = "+14155550123", "+14155550100"


def opened_thread(
    redis_client: redis.Redis,
    contact_id: str,
    *,
    conversation_id: str = "101",
    channel: str = "sms",
    customer: str = CUSTOMER,
    labelled_at: float = 1_700_000_000.0,
    **fields: Any,
) -> Thread:
    """The thread the customer's first Twilio message opened in `conversation_id`, saved; labelled
    (`bridge.conversations.labels`), as the bridge labels every conversation it opens."""
    thread = Thread(
        key=f"twilio:{channel}:{BUSINESS}:phone:{customer}",
        conversation_id=conversation_id,
        contact_id=contact_id,
        provider="twilio",
        channel=channel,
        business_number=BUSINESS,
        customer_address=customer,
        labelled_at=labelled_at,
        **fields,
    )
    ThreadStore(redis_client).save(thread)
    return thread
