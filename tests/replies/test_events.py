"""What the bridge does with an Intercom notification: a reply part in a conversation it opened is
queued once, however many copies arrive; a copy outside the acceptance window is never acted on;
state changes apply in the order they happened; everything else is acknowledged and ignored.
Real Redis, through the web process's batched round trip."""

from __future__ import annotations

import asyncio
import logging

import pytest
import redis

from bridge.conversations.threads import Thread, ThreadStore
from bridge.core import freshness
from bridge.core.settings import Settings
from bridge.infra import keys
from bridge.infra.batching import Batcher
from bridge.infra.connection import async_redis_client
from bridge.intercom.models import ConversationState
from bridge.intercom.webhooks import Notification, ReplyPart
from bridge.replies.deletions import DeletedContacts
from bridge.replies.events import EventOutcome, handle_notification
from bridge.replies.ledger import ReplyLedger
from tests.conversations.support import opened_thread

NOW = 1_795_392_000.0
CONVERSATION = "215"
REPLIED = "conversation.admin.replied"
OUTBOUND_QUEUE = "rq:queue:bridge-outbound"


@pytest.fixture
def thread(redis_client: redis.Redis) -> Thread:
    """A conversation the bridge opened for a customer's SMS."""
    return opened_thread(redis_client, "c1", conversation_id=CONVERSATION, state_at=NOW - 600)


def part(part_id: str, *, created_at: float = NOW - 5, conversation_id: str = CONVERSATION) -> ReplyPart:
    return ReplyPart(
        part_id=part_id,
        conversation_id=conversation_id,
        body="<p>Your order shipped</p>",
        author_type="admin",
        author_id="991267101",
        attachments=(),
        created_at=created_at,
    )


def notification(
    topic: str = REPLIED,
    *parts: ReplyPart,
    conversation_id: str | None = CONVERSATION,
    created_at: float = NOW - 5,
) -> Notification:
    return Notification(
        id="notif_1", topic=topic, created_at=created_at, conversation_id=conversation_id, parts=parts
    )


def handle(
    url: str, client: redis.Redis, settings: Settings, *notifications: Notification, now: float = NOW
) -> list[EventOutcome]:
    """Handle `notifications` one after the other on an event loop, as the web process does."""

    async def run() -> list[EventOutcome]:
        batcher = Batcher(async_redis_client(url))
        try:
            return [
                await handle_notification(
                    each,
                    threads=ThreadStore(client),
                    replies=ReplyLedger(client, settings),
                    batcher=batcher,
                    settings=settings,
                    now=now,
                    deletions=DeletedContacts(client, settings),
                )
                for each in notifications
            ]
        finally:
            await batcher.aclose()

    return asyncio.run(run())


def queued(client: redis.Redis) -> list[str]:
    return [job.decode() for job in client.lrange(OUTBOUND_QUEUE, 0, -1)]


# --- replies ---


def test_a_reply_part_in_a_bridge_conversation_is_stored_and_queued(
    redis_url, redis_client, settings, thread
):
    [outcome] = handle(redis_url, redis_client, settings, notification(REPLIED, part("p1")))
    assert outcome == EventOutcome(REPLIED, queued=1)
    assert queued(redis_client) == ["out-p1"]
    assert redis_client.exists(keys.reply("p1"))


def test_a_part_is_never_acted_on_twice_whichever_topic_or_copy_brings_it(
    redis_url, redis_client, settings, thread
):
    """Intercom retries a notification, and Fin's replies come as both admin and operator topics."""
    outcomes = handle(
        redis_url,
        redis_client,
        settings,
        notification(REPLIED, part("p1")),
        notification(REPLIED, part("p1")),
        notification("conversation.operator.replied", part("p1"), part("p2")),
    )
    assert [(o.queued, o.duplicates) for o in outcomes] == [(1, 0), (0, 1), (1, 1)]
    assert queued(redis_client) == ["out-p1", "out-p2"]


def test_a_part_older_than_the_acceptance_window_is_acknowledged_and_never_acted_on(
    redis_url, redis_client, settings, thread
):
    """A copy replayed after the ledger forgot the part: its own time refuses it."""
    old = NOW - freshness.acceptance_window(settings) - 1
    [outcome] = handle(redis_url, redis_client, settings, notification(REPLIED, part("p1", created_at=old)))
    assert outcome.stale == 1 and outcome.queued == 0
    assert outcome.ignored == "reply parts outside the acceptance window"
    assert queued(redis_client) == [] and not redis_client.exists(keys.reply("p1"))


@pytest.mark.parametrize(
    "created_at",
    [
        NOW + freshness.CLOCK_SKEW_SECONDS + 60,  # from further ahead than a drifting clock
        0.0,  # a part with no time at all
        float("nan"),
    ],
)
def test_a_part_whose_time_cannot_be_trusted_is_never_acted_on(
    redis_url, redis_client, settings, thread, created_at
):
    [outcome] = handle(
        redis_url, redis_client, settings, notification(REPLIED, part("p1", created_at=created_at))
    )
    assert outcome.stale == 1 and queued(redis_client) == []


def test_a_part_just_inside_the_window_is_acted_on(redis_url, redis_client, settings, thread):
    edge = NOW - freshness.acceptance_window(settings) + 60
    [outcome] = handle(redis_url, redis_client, settings, notification(REPLIED, part("p1", created_at=edge)))
    assert outcome.queued == 1


