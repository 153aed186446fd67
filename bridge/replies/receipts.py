"""Read receipts: an agent's WhatsApp reply marks the customer's latest message read (blue ticks).

When a reply goes to a WhatsApp conversation, the customer's latest message (the thread's
`last_inbound_id`) is marked read through the provider that brought it, where its API can
(`ProviderAdapter.read_api`: Meta's Cloud API, Twilio's typing indicator, Vonage's Messages API;
MessageBird's API has no such call). WhatsApp marks every earlier message of the chat read with
it. Only for free text within the 24-hour window: outside it Meta refuses the receipt as it
refuses the text, and a template is no answer to what the customer wrote.

Once per reply: the reply ledger's claim (`ReplyLedger.claim_read_receipt`) lets only the first
attempt ask, so a retried or replayed reply does not ask again. Before the reply's first message:
Twilio's receipt shows a typing indicator, which the reply then dismisses (after it, the customer
would see "typing…" for 25 seconds with nothing coming).

Best effort: one attempt, never retried, and whatever goes wrong (the provider refuses, is down,
a credential is missing) is logged and counted (`bridge_read_receipts_total`, in
`ProviderAdapter.mark_read`), never a reason to fail, delay or retry the reply.
`BRIDGE_READ_RECEIPTS=false` turns them off.
"""

from __future__ import annotations

import logging
from dataclasses import replace

import httpx

from bridge.conversations.threads import Thread
from bridge.core.logs import mask
from bridge.core.retrying import RetryPolicy
from bridge.core.settings import Settings
from bridge.model.messages import Channel
from bridge.providers.base import ProviderAdapter
from bridge.replies.ledger import ReplyLedger

log = logging.getLogger(__name__)


def wants_receipt(thread: Thread, adapter: ProviderAdapter, settings: Settings) -> bool:
    """Whether a free-text reply on `thread` marks the customer's message read: a WhatsApp
    thread whose customer wrote, through a provider that can, with receipts on."""
    return (
        settings.read_receipts
        and thread.channel == Channel.WHATSAPP.value
        and bool(thread.last_inbound_id)
        and adapter.read_api is not None
    )


def mark_customer_read(
    *,
    part_id: str,
    thread: Thread,
    adapter: ProviderAdapter,
    ledger: ReplyLedger,
    settings: Settings,
    http: httpx.Client,
    policy: RetryPolicy,
    now: float,
) -> bool:
    """Mark the customer's latest message read for reply `part_id`, at most once for it; whether
    the provider took it. Never raises."""
    if not wants_receipt(thread, adapter, settings):
        return False
    try:
        if not ledger.claim_read_receipt(part_id, at=now):
            return False
        adapter.mark_read(
            thread.last_inbound_id, thread.business_number, settings, http, replace(policy, max_attempts=1)
        )
    except Exception as exc:  # best effort: the reply goes out whatever became of the receipt
        log.warning(
            "reply %s: the customer's message was not marked read through %s (%s): %s",
            part_id,
            adapter.name,
            type(exc).__name__,
            mask(str(exc)),
        )
        return False
    log.info("reply %s: the customer's message marked read through %s", part_id, adapter.name)
    return True
