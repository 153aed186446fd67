"""Threads: which Intercom conversation carries a customer's messages on one channel.

A thread is (provider, channel, business number, sender): like Twilio Conversations' number-pair
binding, the same customer writing to the same business number over the same channel lands in
the same conversation. The thread remembers everything a reply needs to go back the same way
(provider, business number, the customer's raw address), and, through the reverse index, an
agent's reply in a conversation finds its thread.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from redis import Redis
from redis.client import Pipeline
from redis.typing import EncodableT, FieldT

from bridge.infra import keys
from bridge.infra.connection import hash_text, read_hash
from bridge.intercom.models import ConversationState
from bridge.model.messages import InboundMessage

# `ThreadStore.record_inbound`'s write, against the thread as it is then. ARGV: the message's time,
# its id ("" for none), its reply reference ("" to keep the one there), the open state. Times are
# compared as numbers and written as given, so nothing is rounded.
_RECORD_INBOUND = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local last = redis.call('HGET', KEYS[1], 'last_inbound_at')
local state_at = redis.call('HGET', KEYS[1], 'state_at')
local at = tonumber(ARGV[1])
local fields = {'state', ARGV[4]}
if not last or at > (tonumber(last) or 0) then
  table.insert(fields, 'last_inbound_at'); table.insert(fields, ARGV[1])
end
if ARGV[2] ~= '' and (not last or at >= (tonumber(last) or 0)) then
  table.insert(fields, 'last_inbound_id'); table.insert(fields, ARGV[2])
end
if not state_at or at > (tonumber(state_at) or 0) then
  table.insert(fields, 'state_at'); table.insert(fields, ARGV[1])
end
if ARGV[3] ~= '' then
  table.insert(fields, 'reply_reference'); table.insert(fields, ARGV[3])
end
redis.call('HSET', KEYS[1], unpack(fields))
return 1
"""


@dataclass(frozen=True)
class Thread:
    key: str
    conversation_id: str
    contact_id: str
    provider: str
    channel: str
    business_number: str
    customer_address: str
    account: str = ""
    state: ConversationState = ConversationState.OPEN
    # When Intercom last changed the state, or the customer last wrote (events arrive out of order:
    # an older one must not undo a newer one). Creating the conversation is not such an event: our
    # clock and Intercom's may differ, and a close right after creation must still count.
    state_at: float = 0.0
    closed_at: float = 0.0
    last_inbound_at: float = 0.0  # the customer's last message: WhatsApp's 24-hour window counts from it
    # That message's provider id (Meta's wamid, Twilio's SM…, Vonage's message_uuid): an agent's
    # WhatsApp reply marks it read (`bridge.replies.receipts`). "" before the customer wrote.
    last_inbound_id: str = ""
    created_at: float = 0.0
    reply_reference: str = ""  # the latest inbound message's (Africa's Talking linkId)
    # The other contacts the number matched when the conversation opened (JSON), for the inbox app.
    match_candidates: str = ""
    # When the bridge gave the conversation its channel attributes and tag
    # (`bridge.conversations.labels`); 0: not yet (opened before the bridge did, or not done yet).
    labelled_at: float = 0.0
    # The team or teammate the bridge assigned the conversation to when it opened it (`team:501`),
    # so a retried delivery does not assign it twice (`bridge.conversations.routing`).
    routed_to: str = ""

    @property
    def customer_key(self) -> str:
        """The customer's identity key (`phone:+1…`): the end of the thread's key."""
        return self.key.removeprefix(f"{self.provider}:{self.channel}:{self.business_number}:")

    @property
    def candidates(self) -> list[dict[str, Any]]:
        return list(json.loads(self.match_candidates)) if self.match_candidates else []


def thread_key(message: InboundMessage, *, sender_key: str | None = None) -> str:
    """The message's thread; `sender_key`: another form of its sender's number instead."""
    sender = sender_key or message.sender.key
    return f"{message.provider}:{message.channel.value}:{message.business_number}:{sender}"


