"""What the bridge does with an Intercom notification: queue replies, track conversation state.

Only conversations the bridge opened matter (it has a thread for them); everything else, and
every topic it does not act on (notes, user replies it posted itself, contacts), is acknowledged
and ignored so Intercom does not pause the subscription for errors.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from bridge.claims import Outcome
from bridge.intercom.webhooks import REPLY_TOPICS, STATE_TOPICS, Notification
from bridge.replies import ReplyLedger
from bridge.threads import ThreadStore


@dataclass(frozen=True)
class EventOutcome:
    topic: str
    queued: int = 0
    duplicates: int = 0
    state_changed: bool = False
    ignored: str | None = None

    def to_json(self) -> dict[str, object]:
        return {key: value for key, value in self.__dict__.items() if value not in (None, 0, False)}


def handle_notification(
    notification: Notification, *, threads: ThreadStore, replies: ReplyLedger
) -> EventOutcome:
    topic = notification.topic
    conversation_id = notification.conversation_id
    if topic in STATE_TOPICS:
        if conversation_id is None:
            return EventOutcome(topic, ignored="no conversation in the notification")
        at = notification.created_at or time.time()
        return EventOutcome(
            topic, state_changed=threads.set_state(conversation_id, STATE_TOPICS[topic], at=at)
        )
    if topic in REPLY_TOPICS:
        if conversation_id is None or threads.by_conversation(conversation_id) is None:
            return EventOutcome(topic, ignored="not a conversation the bridge opened")
        outcomes = [replies.accept(part) for part in notification.parts]
        return EventOutcome(
            topic, queued=outcomes.count(Outcome.ACCEPTED), duplicates=outcomes.count(Outcome.DUPLICATE)
        )
    return EventOutcome(topic, ignored="topic not handled")