def test_fresh_parts_are_queued_beside_stale_ones_and_each_stale_one_is_logged(
    redis_url, redis_client, settings, thread, caplog
):
    old = NOW - freshness.acceptance_window(settings) - 1
    with caplog.at_level(logging.WARNING, logger="bridge.replies.events"):
        [outcome] = handle(
            redis_url, redis_client, settings, notification(REPLIED, part("p1", created_at=old), part("p2"))
        )
    assert (outcome.queued, outcome.stale, outcome.ignored) == (1, 1, None)
    assert queued(redis_client) == ["out-p2"]
    [line] = [r.getMessage() for r in caplog.records]
    assert "reply part p1 of conversation 215 not sent" in line and "past the acceptance window" in line


def test_a_reply_in_a_conversation_the_bridge_did_not_open_is_ignored(
    redis_url, redis_client, settings, thread
):
    messenger = notification(REPLIED, part("p9", conversation_id="999"), conversation_id="999")
    [outcome] = handle(redis_url, redis_client, settings, messenger)
    assert outcome == EventOutcome(REPLIED, ignored="not a conversation the bridge opened")
    assert queued(redis_client) == [] and not redis_client.exists(keys.reply("p9"))


def test_a_reply_notification_without_a_conversation_is_ignored(redis_url, redis_client, settings):
    [outcome] = handle(redis_url, redis_client, settings, notification(REPLIED, conversation_id=None))
    assert outcome.ignored == "not a conversation the bridge opened"


# --- conversation state ---


def test_closing_a_conversation_is_recorded_with_its_time(redis_url, redis_client, settings, thread):
    [outcome] = handle(redis_url, redis_client, settings, notification("conversation.admin.closed"))
    assert outcome == EventOutcome("conversation.admin.closed", state_changed=True)
    closed = ThreadStore(redis_client).by_conversation(CONVERSATION)
    assert closed.state is ConversationState.CLOSED and closed.closed_at == NOW - 5


def test_a_state_change_older_than_the_one_known_does_not_undo_it(redis_url, redis_client, settings, thread):
    outcomes = handle(
        redis_url,
        redis_client,
        settings,
        notification("conversation.admin.snoozed", created_at=NOW - 10),
        notification("conversation.admin.opened", created_at=NOW - 20),  # arrived late
    )
    assert [o.state_changed for o in outcomes] == [True, False]
    assert ThreadStore(redis_client).by_conversation(CONVERSATION).state is ConversationState.SNOOZED


def test_a_state_change_without_a_time_is_dated_by_the_bridge_s_clock(
    redis_url, redis_client, settings, thread
):
    handle(redis_url, redis_client, settings, notification("conversation.admin.closed", created_at=0.0))
    assert ThreadStore(redis_client).by_conversation(CONVERSATION).closed_at == NOW


def test_a_state_change_in_someone_else_s_conversation_changes_nothing(
    redis_url, redis_client, settings, thread
):
    [outcome] = handle(
        redis_url, redis_client, settings, notification("conversation.admin.closed", conversation_id="999")
    )
    assert not outcome.state_changed and outcome.ignored is None
    assert ThreadStore(redis_client).by_conversation(CONVERSATION).state is ConversationState.OPEN


def test_a_state_change_without_a_conversation_is_ignored(redis_url, redis_client, settings):
    [outcome] = handle(
        redis_url, redis_client, settings, notification("conversation.admin.closed", conversation_id=None)
    )
    assert outcome.ignored == "no conversation in the notification"


# --- everything else ---


@pytest.mark.parametrize("topic", ["conversation.admin.noted", "contact.user.created", "ping"])
def test_other_topics_are_acknowledged_and_ignored(redis_url, redis_client, settings, thread, topic):
    [outcome] = handle(redis_url, redis_client, settings, notification(topic, part("p1")))
    assert outcome == EventOutcome(topic, ignored="topic not handled")
    assert queued(redis_client) == []


def test_the_outcome_says_only_what_happened():
    assert EventOutcome(REPLIED, queued=2, stale=1).to_json() == {"topic": REPLIED, "queued": 2, "stale": 1}
    assert EventOutcome("ping", ignored="topic not handled").to_json() == {
        "topic": "ping",
        "ignored": "topic not handled",
    }


# --- contacts deleted in Intercom ---


def deleted(contact_id: str | None) -> Notification:
    return Notification(
        id="notif_9",
        topic="contact.deleted",
        created_at=NOW,
        conversation_id=None,
        parts=(),
        contact_id=contact_id,
    )


def test_a_deleted_contact_queues_forgetting_its_numbers_once_however_often_intercom_says_so(
    redis_url, redis_client, settings
):
    contact = "6657a1b2c3d4e5f600000001"
    outcomes = handle(redis_url, redis_client, settings, deleted(contact), deleted(contact))
    assert [(o.queued, o.duplicates) for o in outcomes] == [(1, 0), (0, 1)]
    assert [job.decode() for job in redis_client.lrange("rq:queue:bridge-inbound", 0, -1)] == [
        f"fg-{contact}"
    ]
    assert redis_client.ttl(keys.forget_contact(contact)) == freshness.retention_seconds(settings)


@pytest.mark.parametrize("contact_id", [None, "", "../6657a1", "a" * 65])
def test_a_deletion_naming_no_contact_id_is_acknowledged_and_queues_nothing(
    contact_id, redis_url, redis_client, settings
):
    [outcome] = handle(redis_url, redis_client, settings, deleted(contact_id))
    assert outcome.ignored == "no contact id in the notification"
    assert redis_client.keys("rq:*") == []