def continues(thread: Thread, *, now: float, new_conversation_after: float) -> bool:
    """Whether a new inbound message belongs in the thread's conversation.

    Open and snoozed conversations continue; a closed one continues only if it closed less than
    `new_conversation_after` seconds ago (Octopods' buffer, 1 hour to 2 weeks); past that the
    customer is starting something new.
    """
    if thread.state is not ConversationState.CLOSED:
        return True
    return now - thread.closed_at < new_conversation_after


def with_inbound(
    thread: Thread, *, at: float, reply_reference: str | None = None, message_id: str = ""
) -> Thread:
    """`thread` once it records the customer's message of `at` (`ThreadStore.record_inbound`)."""
    latest = bool(message_id) and at >= thread.last_inbound_at
    return replace(
        thread,
        last_inbound_at=max(thread.last_inbound_at, at),
        last_inbound_id=message_id if latest else thread.last_inbound_id,
        state=ConversationState.OPEN,
        state_at=max(thread.state_at, at),
        reply_reference=reply_reference or thread.reply_reference,
    )


class ThreadStore:
    def __init__(self, redis_client: Redis) -> None:
        self._redis = redis_client

    def get(self, key: str) -> Thread | None:
        data = read_hash(self._redis, keys.thread(key))
        return _from_fields(key, data) if data else None

    @staticmethod
    def read_later(pipe: Pipeline, key: str) -> None:
        """Queue `get`'s read on `pipe`, to share a round trip with others (`from_answer` reads it)."""
        pipe.hgetall(keys.thread(key))

    @staticmethod
    def from_answer(key: str, answer: Mapping[bytes | str, bytes | str]) -> Thread | None:
        """`get(key)` from `read_later`'s answer."""
        data = hash_text(answer)
        return _from_fields(key, data) if data else None

    def save(self, thread: Thread) -> None:
        """Store the thread and its reverse indexes (conversation -> thread, contact -> threads)."""
        data: dict[FieldT, EncodableT] = {
            name: str(value) for name, value in asdict(thread).items() if name != "key"
        }
        previous = self.get(thread.key)
        with self._redis.pipeline() as pipe:
            pipe.delete(keys.thread(thread.key))
            pipe.hset(keys.thread(thread.key), mapping=data)
            pipe.set(keys.conversation(thread.conversation_id), thread.key)
            if previous is not None and previous.contact_id != thread.contact_id:
                pipe.srem(keys.contact_threads(previous.contact_id), thread.key)
            pipe.sadd(keys.contact_threads(thread.contact_id), thread.key)
            pipe.execute()

    def rekey(self, thread: Thread, key: str, *, customer_address: str) -> Thread:
        """`thread` under `key`, reaching the customer at `customer_address` (another form of
        their number); the old key is gone, so the thread is found one way only."""
        moved = replace(thread, key=key, customer_address=customer_address)
        self.save(moved)
        with self._redis.pipeline() as pipe:
            pipe.delete(keys.thread(thread.key))
            pipe.srem(keys.contact_threads(thread.contact_id), thread.key)
            pipe.execute()
        return moved

    def of_contact(self, contact_id: str) -> list[Thread]:
        members = self._redis.smembers(keys.contact_threads(contact_id))
        found = (self.get(m.decode() if isinstance(m, bytes) else str(m)) for m in members)
        return sorted((thread for thread in found if thread is not None), key=lambda thread: thread.key)

    def move(self, from_id: str, to_id: str) -> list[str]:
        """Every thread of `from_id` now belongs to `to_id` (Intercom moved its conversations)."""
        moved = self.of_contact(from_id)
        for thread in moved:
            self.save(replace(thread, contact_id=to_id))
        self._redis.delete(keys.contact_threads(from_id))
        return [thread.key for thread in moved]

    def forget_contact(self, contact_id: str) -> list[str]:
        """Drop every thread of `contact_id` (deleted in Intercom, its conversations with it)."""
        threads = self.of_contact(contact_id)
        with self._redis.pipeline() as pipe:
            for thread in threads:
                pipe.delete(keys.thread(thread.key), keys.conversation(thread.conversation_id))
            pipe.delete(keys.contact_threads(contact_id))
            pipe.execute()
        return [thread.key for thread in threads]

    def forget(self, key: str) -> Thread | None:
        """Drop the thread at `key` and what indexes it (its customer asked to be forgotten); the
        thread that was, or None."""
        thread = self.get(key)
        if thread is None:
            return None
        owner = self._redis.get(keys.conversation(thread.conversation_id))
        with self._redis.pipeline() as pipe:
            pipe.delete(keys.thread(key))
            if owner is not None and (owner.decode() if isinstance(owner, bytes) else str(owner)) == key:
                pipe.delete(keys.conversation(thread.conversation_id))
            pipe.srem(keys.contact_threads(thread.contact_id), key)
            pipe.execute()
        return thread

    def record_inbound(
        self,
        thread: Thread,
        *,
        at: float,
        reply_reference: str | None = None,
        message_id: str = "",
        pipe: Pipeline | None = None,
    ) -> Thread:
        """The customer wrote at `at` (their message `message_id`, the latest unless an older one
        arrived late): their message reopens a closed conversation in Intercom too, so a close
        event older than it no longer applies. Compared with what the thread holds when the write
        lands (`thread` may have been read before an Intercom call, and events change it meanwhile):
        written on `pipe`, when given, to go with the delivery's last writes."""
        updated = with_inbound(thread, at=at, reply_reference=reply_reference, message_id=message_id)
        args = (
            keys.thread(thread.key),
            str(at),
            message_id,
            reply_reference or "",
            ConversationState.OPEN.value,
        )
        if pipe is not None:
            pipe.eval(_RECORD_INBOUND, 1, *args)
        else:
            self._redis.eval(_RECORD_INBOUND, 1, *args)
        return updated

    def record_labelled(self, thread: Thread, *, at: float) -> Thread:
        """The conversation carries its channel attributes and tag: no later message sets them."""
        self._redis.hset(keys.thread(thread.key), "labelled_at", str(at))
        return replace(thread, labelled_at=at)

    def record_routed(self, thread: Thread, assignee: str) -> Thread:
        """The bridge assigned the conversation to `assignee` (`team:501`, `admin:991`)."""
        self._redis.hset(keys.thread(thread.key), "routed_to", assignee)
        return replace(thread, routed_to=assignee)

    def by_conversation(self, conversation_id: str) -> Thread | None:
        """The thread an Intercom conversation carries, or None for a conversation the bridge did
        not open (a Messenger chat, an email)."""
        key = self._redis.get(keys.conversation(conversation_id))
        if key is None:
            return None
        return self.get(key.decode() if isinstance(key, bytes) else str(key))

    def set_state(self, conversation_id: str, state: ConversationState, *, at: float) -> bool:
        """Record that Intercom opened, closed or snoozed the conversation at `at`; an event older
        than the state already known is ignored (webhooks do not arrive in order). False when the
        conversation is not the bridge's or the event was older."""
        thread = self.by_conversation(conversation_id)
        if thread is None or at < thread.state_at:
            return False
        fields: dict[FieldT, EncodableT] = {"state": state.value, "state_at": str(at)}
        if state is ConversationState.CLOSED:
            fields["closed_at"] = str(at)
        self._redis.hset(keys.thread(thread.key), mapping=fields)
        return True


def _from_fields(key: str, data: dict[str, str]) -> Thread:
    values: dict[str, object] = {"key": key}
    for spec in fields(Thread):
        if spec.name == "key" or spec.name not in data:
            continue
        raw = data[spec.name]
        if spec.name == "state":
            values[spec.name] = ConversationState(raw)
        elif spec.type in ("float", float):
            values[spec.name] = float(raw)
        else:
            values[spec.name] = raw
    return Thread(**values)  # type: ignore[arg-type]
