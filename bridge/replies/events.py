"""What the bridge does with an Intercom notification: queue replies, track conversation state,
forget a deleted contact's numbers.

Only conversations the bridge opened matter (it has a thread for them); everything else, and
every topic it does not act on (notes, user replies it posted itself, other contact topics), is
acknowledged and ignored so Intercom does not pause the subscription for errors. A deleted
contact's forgetting is queued once (`bridge.replies.deletions`).

Intercom signs no time, but the signed body says when each reply part was written: a part
outside `bridge.core.freshness`' window is acknowledged (Intercom must not retry it) and never acted
on, so a copy replayed after the reply ledger forgot the part cannot send it again.

The web process runs this on its event loop, where a blocking Redis call holds up every request
in flight: reads go to a worker thread, and the reply claims share the round trip of the other
requests' writes (`claims.run_batched`), as provider webhooks' do. Like theirs, the answer waits
until what was written is as durable as `BRIDGE_ACK_AFTER` asks (`bridge.infra.durability`).
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass

from bridge.conversations.threads import ThreadStore
from bridge.core import freshness
from bridge.core.settings import Settings
from bridge.infra.batching import Batcher
from bridge.infra.claims import Outcome, run_batched
from bridge.intercom.webhooks import REPLY_TOPICS, STATE_TOPICS, Notification, ReplyPart
from bridge.replies.deletions import TOPIC as DELETED_TOPIC
from bridge.replies.deletions import DeletedContacts
from bridge.replies.ledger import ReplyLedger

log = logging.getLogger(__name__)

# An Intercom id, as a job id may hold it (`[A-Za-z0-9_-]`): anything else names no contact.
_CONTACT_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


@dataclass(frozen=True)
class EventOutcome:
    topic: str
    queued: int = 0
    duplicates: int = 0
    stale: int = 0  # reply parts outside the acceptance window: acknowledged, not acted on
    state_changed: bool = False
    ignored: str | None = None

    def to_json(self) -> dict[str, object]:
        return {key: value for key, value in self.__dict__.items() if value not in (None, 0, False)}


async def handle_notification(
    notification: Notification,
    *,
    threads: ThreadStore,
    replies: ReplyLedger,
    batcher: Batcher,
    settings: Settings,
    now: float,
    deletions: DeletedContacts | None = None,
) -> EventOutcome:
    """Act on one verified notification; `now` is the bridge's clock, for the parts' times."""
    topic = notification.topic
    if topic == DELETED_TOPIC and deletions is not None:
        contact_id = notification.contact_id or ""
        if not _CONTACT_ID.fullmatch(contact_id):
            return EventOutcome(topic, ignored="no contact id in the notification")
        [outcome] = await run_batched(batcher, [deletions.claim(contact_id)])
        return EventOutcome(
            topic, queued=int(outcome is Outcome.ACCEPTED), duplicates=int(outcome is Outcome.DUPLICATE)
        )
    conversation_id = notification.conversation_id
    if topic in STATE_TOPICS:
        if conversation_id is None:
            return EventOutcome(topic, ignored="no conversation in the notification")
        at = notification.created_at or now
        changed = await asyncio.to_thread(threads.set_state, conversation_id, STATE_TOPICS[topic], at=at)
        # Written by the other client: acknowledged only once as durable as the batches' writes
        # (BRIDGE_ACK_AFTER), whether this copy or an earlier one changed it.
        await batcher.durable()
        return EventOutcome(topic, state_changed=changed)
    if topic in REPLY_TOPICS:
        if conversation_id is None:
            return EventOutcome(topic, ignored="not a conversation the bridge opened")
        fresh = _fresh(notification.parts, now=now, settings=settings)
        stale = len(notification.parts) - len(fresh)
        if not fresh and stale:
            return EventOutcome(topic, stale=stale, ignored="reply parts outside the acceptance window")
        if await asyncio.to_thread(threads.by_conversation, conversation_id) is None:
            return EventOutcome(topic, stale=stale, ignored="not a conversation the bridge opened")
        outcomes = await run_batched(batcher, [replies.claim(part) for part in fresh])
        return EventOutcome(
            topic,
            queued=outcomes.count(Outcome.ACCEPTED),
            duplicates=outcomes.count(Outcome.DUPLICATE),
            stale=stale,
        )
    return EventOutcome(topic, ignored="topic not handled")


def _fresh(parts: tuple[ReplyPart, ...], *, now: float, settings: Settings) -> list[ReplyPart]:
    """The parts whose `created_at` is within the window; each other one is logged, once per copy."""
    window = freshness.acceptance_window(settings)
    fresh = []
    for part in parts:
        problem = freshness.out_of_window(part.created_at, now=now, window=window)
        if problem is None:
            fresh.append(part)
        else:
            log.warning(
                "Intercom reply part %s of conversation %s not sent: its created_at %s",
                part.part_id,
                part.conversation_id,
                problem,
            )
    return fresh
