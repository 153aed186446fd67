"""The inbound ledger: every message the bridge accepted, claimed once by the reader of the
stored webhooks (`workers.webhooks`; the web process stored the request itself before it answered,
`bridge.intake.raw`).

`claim` is one atomic Redis step (`bridge.infra.claims`: one script, one round trip) that claims
(provider, provider message id), numbers the message, stores the raw payload and the normalized
message, appends the message to its sender's lane and, when the lane was empty, enqueues its
job. Either all of that happens or none of it: a provider's redelivery of a stored message, or a
reader reading the same webhook again after a crash, meets the claim and creates nothing.

A message that finds its sender's lane busy gets no job of its own: the job of the message ahead
of it delivers it (`bridge.conversations.lanes`), so a customer's burst of messages costs one RQ
job (RQ's bookkeeping was the largest share of a worker's CPU, issue 18). Whatever stops that job
from delivering it gives it a job of its own then: a failure (`workers.failures`, `workers.inbound`),
a message still waiting for its parts, a drain that has run long.

The entry then carries the job's recovery points (`contact_id`, `conversation_id`), so a retried
or replayed job resumes after the last step that reached Intercom instead of repeating it; and,
before each reply it posts into a conversation, what identifies that reply (`posting`): a retry
that finds it without the step recorded looks in the conversation before posting again
(`bridge.conversations.posting`).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

from redis import Redis
from redis.client import Pipeline

from bridge.core.settings import Settings
from bridge.infra import claims, keys
from bridge.infra.claims import Outcome
from bridge.infra.entries import Fields, HashEntries, arrival, timestamp
from bridge.infra.queueing import enqueue_inbound, inbound_queue
from bridge.intercom.models import ContactRef
from bridge.model.messages import InboundMessage

# A failed attempt is recorded only on an entry not delivered yet: another job of the sender's
# lane may have delivered the message while this one waited for the lane or lay dead, and a
# "retrying" written over "delivered" would make the retry post the message again.
_RECORD_FAILURE = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if redis.call('HGET', KEYS[1], 'status') == ARGV[1] then return 0 end
redis.call('HINCRBY', KEYS[1], 'attempts', 1)
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
return 1
"""


class Status(StrEnum):
    QUEUED = "queued"
    RETRYING = "retrying"
    DELIVERED = "delivered"
    FAILED = "failed"


@dataclass(frozen=True)
class RawPayload:
    """What the provider sent, kept for ops (never re-verified: it was verified on arrival).

    `query` is kept because some providers send everything in it (GET callbacks), without the
    `token` parameter: that one is a secret (TextMagic, Africa's Talking). `content_type` is the
    whole header (a multipart body cannot be read again without its boundary) and `method` the
    request's: with them, a replay can parse the payload again after a fix.
    """

    content_type: str
    body: str
    path: str
    query: str = ""
    method: str = "POST"


@dataclass(frozen=True, kw_only=True)
class InboundEntry:
    """A message in the ledger, as its job and ops read it."""

    inbound_id: str
    message: InboundMessage
    status: Status
    seq: int  # its arrival number: orders the ledger
    stored_at: float | None  # when the bridge stored it (None: stored before the ledger kept the time)
    request_id: str | None  # of the webhook that brought it
    raw: RawPayload | None  # what the provider sent, for a replay to parse again
    # The recovery points (module docstring), each None until its step reached Intercom:
    contact: ContactRef | None  # the contact it was matched to
    match: Mapping[str, Any] | None  # how (`bridge.contacts.matching.MatchDecision.to_record`)
    attachments: Mapping[str, Any] | None  # its media as re-served (`Attachments.to_record`)
    conversation_id: str | None  # where it was delivered
    # The reply last about to be posted (`bridge.conversations.posting.Posting.to_record`): it may
    # be in Intercom although no recovery point says so.
    posting: Mapping[str, Any] | None
    error: str | None  # why the last attempt failed
    # Every field as Redis holds it, those this version does not read too: for ops to show
    # (`bridge jobs show`), never to decide on.
    stored: Mapping[str, str]

    @classmethod
    def read(cls, inbound_id: str, fields: Fields) -> InboundEntry:
        contact_id = fields.text("contact_id")
        raw = fields.json("raw")
        return cls(
            inbound_id=inbound_id,
            message=InboundMessage.model_validate_json(fields.values["message"]),
            status=Status(fields.text("status") or Status.QUEUED.value),
            seq=int(fields.number("seq") or 0),
            stored_at=fields.stored_at,
            request_id=fields.request_id,
            raw=RawPayload(**raw) if raw else None,
            contact=ContactRef(contact_id, fields.text("contact_role") or "lead") if contact_id else None,
            match=fields.json("match"),
            attachments=fields.json("attachments"),
            conversation_id=fields.text("conversation_id"),
            posting=fields.json("posting"),
            error=fields.text("error"),
            stored=fields.values,
        )


def inbound_id(provider: str, provider_message_id: str) -> str:
    """The ledger id of a provider's message: stable, and safe as an RQ job id.

    RQ job ids allow only `[A-Za-z0-9_-]`, and WhatsApp's `wamid.HBgL…=` does not fit, so the
    provider's id is hashed.
    """
    digest = hashlib.sha256(f"{provider}\0{provider_message_id}".encode()).hexdigest()[:32]
    return f"{provider}-{digest}"


def fragment_group(message: InboundMessage) -> str:
    """The key of the long SMS a part belongs to (per provider: references are theirs)."""
    assert message.fragment is not None
    return f"{message.provider}:{message.fragment.group}"


class InboundLedger:
    def __init__(self, redis_client: Redis, settings: Settings) -> None:
        self._redis = redis_client
        self._settings = settings
        self._entries = HashEntries(redis_client, settings)
        self._queue = inbound_queue(redis_client)
        self._record_failure = redis_client.register_script(_RECORD_FAILURE)
        # Recovery points that may wait for the entry's next write (`record_contact`), by entry.
        self._with_next: dict[str, dict[str, str]] = {}

    def accept(self, message: InboundMessage, raw: RawPayload) -> Outcome:
        """Store and queue `message` exactly once; a repeat of a stored message is a duplicate."""
        return claims.claim(self._redis, self.claim(message, raw))

    def claim(self, message: InboundMessage, raw: RawPayload) -> claims.Claim:
        """`accept`'s claim, to send with others (`claims.run_batched`)."""
        entry_id = inbound_id(message.provider, message.provider_message_id)
        key = keys.inbound(entry_id)
        fields = {
            "provider": message.provider,
            "status": Status.QUEUED.value,
            "message": message.model_dump_json(),
            "raw": json.dumps(asdict(raw)),
            **arrival(),  # the webhook's request id: the job's log lines carry it too
        }

        def write(pipe: Pipeline) -> None:
            self._entries.store(pipe, key, fields)
            if message.fragment is not None:
                group = keys.fragments(fragment_group(message))
                pipe.hset(group, str(message.fragment.index), entry_id)
                pipe.expire(group, self._entries.ttl)
            pipe.rpush(keys.mailbox(message.sender.lane_key), entry_id)  # last: the guard's answer

        def first_in_lane(pipe: Pipeline) -> None:
            enqueue_inbound(self._queue, entry_id, settings=self._settings, pipeline=pipe)

        return claims.prepare(
            self._redis,
            key,
            write,
            what="the message",
            numbered_by=keys.INBOUND_SEQUENCE,
            guarded=first_in_lane,
        )

    def get(self, entry_id: str) -> InboundEntry | None:
        fields = self._entries.read(keys.inbound(entry_id))
        return InboundEntry.read(entry_id, fields) if fields else None

    def get_after(
        self, entry_id: str, reads: Callable[[Pipeline], None]
    ) -> tuple[list[Any], InboundEntry | None]:
        """`get`, in one round trip after the commands `reads` queues: their answers, and the entry."""
        with self._redis.pipeline(transaction=False) as pipe:
            reads(pipe)
            pipe.hgetall(keys.inbound(entry_id))
            *answers, raw = pipe.execute()
        fields = self._entries.fields_of(raw)
        return answers, (InboundEntry.read(entry_id, fields) if fields else None)

    # Updates go only to an entry that still exists (`HashEntries.update`): an expired entry stays
    # gone. Each recovery point is recorded the moment Intercom answered: the next attempt resumes
    # after it.

    def record_contact(
        self, entry_id: str, contact: ContactRef, match: Mapping[str, Any], *, with_next_write: bool = False
    ) -> None:
        """The contact the message was matched to, and how. `with_next_write`: in the entry's next
        write through this ledger (the reply's intent, say), not one of its own: for a match that
        made no Intercom call (the identity map's), which a retry makes again if it never lands."""
        fields = {"contact_id": contact.id, "contact_role": contact.role, "match": json.dumps(match)}
        if with_next_write:
            self._with_next.setdefault(entry_id, {}).update(fields)
        else:
            self._update(entry_id, **fields)

    def forget_contact(self, entry_id: str) -> None:
        """The recorded contact no longer exists in Intercom: the next attempt matches afresh."""
        self._update(entry_id, contact_id="", contact_role="", match="")

    def record_attachments(self, entry_id: str, attachments: Mapping[str, Any]) -> None:
        """The message's media as re-served (`Attachments.to_record`): not fetched again."""
        self._update(entry_id, attachments=json.dumps(attachments))

    def record_posting(self, entry_id: str, posting: Mapping[str, Any]) -> None:
        """The reply about to be posted (`Posting.to_record`), before the call: one write."""
        self._update(entry_id, posting=json.dumps(posting))

    def mark_delivered(self, entry_id: str, conversation_id: str, *, at: float) -> None:
        """Delivered into `conversation_id` at `at`: a retry or a replay does nothing more."""
        self._update(entry_id, **_delivered(conversation_id, at))

    def queue_delivered(self, pipe: Pipeline, entry_id: str, conversation_id: str, *, at: float) -> None:
        """`mark_delivered`, queued on `pipe`: the delivery sends it with the lane's leave."""
        fields = {**self._with_next.pop(entry_id, {}), **_delivered(conversation_id, at)}
        self._entries.queue_update(pipe, keys.inbound(entry_id), fields)

    def requeue(self, entry_id: str) -> None:
        """Queued again (a replay), its recovery points kept."""
        self._update(entry_id, status=Status.QUEUED.value)

    def replace_message(self, entry_id: str, message: InboundMessage) -> None:
        """The message as the stored payload parses now (a replay after a fix)."""
        self._update(entry_id, message=message.model_dump_json())

    def record_failure(self, entry_id: str, *, status: Status, reason: str) -> bool:
        """Count a failed delivery attempt and say why, as `status` (retrying, or failed for good),
        unless the message is delivered (see `_RECORD_FAILURE`) or gone; False when so."""
        fields = {"status": status.value, "error": reason, "failed_at": timestamp(time.time())}
        flat = [item for pair in fields.items() for item in pair]
        recorded = self._record_failure(keys=[keys.inbound(entry_id)], args=[Status.DELIVERED.value, *flat])
        return bool(recorded)

    def _update(self, entry_id: str, **fields: str) -> None:
        self._entries.update(keys.inbound(entry_id), {**self._with_next.pop(entry_id, {}), **fields})


def _delivered(conversation_id: str, at: float) -> dict[str, str]:
    return {
        "status": Status.DELIVERED.value,
        "conversation_id": conversation_id,
        "delivered_at": timestamp(at),
        "error": "",
    }
